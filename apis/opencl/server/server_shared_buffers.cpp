// Server side of shared buffer storage (remora_clCreateBufferShared / remora_clEnqueueSharedAccess in
// opencl.spec.c; the guest side is guest/guest_shared_buffers.cpp).
//
// A blocking write natively costs one memcpy, from the application's memory into the buffer. Through
// remora it costs at least one copy across processes (the direct path's process_vm_readv runs at about
// half of memcpy's speed on a VM, BENCHMARKS.md) or two through the bulk area. For a device that
// keeps buffers in host memory anyway (PoCL's CPU device), remora can instead give the buffer storage
// that both processes map: a shared region (transport/shared_region.h) on which the vendor's buffer is
// created with CL_MEM_USE_HOST_PTR. The guest then writes, reads and maps the buffer with its own
// memcpy, or none at all for a map, after asking the server to order the access
// (remora_cl_server_shared_access): exactly what a native application pays on that device.
//
// Which devices qualify is probed, once per device per session: a device that reports unified host
// memory, on which a write through the API is seen in the host memory a USE_HOST_PTR buffer was created
// on, and a change made there is seen by a read through the API, without any map. A device with its
// own memory (a GPU) fails the probe and its buffers stay ordinary ones.
//
// Trust: the server creates and seals each region (a guest cannot shrink it under the vendor); the
// guest may change the bytes at any time, as it may change any buffer's contents through the API, and
// nothing on the server interprets them. A region holds one buffer of one session only.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"
#include "spec_helpers.h"
#include "opencl_server.h"  // generated
#include "server/session.h"
#include "transport/shared_region.h"

using remora::opencl::vendor;

namespace {

constexpr size_t kProbeBytes = 4096;

// Owned by a shared buffer's destructor callback: the server's mapping of its storage.
struct RegionOwner {
  std::unique_ptr<remora::transport::SharedRegion> mapping;
};

void CL_CALLBACK free_region(cl_mem, void* user_data) { delete static_cast<RegionOwner*>(user_data); }

bool vendor_has_shared_buffers() {
  const auto& v = vendor();
  return v.clCreateBuffer != nullptr && v.clSetMemObjectDestructorCallback != nullptr &&
         v.clGetContextInfo != nullptr && v.clGetDeviceInfo != nullptr && v.clFinish != nullptr &&
         v.clWaitForEvents != nullptr && v.clGetEventInfo != nullptr && v.clGetMemObjectInfo != nullptr && v.clGetCommandQueueInfo != nullptr &&
         v.clCreateCommandQueue != nullptr && v.clReleaseEvent != nullptr && v.clEnqueueWriteBuffer != nullptr && v.clEnqueueReadBuffer != nullptr;
}

bool all_bytes(const unsigned char* p, size_t n, unsigned char value) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != value) return false;
  return true;
}

// Whether `device` (in `context`) keeps a USE_HOST_PTR buffer in the host memory it was created on.
bool probe_device(cl_context context, cl_device_id device) {
  cl_bool unified = CL_FALSE;
  if (vendor().clGetDeviceInfo(device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof(unified), &unified, nullptr) !=
          CL_SUCCESS ||
      unified != CL_TRUE)
    return false;
  std::unique_ptr<unsigned char, decltype(&std::free)> storage(
      static_cast<unsigned char*>(std::aligned_alloc(4096, 2 * kProbeBytes)), &std::free);
  if (storage == nullptr) return false;
  // At the offset real buffers use, so that a vendor that copies less aligned host memory fails here.
  unsigned char* host = storage.get() + REMORA_CL_SHARED_STORAGE_OFFSET;
  std::memset(host, 0x11, kProbeBytes);
  cl_int err = CL_SUCCESS;
  cl_mem buffer = vendor().clCreateBuffer(context, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, kProbeBytes, host, &err);
  if (buffer == nullptr) return false;
  bool ok = false;
  // clCreateCommandQueue is deprecated but in every 1.2+ vendor library; a default in-order queue.
  cl_command_queue queue = vendor().clCreateCommandQueue(context, device, 0, &err);
  if (queue != nullptr) {
    std::vector<unsigned char> pattern(kProbeBytes, 0x5a);
    ok = vendor().clEnqueueWriteBuffer(queue, buffer, CL_TRUE, 0, kProbeBytes, pattern.data(), 0, nullptr,
                                       nullptr) == CL_SUCCESS &&
         all_bytes(host, kProbeBytes, 0x5a);
    if (ok) {
      std::memset(host, 0xa5, kProbeBytes);
      ok = vendor().clEnqueueReadBuffer(queue, buffer, CL_TRUE, 0, kProbeBytes, pattern.data(), 0, nullptr,
                                        nullptr) == CL_SUCCESS &&
           all_bytes(pattern.data(), kProbeBytes, 0xa5);
    }
    vendor().clReleaseCommandQueue(queue);
  }
  vendor().clReleaseMemObject(buffer);
  return ok;
}

