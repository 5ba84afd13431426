// clEnqueueWriteBuffer / clEnqueueReadBuffer: transfers of buffers over shared storage are a memcpy
// here (shared_buffers.cpp: blocking ones always, non-blocking ones when the queue lets them complete
// at once); other large blocking transfers go direct where they can.
//
// The ordinary call carries the data in the message (through shared memory: the application's memory
// is copied into the bulk area and the vendor copies it again; a read the same the other way), which
// is two copies where the application natively pays one. When the server runs on this host and may
// read and write this process's memory, a blocking transfer of at least kDirectMinBytes is sent as
// remora_clEnqueueWriteBufferDirect / ReadBufferDirect instead: only the address travels, and the
// server copies between this memory and the mapped buffer itself (server/direct.cpp). Whenever that
// does not succeed the ordinary call follows, so errors, and anything the direct path does not cover,
// behave exactly as before. Not direct: non-blocking transfers (the application may go on while the
// command waits in the queue), calls that ask for an event (its command type and profiling times would
// be the map's), and small transfers (the map and unmap cost more than the copy saved).
//
// REMORA_DIRECT_TRANSFERS=0 turns it off (for comparison, or to keep the PR_SET_PTRACER below).
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/log.h"
#include "guest_glue.h"

namespace glue = remora::opencl::guest_glue;

namespace {

// Below this the two extra vendor commands (map, unmap) and their waits cost about what the saved
// copies do on a CPU device: at 256 KiB the two paths were within the (large) noise of a loaded
// 2-core machine, at 1 MiB and above direct won by about 2x (BENCHMARKS.md).
constexpr size_t kDirectMinBytes = size_t{1} << 20;

// Yama's ptrace_scope: 0 classic, 1 restricted (a process names its tracer), 2 admin-only, 3 none;
// -1 when the kernel has no Yama.
int yama_ptrace_scope() {
  FILE* f = std::fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
  if (f == nullptr) return -1;
  int scope = -1;
  if (std::fscanf(f, "%d", &scope) != 1) scope = -1;
  std::fclose(f);
  return scope;
}

// Whether this process tries direct transfers at all; called once, after connecting.
bool decide_direct(remora::guest::Runtime& rt) {
  if (const char* v = std::getenv("REMORA_DIRECT_TRANSFERS"); v != nullptr && std::strcmp(v, "0") == 0) return false;
  // TCP may cross hosts; the server would say so, but not asking saves a round trip.
  if (rt.options().transport == remora::transport::TransportKind::kTcp) return false;
  const int scope = yama_ptrace_scope();
  if (scope >= 2) return false;
  if (scope == 1) {
    // Yama lets only ancestors trace a process unless it names its tracer; the session process is
    // not an ancestor. This replaces a tracer the application itself may have named (a crash
    // handler); REMORA_DIRECT_TRANSFERS=0 leaves it alone.
    const int32_t server = rt.server_pid();
    if (server <= 0 || ::prctl(PR_SET_PTRACER, static_cast<unsigned long>(server), 0, 0, 0) != 0) return false;
  }
  return true;
}

bool want_direct(cl_bool blocking, const void* ptr, size_t size, const cl_event* event) {
  if (!blocking || ptr == nullptr || event != nullptr || size < kDirectMinBytes) return false;
  glue::GlueState& g = glue::glue_state();
  remora::guest::Runtime& rt = remora_opencl_runtime();
  if (!rt.ensure_connected().ok()) return false;  // the ordinary call reports it
  std::call_once(g.direct_decided, [&] { g.direct.store(decide_direct(rt), std::memory_order_relaxed); });
  return g.direct.load(std::memory_order_relaxed);
}

// The result of a direct call: true when it did the transfer (`ret` CL_SUCCESS), false to send the
// ordinary call (which transfers and reports errors as before). On success *status is what the
// blocking enqueue returns: CL_SUCCESS, or the failure of an earlier asynchronous call, reported here
// as at every synchronisation point (the direct calls are not REMORA_BLOCKING, see opencl.spec.c).
bool direct_done(cl_int ret, const char* what, cl_int* status) {
  if (ret == CL_SUCCESS) {
    *status = glue::earlier_async_status(what);
    return true;
  }
  if (ret == REMORA_CL_DIRECT_UNAVAILABLE) {
    glue::GlueState& g = glue::glue_state();
    if (g.direct.exchange(false, std::memory_order_relaxed))
      remora::log::info("direct transfers are not available from this server; sending data through the transport");
  }
  return false;
}

cl_ulong address_of(const void* p) { return static_cast<cl_ulong>(reinterpret_cast<uintptr_t>(p)); }

// Where a transfer between `ptr` and `buffer` can be the guest's own memcpy (shared storage,
// shared_buffers.cpp): the storage at `offset`, once the transfer's ordering is done; else nullptr.
// Not when the application asks for an event (its command type and profiling times would be a
// marker's).
uint8_t* shared_target(cl_command_queue queue, cl_mem buffer, cl_bool blocking, size_t offset, size_t size,
                       const void* ptr, cl_uint num_events, const cl_event* wait_list, const cl_event* event,
                       const char* what, cl_int* status) {
  if (ptr == nullptr || event != nullptr) return nullptr;
  const glue::MemRecord* r = glue::mem_record(buffer);
  if (r == nullptr) return nullptr;
  return glue::shared_access(queue, buffer, *r, offset, size, blocking != CL_FALSE, num_events, wait_list, what,
                             status);
}

}  // namespace

