// Server side of direct transfers (remora_clEnqueueWriteBufferDirect / ReadBufferDirect in
// opencl.spec.c; the guest side is guest/transfer.cpp).
//
// A blocking write natively costs one copy, from the application's memory into the buffer. Through the
// shm transport it costs two (into the bulk area, then the vendor's copy out of it), which halves the
// bandwidth of a memory-bound device. Here the server maps the buffer region (a blocking map with the
// call's wait list, so it runs exactly where the write would have in the queue's order), copies between
// the mapping and the application's memory with process_vm_readv/writev (server/peer_memory.h), and
// unmaps, waiting for the unmap so that the buffer is as a completed blocking transfer leaves it before
// the guest returns (another queue, or an out-of-order one, may use it next). On PoCL's CPU device a
// map is the buffer's own memory: one copy in all.
//
// Anything but complete success is reported so that the guest sends the ordinary call: a map error
// (bad range, host-access flags, a failed event in the wait list) is then reported by the vendor's
// own clEnqueueWriteBuffer/ReadBuffer with its native value. The map has no effect once it failed; a
// write whose application memory turned out unreadable part way leaves the region undefined, which the
// ordinary call then overwrites (or the application's own copy faults, as it would natively).
#include <cstdint>

#include "common/log.h"
#include "spec_helpers.h"
#include "opencl_server.h"  // generated
#include "server/session.h"

using remora::opencl::vendor;
using remora::server::PeerMemory;

namespace {

// The session's PeerMemory when this call may use it, else nullptr with *why set to what to answer.
PeerMemory* peer_for(remora::server::Call& c, cl_long pid, cl_int* why) {
  PeerMemory& peer = c.session.peer_memory();
  if (!peer.usable_for(pid)) {
    *why = REMORA_CL_DIRECT_UNAVAILABLE;
    return nullptr;
  }
  // The spec cannot mark these calls REMORA_BLOCKING (see opencl.spec.c), so do what it would.
  c.about_to_block();
  return &peer;
}

// Unmaps and waits for the unmap to complete. CL_SUCCESS or the vendor's error.
cl_int unmap_and_wait(cl_command_queue queue, cl_mem buffer, void* mapped) {
  cl_event done = nullptr;
  cl_int err = vendor().clEnqueueUnmapMemObject(queue, buffer, mapped, 0, nullptr, &done);
  if (err != CL_SUCCESS) return err;
  err = vendor().clWaitForEvents(1, &done);
  vendor().clReleaseEvent(done);
  return err;
}

cl_int direct(remora::server::Call& c, cl_command_queue queue, cl_mem buffer, size_t offset, size_t size, cl_ulong address, cl_long pid,
              cl_uint num_events, const cl_event* wait_list, bool to_buffer) {
  cl_int why = REMORA_CL_DIRECT_RETRY;
  PeerMemory* peer = peer_for(c, pid, &why);
  if (peer == nullptr) return why;
  // The vendor validates queue, buffer, range, host-access flags and wait list here; `size` is then
  // the length of a mapping the vendor made, so the copy below stays inside the buffer.
  cl_int err = CL_SUCCESS;
  void* mapped = vendor().clEnqueueMapBuffer(queue, buffer, CL_TRUE,
                                             to_buffer ? CL_MAP_WRITE_INVALIDATE_REGION : CL_MAP_READ, offset,
                                             size, num_events, wait_list, nullptr, &err);
  if (err != CL_SUCCESS || mapped == nullptr) return REMORA_CL_DIRECT_RETRY;
  const PeerMemory::Result copied = to_buffer ? peer->read(address, mapped, size) : peer->write(address, mapped, size);
  err = unmap_and_wait(queue, buffer, mapped);
  if (err != CL_SUCCESS) {
    // The ordinary call that follows transfers the same bytes again and reports what the vendor says.
    remora::log::warn("direct transfer: unmapping the buffer failed ({})", err);
    return REMORA_CL_DIRECT_RETRY;
  }
  switch (copied) {
    case PeerMemory::Result::kDone: return CL_SUCCESS;
    case PeerMemory::Result::kUnavailable: return REMORA_CL_DIRECT_UNAVAILABLE;
    case PeerMemory::Result::kFault: return REMORA_CL_DIRECT_RETRY;
  }
  return REMORA_CL_DIRECT_RETRY;
}

}  // namespace

// REMORA_SERVER hooks (declared by the generated opencl_server.h; the map, unmap and wait functions are
// their REMORA_REQUIRES).

cl_int remora_cl_server_write_buffer_direct(remora::server::Call& c, cl_command_queue command_queue, cl_mem buffer,
                                            size_t offset, size_t size, cl_ulong address, cl_long pid,
                                            cl_uint num_events_in_wait_list, const cl_event* event_wait_list) {
  return direct(c, command_queue, buffer, offset, size, address, pid, num_events_in_wait_list, event_wait_list,
                /*to_buffer=*/true);
}

cl_int remora_cl_server_read_buffer_direct(remora::server::Call& c, cl_command_queue command_queue, cl_mem buffer,
                                           size_t offset, size_t size, cl_ulong address, cl_long pid,
                                           cl_uint num_events_in_wait_list, const cl_event* event_wait_list) {
  return direct(c, command_queue, buffer, offset, size, address, pid, num_events_in_wait_list, event_wait_list,
                /*to_buffer=*/false);
}