// Whether every device of `context` qualifies (probe results are kept per device for the session).
bool context_keeps_host_memory(cl_context context) {
  static std::mutex mu;
  static std::map<cl_device_id, bool> probed;  // guarded by mu; a session process serves one guest
  size_t bytes = 0;
  if (vendor().clGetContextInfo(context, CL_CONTEXT_DEVICES, 0, nullptr, &bytes) != CL_SUCCESS || bytes == 0)
    return false;
  std::vector<cl_device_id> devices(bytes / sizeof(cl_device_id));
  if (vendor().clGetContextInfo(context, CL_CONTEXT_DEVICES, bytes, devices.data(), nullptr) != CL_SUCCESS)
    return false;
  std::lock_guard lock(mu);
  for (cl_device_id d : devices) {
    auto it = probed.find(d);
    if (it == probed.end()) {
      it = probed.emplace(d, probe_device(context, d)).first;
      remora::log::debug("device {}: buffer storage {} with the guest", static_cast<void*>(d),
                         it->second ? "can be shared" : "cannot be shared");
    }
    if (!it->second) return false;
  }
  return true;
}

// The bounded wait of a non-blocking transfer: CL_SUCCESS once what the transfer would wait for (an
// in-order queue's earlier commands, through a marker, and the wait list) is complete, or
// REMORA_CL_DIRECT_RETRY when that takes longer than `limit` or fails.
cl_int complete_within(cl_command_queue queue, bool in_order, cl_uint n, const cl_event* wait_list,
                       std::chrono::microseconds limit) {
  std::vector<cl_event> pending;
  cl_event marker = nullptr;
  if (in_order) {
    if (vendor().clEnqueueMarkerWithWaitList == nullptr || vendor().clFlush == nullptr ||
        vendor().clEnqueueMarkerWithWaitList(queue, n, wait_list, &marker) != CL_SUCCESS || marker == nullptr)
      return REMORA_CL_DIRECT_RETRY;
    (void)vendor().clFlush(queue);
    pending.push_back(marker);
  } else {
    pending.assign(wait_list, wait_list + n);
  }
  const auto deadline = std::chrono::steady_clock::now() + limit;
  cl_int result = REMORA_CL_DIRECT_RETRY;
  for (unsigned spins = 0;; ++spins) {
    bool all_done = true, failed = false;
    for (cl_event e : pending) {
      const cl_int st = remora_opencl_server_event_status(e);
      if (st < 0) failed = true;
      if (st != CL_COMPLETE) all_done = false;
    }
    if (failed) break;
    if (all_done) {
      result = CL_SUCCESS;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    // Commands on an idle queue complete within microseconds: poll, then give the core away.
    if (spins >= 64) std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  if (marker != nullptr) vendor().clReleaseEvent(marker);
  return result;
}

// The buffer over a fresh shared region (sent to the guest), or nullptr when this buffer cannot be
// shared, with nothing left behind: the caller then creates an ordinary one.
cl_mem create_over_region(remora::transport::RegionLink* link, cl_context context, cl_mem_flags flags, size_t size,
                          const void* host_ptr, cl_ulong* region_bytes) {
  remora::transport::Fd fd;
  std::unique_ptr<remora::transport::SharedRegion> mapping;
  if (remora::Status st = remora::transport::create_shared_region(size + REMORA_CL_SHARED_STORAGE_OFFSET, &fd, &mapping);
      !st.ok()) {
    remora::log::warn("cannot create shared storage of {} bytes for a buffer: {}", size, st.message());
    return nullptr;
  }
  uint8_t* storage = mapping->base() + REMORA_CL_SHARED_STORAGE_OFFSET;
  if ((flags & CL_MEM_COPY_HOST_PTR) != 0) std::memcpy(storage, host_ptr, size);
  const cl_mem_flags storage_flags =
      (flags & ~cl_mem_flags{CL_MEM_COPY_HOST_PTR | CL_MEM_ALLOC_HOST_PTR}) | CL_MEM_USE_HOST_PTR;
  cl_int err = CL_SUCCESS;
  cl_mem buffer = vendor().clCreateBuffer(context, storage_flags, size, storage, &err);
  if (buffer == nullptr) return nullptr;
  auto owner = std::make_unique<RegionOwner>();
  owner->mapping = std::move(mapping);
  if (vendor().clSetMemObjectDestructorCallback(buffer, free_region, owner.get()) != CL_SUCCESS) {
    vendor().clReleaseMemObject(buffer);  // the mapping goes with `owner`, after the vendor let go
    return nullptr;
  }
  const uint64_t bytes = owner->mapping->size();
  owner.release();  // free_region owns it now
  // The descriptor goes before the reply: the guest receives it once the call returned a size. If the
  // link failed the guest is gone or going; the buffer is still a valid ordinary one.
  if (remora::Status st = link->send_region(fd.get(), bytes); !st.ok()) {
    remora::log::warn("cannot pass a buffer's shared storage to the guest: {}", st.message());
    return buffer;
  }
  *region_bytes = bytes;
  return buffer;
}

}  // namespace

// REMORA_SERVER hooks (declared by the generated opencl_server.h). CL_MEM_USE_HOST_PTR from the guest
// is refused before (REMORA_CHECK in opencl.spec.c, as for clCreateBuffer); the shared path is taken
// where the vendor has what it needs (vendor_has_shared_buffers), the ordinary one otherwise.

cl_mem remora_cl_server_create_buffer_shared(remora::server::Call& c, cl_context context, cl_mem_flags flags,
                                             size_t size, void* host_ptr, cl_ulong* region_bytes,
                                             cl_int* errcode_ret) {
  if (region_bytes != nullptr) *region_bytes = 0;
  remora::transport::RegionLink* link = c.session.regions();
  const bool copies = (flags & CL_MEM_COPY_HOST_PTR) != 0;
  // Anything unusual (no link, no size, COPY without data or data without COPY, a vendor without the entry points) is left
  // to the ordinary creation below, which also gives every error its native value.
  if (link != nullptr && region_bytes != nullptr && size != 0 && size <= remora::transport::kMaxSharedRegionBytes - REMORA_CL_SHARED_STORAGE_OFFSET &&
      copies == (host_ptr != nullptr) && vendor_has_shared_buffers() && context_keeps_host_memory(context)) {
    if (cl_mem buffer = create_over_region(link, context, flags, size, host_ptr, region_bytes)) {
      if (errcode_ret != nullptr) *errcode_ret = CL_SUCCESS;
      return buffer;
    }
  }
  return vendor().clCreateBuffer(context, flags, size, host_ptr, errcode_ret);
}

cl_int remora_cl_server_shared_access(remora::server::Call& c, cl_command_queue command_queue, cl_mem buffer,
                                      cl_uint wait_us, cl_uint num_events_in_wait_list,
                                      const cl_event* event_wait_list) {
  if (command_queue == nullptr || buffer == nullptr || !vendor_has_shared_buffers())
    return REMORA_CL_DIRECT_RETRY;
  cl_context queue_context = nullptr, buffer_context = nullptr;
  cl_command_queue_properties properties = 0;
  cl_mem_flags flags = 0;
  if (vendor().clGetCommandQueueInfo(command_queue, CL_QUEUE_CONTEXT, sizeof(queue_context), &queue_context,
                                     nullptr) != CL_SUCCESS ||
      vendor().clGetCommandQueueInfo(command_queue, CL_QUEUE_PROPERTIES, sizeof(properties), &properties,
                                     nullptr) != CL_SUCCESS ||
      vendor().clGetMemObjectInfo(buffer, CL_MEM_CONTEXT, sizeof(buffer_context), &buffer_context, nullptr) !=
          CL_SUCCESS ||
      vendor().clGetMemObjectInfo(buffer, CL_MEM_FLAGS, sizeof(flags), &flags, nullptr) != CL_SUCCESS)
    return REMORA_CL_DIRECT_RETRY;
  // Only buffers over storage the guest maps (created above, or sub-buffers of those) have
  // USE_HOST_PTR on the server; a guest asking for another gains an ordering and nothing else.
  if (queue_context != buffer_context || (flags & CL_MEM_USE_HOST_PTR) == 0) return REMORA_CL_DIRECT_RETRY;
  // A wait-list event of another context is the vendor's CL_INVALID_CONTEXT, reported by the ordinary call.
  for (cl_uint i = 0; i < num_events_in_wait_list; ++i) {
    cl_context event_context = nullptr;
    if (event_wait_list == nullptr ||
        vendor().clGetEventInfo(event_wait_list[i], CL_EVENT_CONTEXT, sizeof(event_context), &event_context,
                                nullptr) != CL_SUCCESS ||
        event_context != queue_context)
      return REMORA_CL_DIRECT_RETRY;
  }
  c.about_to_block();
  const bool in_order = (properties & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) == 0;
  if (wait_us != 0)
    return complete_within(command_queue, in_order, num_events_in_wait_list, event_wait_list,
                           std::chrono::microseconds(wait_us));
  // What a blocking transfer waits for: everything queued before it on an in-order queue, and its
  // wait list. (An out-of-order queue orders only by the wait list.)
  if (in_order && vendor().clFinish(command_queue) != CL_SUCCESS) return REMORA_CL_DIRECT_RETRY;
  if (num_events_in_wait_list > 0 &&
      vendor().clWaitForEvents(num_events_in_wait_list, event_wait_list) != CL_SUCCESS)
    return REMORA_CL_DIRECT_RETRY;
  return CL_SUCCESS;
}