extern "C" {

cl_int remora_cl_enqueue_write_buffer(cl_command_queue command_queue, cl_mem buffer, cl_bool blocking_write,
                                      size_t offset, size_t size, const void* ptr, cl_uint num_events_in_wait_list,
                                      const cl_event* event_wait_list, cl_event* event) {
  cl_int status = CL_SUCCESS;
  if (uint8_t* at = shared_target(command_queue, buffer, blocking_write, offset, size, ptr, num_events_in_wait_list,
                                  event_wait_list, event, "clEnqueueWriteBuffer", &status)) {
    std::memmove(at, ptr, size);  // memmove: ptr may be a mapping of this very buffer
    return status;
  }
  if (want_direct(blocking_write, ptr, size, event) &&
      direct_done(remora_remote_remora_clEnqueueWriteBufferDirect(command_queue, buffer, offset, size, address_of(ptr),
                                                                  ::getpid(), num_events_in_wait_list,
                                                                  event_wait_list),
                  "clEnqueueWriteBuffer", &status))
    return status;
  return remora_remote_clEnqueueWriteBuffer(command_queue, buffer, blocking_write, offset, size, ptr,
                                            num_events_in_wait_list, event_wait_list, event);
}

cl_int remora_cl_enqueue_read_buffer(cl_command_queue command_queue, cl_mem buffer, cl_bool blocking_read,
                                     size_t offset, size_t size, void* ptr, cl_uint num_events_in_wait_list,
                                     const cl_event* event_wait_list, cl_event* event) {
  cl_int status = CL_SUCCESS;
  if (uint8_t* at = shared_target(command_queue, buffer, blocking_read, offset, size, ptr, num_events_in_wait_list,
                                  event_wait_list, event, "clEnqueueReadBuffer", &status)) {
    std::memmove(ptr, at, size);
    return status;
  }
  if (want_direct(blocking_read, ptr, size, event) &&
      direct_done(remora_remote_remora_clEnqueueReadBufferDirect(command_queue, buffer, offset, size, address_of(ptr),
                                                                 ::getpid(), num_events_in_wait_list,
                                                                 event_wait_list),
                  "clEnqueueReadBuffer", &status))
    return status;
  return remora_remote_clEnqueueReadBuffer(command_queue, buffer, blocking_read, offset, size, ptr,
                                           num_events_in_wait_list, event_wait_list, event);
}

}  // extern "C"
