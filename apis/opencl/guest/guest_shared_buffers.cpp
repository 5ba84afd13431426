// Buffers over storage shared with the server (the server side, and why, is server/server_shared_buffers.cpp).
//
// clCreateBuffer of at least kSharedMinBytes, on a session with a region link (shm), asks for shared
// storage; when the server's device keeps buffers in host memory it creates the buffer over a shared
// region and passes the region here. Blocking clEnqueueWriteBuffer / ReadBuffer and clEnqueueMapBuffer
// on such a buffer (transfer.cpp, map.cpp) then ask the server only to order the access
// (remora_clEnqueueSharedAccess) and move the bytes with one memcpy here, or none for a map: what the
// native application pays on that device. Whatever this path does not cover (non-blocking transfers,
// calls that want an event, invalid arguments) takes the ordinary path, unchanged.
//
// A non-blocking write or read without an event is done the same way when the commands it must follow
// are complete within about a millisecond (an OpenCL implementation may complete a non-blocking
// transfer before returning); otherwise it is queued the ordinary way.
//
// REMORA_SHARED_BUFFERS=0 turns it off; REMORA_SHARED_BUFFER_MIN_BYTES sets the threshold (tests use 1
// to share every buffer).
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/log.h"
#include "guest_glue.h"

namespace glue = remora::opencl::guest_glue;

namespace {

// Creating a region costs a memfd, two mappings and a descriptor passed (tens of microseconds); a
// small buffer's transfers gain less than that.
constexpr size_t kSharedMinBytes = size_t{1} << 20;
// A non-blocking transfer may be done at once, as a blocking one, when what it has to wait for is
// complete within this long (typically: an idle queue). Longer, and it is queued the ordinary way, so
// that a non-blocking call never waits on, say, a user event the application sets afterwards.
constexpr std::chrono::microseconds kNonBlockingWait{1000};
// How long the guest waits for a region's descriptor after the server said it sent it.
constexpr auto kRegionReceiveTimeout = std::chrono::seconds(10);

struct Settings {
  bool enabled = true;
  size_t min_bytes = kSharedMinBytes;
};

const Settings& settings() {
  static const Settings s = [] {
    Settings r;
    if (const char* v = std::getenv("REMORA_SHARED_BUFFERS"); v != nullptr && std::strcmp(v, "0") == 0)
      r.enabled = false;
    if (const char* v = std::getenv("REMORA_SHARED_BUFFER_MIN_BYTES"); v != nullptr && *v != '\0') {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(v, &end, 10);
      if (end != nullptr && *end == '\0' && n > 0)
        r.min_bytes = static_cast<size_t>(n);
      else
        remora::log::warn("ignoring REMORA_SHARED_BUFFER_MIN_BYTES={}: not a positive number", v);
    }
    return r;
  }();
  return s;
}

// Host-access restrictions make transfers and maps errors; those stay with the vendor.
constexpr cl_mem_flags kHostAccessFlags = CL_MEM_HOST_WRITE_ONLY | CL_MEM_HOST_READ_ONLY | CL_MEM_HOST_NO_ACCESS;

}  // namespace

namespace remora::opencl::guest_glue {

bool shared_buffer_wanted(cl_mem_flags flags, size_t size) {
  const Settings& s = settings();
  if (!s.enabled || size < s.min_bytes || (flags & (CL_MEM_USE_HOST_PTR | kHostAccessFlags)) != 0) return false;
  if (glue_state().shared_broken.load(std::memory_order_relaxed)) return false;
  remora::guest::Runtime& rt = remora_opencl_runtime();
  return rt.ensure_connected().ok() && rt.regions() != nullptr;
}

cl_mem create_shared_buffer(cl_context context, cl_mem_flags flags, size_t size, void* host_ptr,
                            cl_int* errcode_ret, MemRecord* record) {
  GlueState& g = glue_state();
  remora::guest::Runtime& rt = remora_opencl_runtime();
  std::lock_guard lock(g.shared_create_mu);
  cl_ulong region_bytes = 0;
  cl_mem mem = remora_remote_remora_clCreateBufferShared(context, flags, size, host_ptr, &region_bytes, errcode_ret);
  if (mem == nullptr || region_bytes == 0) return mem;  // an ordinary buffer (or the vendor's error)
  remora::transport::Fd fd;
  uint64_t bytes = 0;
  remora::Status st = rt.regions()->receive_region(&fd, &bytes, remora::transport::after(kRegionReceiveTimeout));
  if (st.ok() && (bytes != region_bytes || bytes < uint64_t{size} + REMORA_CL_SHARED_STORAGE_OFFSET))
    st = remora::Status(remora::Code::kMalformed, "region of an unexpected size");
  std::unique_ptr<remora::transport::SharedRegion> mapping;
  // Pages are allocated where the buffer is used, as a native buffer's would be: populating would
  // commit the whole buffer at creation.
  if (st.ok()) st = remora::transport::map_shared_region(fd, bytes, &mapping, remora::transport::Populate::kOnTouch);
  if (!st.ok()) {
    // The buffer itself is fine (its storage is the server's); only this process cannot reach it, and
    // the link may be out of step, so no more buffers are shared in this process.
    g.shared_broken.store(true, std::memory_order_relaxed);
    remora::log::error("cannot map a buffer's shared storage ({}); buffers are no longer shared", st.message());
    return mem;
  }
  remora::log::debug("buffer of {} bytes: storage shared with the server", size);
  record->shared = mapping->base() + REMORA_CL_SHARED_STORAGE_OFFSET;
  record->shared_size = size;
  record->shared_region = std::move(mapping);
  return mem;
}

void share_parent_storage(const MemRecord& parent, size_t origin, size_t size, MemRecord* sub) {
  if (parent.shared == nullptr || origin > parent.shared_size || size > parent.shared_size - origin) return;
  sub->shared_region = parent.shared_region;
  sub->shared = parent.shared + origin;
  sub->shared_size = size;
}

uint8_t* shared_range(const MemRecord& record, size_t offset, size_t size) {
  if (record.shared == nullptr || size == 0 || offset > record.shared_size || size > record.shared_size - offset ||
      (record.app_flags & kHostAccessFlags) != 0)
    return nullptr;
  return record.shared + offset;
}

uint8_t* shared_access(cl_command_queue queue, cl_mem buffer, const MemRecord& record, size_t offset, size_t size,
                       bool blocking, cl_uint num_events, const cl_event* wait_list, const char* what,
                       cl_int* status) {
  uint8_t* at = shared_range(record, offset, size);
  if (at == nullptr) return nullptr;
  const cl_uint wait_us = blocking ? 0 : static_cast<cl_uint>(kNonBlockingWait.count());
  if (remora_remote_remora_clEnqueueSharedAccess(queue, buffer, wait_us, num_events, wait_list) != CL_SUCCESS)
    return nullptr;
  *status = earlier_async_status(what);
  return at;
}

cl_int earlier_async_status(const char* what) {
  remora::guest::Runtime& rt = remora_opencl_runtime();
  uint32_t op = 0;
  int64_t value = 0;
  if (!rt.take_async_error(&op, &value)) return CL_SUCCESS;
  rt.log_error(std::string(what) + ": reporting the failure of an earlier asynchronous " + rt.opcode_name(op) + ": " +
               std::to_string(value));
  return static_cast<cl_int>(value);
}

}  // namespace remora::opencl::guest_glue
