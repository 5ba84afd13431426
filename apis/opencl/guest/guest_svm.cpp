// Coarse-grained buffer SVM, implemented in the guest (the server side is server/server_svm.cpp).
//
// The application and the server are different processes, so an SVM pointer cannot mean the same
// memory in both. clSVMAlloc allocates on the server (which wraps the allocation in a buffer of this
// session, remora_clSVMAllocBuffer) and hands the application a guest mirror of the same size. That is
// exactly the coarse-grained contract: kernels see the server copy; the host may touch the mirror only
// between clEnqueueSVMMap (which reads the server's bytes into it, unless the map invalidates) and
// clEnqueueSVMUnmap (which writes them back when mapped for writing). Every other SVM command becomes
// a buffer command on the allocation's buffer, and SVM kernel arguments are sent as (buffer, offset):
// any address inside an allocation works, as natively.
//
// Limits, each failing clearly: fine-grained and atomic SVM are refused (CL_DEVICE_SVM_CAPABILITIES
// offers neither); clEnqueueSVMFree with a free callback returns CL_INVALID_OPERATION; the events of
// clEnqueueSVMFree report CL_COMMAND_MARKER and those of the other commands the buffer command's type.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/log.h"
#include "guest_glue.h"

namespace glue = remora::opencl::guest_glue;

namespace {

constexpr size_t kMirrorAlignment = 4096;  // at least the device's base-address alignment, and a page
constexpr cl_svm_mem_flags kUnsupportedSvmFlags = CL_MEM_SVM_FINE_GRAIN_BUFFER | CL_MEM_SVM_ATOMICS;

bool maps_for_read(cl_map_flags flags) { return (flags & CL_MAP_WRITE_INVALIDATE_REGION) == 0; }
bool maps_for_write(cl_map_flags flags) {
  return (flags & (CL_MAP_WRITE | CL_MAP_WRITE_INVALIDATE_REGION)) != 0;
}

// Where an address lies: the allocation's buffer and the offset into it, with the bytes left from
// there to the allocation's end.
struct SvmRef {
  cl_mem buffer = nullptr;
  size_t offset = 0;
  size_t left = 0;
};

// Resolves any address inside an allocation. Callers hold no lock.
bool resolve(const void* ptr, SvmRef* out) {
  if (ptr == nullptr) return false;
  glue::GlueState& g = glue::glue_state();
  const auto addr = reinterpret_cast<uintptr_t>(ptr);
  std::lock_guard<std::mutex> lock(g.svm_mu);
  auto it = g.svm.upper_bound(addr);
  if (it == g.svm.begin()) return false;
  --it;
  if (addr - it->first >= it->second.size) return false;
  out->buffer = it->second.buffer;
  out->offset = addr - it->first;
  out->left = it->second.size - out->offset;
  return true;
}

// A command that only orders: waits for the wait list and yields the event the application asked for.
cl_int order_only(cl_command_queue queue, cl_bool blocking, cl_uint n, const cl_event* wait,
                  cl_event* event) {
  cl_int err = remora_remote_clEnqueueMarkerWithWaitList(queue, n, wait, event);
  if (err == CL_SUCCESS && blocking && n > 0) err = remora_remote_clWaitForEvents(n, wait);
  return err;
}

// Runs `enqueue(event)` and, when `blocking`, waits for the command it enqueued. The application's
// event is filled as it asked; a local one stands in when it passed none.
template <typename Enqueue>
cl_int enqueue_maybe_blocking(cl_bool blocking, cl_event* event, Enqueue&& enqueue) {
  if (!blocking) return enqueue(event);
  cl_event local = nullptr;
  cl_event* target = event != nullptr ? event : &local;
  cl_int err = enqueue(target);
  if (err != CL_SUCCESS) return err;
  err = remora_remote_clWaitForEvents(1, target);
  if (local != nullptr) remora_remote_clReleaseEvent(local);
  // A failed command reports CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST, as a blocking call does.
  return err;
}

// Removes the allocation whose mirror starts at `ptr`; returns its buffer (nullptr if none).
cl_mem forget_allocation(void* ptr) {
  glue::GlueState& g = glue::glue_state();
  std::lock_guard<std::mutex> lock(g.svm_mu);
  auto it = g.svm.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == g.svm.end()) return nullptr;
  cl_mem buffer = it->second.buffer;
  g.svm.erase(it);
  return buffer;
}

void free_allocation(void* ptr) {
  cl_mem buffer = forget_allocation(ptr);
  if (buffer == nullptr) {
    remora::log::warn("clSVMFree: {} is not an SVM allocation of this process; ignored", ptr);
    return;
  }
  // The server frees the SVM once the vendor is done with the buffer (its destructor callback).
  remora_remote_clReleaseMemObject(buffer);
  std::free(ptr);
}

}  // namespace

extern "C" {

void* remora_cl_svm_alloc(cl_context context, cl_svm_mem_flags flags, size_t size, cl_uint alignment) {
  if ((flags & kUnsupportedSvmFlags) != 0 || size == 0) return nullptr;
  if (alignment != 0 && (alignment & (alignment - 1)) != 0) return nullptr;
  cl_int err = CL_SUCCESS;
  cl_mem buffer = remora_remote_remora_clSVMAllocBuffer(context, flags, size, alignment, &err);
  if (buffer == nullptr) return nullptr;
  const size_t align = std::max<size_t>(alignment, kMirrorAlignment);
  const size_t rounded = (size + align - 1) / align * align;
  void* mirror = rounded >= size ? std::aligned_alloc(align, rounded) : nullptr;
  if (mirror == nullptr) {
    remora_remote_clReleaseMemObject(buffer);
    return nullptr;
  }
  glue::GlueState& g = glue::glue_state();
  std::lock_guard<std::mutex> lock(g.svm_mu);
  glue::SvmAllocation& a = g.svm[reinterpret_cast<uintptr_t>(mirror)];
  a.size = size;
  a.buffer = buffer;
  return mirror;
}

void remora_cl_svm_free(cl_context, void* svm_pointer) {
  if (svm_pointer != nullptr) free_allocation(svm_pointer);
}

cl_int remora_cl_enqueue_svm_free(cl_command_queue command_queue, cl_uint num_svm_pointers,
                                  void* svm_pointers[],
                                  void(CL_CALLBACK* pfn_free_func)(cl_command_queue, cl_uint, void**, void*),
                                  void*, cl_uint num_events_in_wait_list, const cl_event* event_wait_list,
                                  cl_event* event) {
  if ((num_svm_pointers == 0) != (svm_pointers == nullptr)) return CL_INVALID_VALUE;
  if (pfn_free_func != nullptr) {
    // It would have to run in the application at the command's completion with the guest pointers;
    // remora does not deliver that callback.
    remora::log::warn("clEnqueueSVMFree with a free callback is not supported by remora");
    return CL_INVALID_OPERATION;
  }
  // Blocking is allowed for a command that only frees: the memory goes once the wait list is done;
  // commands already queued keep the server buffer alive until they finish.
  const cl_int err = order_only(command_queue, CL_TRUE, num_events_in_wait_list, event_wait_list, event);
  if (err != CL_SUCCESS) return err;
  for (cl_uint i = 0; i < num_svm_pointers; ++i)
    if (svm_pointers[i] != nullptr) free_allocation(svm_pointers[i]);
  return CL_SUCCESS;
}

cl_int remora_cl_enqueue_svm_map(cl_command_queue command_queue, cl_bool blocking_map, cl_map_flags flags,
                                 void* svm_ptr, size_t size, cl_uint num_events_in_wait_list,
                                 const cl_event* event_wait_list, cl_event* event) {
  SvmRef ref;
  if (!resolve(svm_ptr, &ref) || size == 0 || size > ref.left) return CL_INVALID_VALUE;
  const cl_int err =
      maps_for_read(flags)
          ? remora_remote_clEnqueueReadBuffer(command_queue, ref.buffer, blocking_map, ref.offset, size,
                                              svm_ptr, num_events_in_wait_list, event_wait_list, event)
          : order_only(command_queue, blocking_map, num_events_in_wait_list, event_wait_list, event);
  if (err != CL_SUCCESS) return err;
  glue::Mapping m;
  m.flags = flags;
  m.offset = ref.offset;
  m.size = size;
  glue::GlueState& g = glue::glue_state();
  std::lock_guard<std::mutex> lock(g.svm_mu);
  auto it = g.svm.find(reinterpret_cast<uintptr_t>(svm_ptr) - ref.offset);
  if (it != g.svm.end()) it->second.maps.emplace(svm_ptr, m);
  return CL_SUCCESS;
}

cl_int remora_cl_enqueue_svm_unmap(cl_command_queue command_queue, void* svm_ptr,
                                   cl_uint num_events_in_wait_list, const cl_event* event_wait_list,
                                   cl_event* event) {
  SvmRef ref;
  if (!resolve(svm_ptr, &ref)) return CL_INVALID_VALUE;
  glue::GlueState& g = glue::glue_state();
  const uintptr_t base = reinterpret_cast<uintptr_t>(svm_ptr) - ref.offset;
  glue::Mapping m;
  bool mapped = false;
  {
    std::lock_guard<std::mutex> lock(g.svm_mu);
    auto a = g.svm.find(base);
    if (a != g.svm.end()) {
      auto it = a->second.maps.find(svm_ptr);
      if (it != a->second.maps.end()) {
        m = it->second;
        a->second.maps.erase(it);
        mapped = true;
      }
    }
  }
  // Unmapping a pointer that was not mapped only orders (the vendor would have nothing to write).
  cl_int err;
  if (mapped && maps_for_write(m.flags)) {
    err = remora_remote_clEnqueueWriteBuffer(command_queue, ref.buffer, CL_FALSE, m.offset, m.size, svm_ptr,
                                             num_events_in_wait_list, event_wait_list, event);
    // The bytes must have left the mirror before the application may touch (or free) it again.
    if (err == CL_SUCCESS && !remora_opencl_runtime().flush().ok()) err = CL_DEVICE_NOT_AVAILABLE;
  } else {
    err = order_only(command_queue, CL_FALSE, num_events_in_wait_list, event_wait_list, event);
  }
  if (err != CL_SUCCESS && mapped) {
    // Still mapped: the application may retry.
    std::lock_guard<std::mutex> lock(g.svm_mu);
    auto a = g.svm.find(base);
    if (a != g.svm.end()) a->second.maps.emplace(svm_ptr, m);
  }
  return err;
}

// Both pointers may be SVM or host memory. The mirror of an SVM destination is not updated: under the
// coarse-grained contract the host sees SVM only through a map, and a map reads the server's bytes.
cl_int remora_cl_enqueue_svm_memcpy(cl_command_queue command_queue, cl_bool blocking_copy, void* dst_ptr,
                                    const void* src_ptr, size_t size, cl_uint num_events_in_wait_list,
                                    const cl_event* event_wait_list, cl_event* event) {
  if (dst_ptr == nullptr || src_ptr == nullptr) return CL_INVALID_VALUE;
  SvmRef dst, src;
  const bool dst_svm = resolve(dst_ptr, &dst);
  const bool src_svm = resolve(src_ptr, &src);
  if ((dst_svm && size > dst.left) || (src_svm && size > src.left)) return CL_INVALID_VALUE;
  const cl_uint n = num_events_in_wait_list;
  const cl_event* wait = event_wait_list;
  if (dst_svm && src_svm)
    return enqueue_maybe_blocking(blocking_copy, event, [&](cl_event* ev) {
      return remora_remote_clEnqueueCopyBuffer(command_queue, src.buffer, dst.buffer, src.offset, dst.offset,
                                               size, n, wait, ev);
    });
  if (dst_svm)
    return remora_remote_clEnqueueWriteBuffer(command_queue, dst.buffer, blocking_copy, dst.offset, size,
                                              src_ptr, n, wait, event);
  if (src_svm)
    return remora_remote_clEnqueueReadBuffer(command_queue, src.buffer, blocking_copy, src.offset, size,
                                             dst_ptr, n, wait, event);
  // Host to host: done here once the wait list is, whether or not the application asked to block.
  const auto d = reinterpret_cast<uintptr_t>(dst_ptr), s = reinterpret_cast<uintptr_t>(src_ptr);
  if (size > 0 && d < s + size && s < d + size) return CL_MEM_COPY_OVERLAP;
  const cl_int err = order_only(command_queue, CL_TRUE, n, wait, event);
  if (err == CL_SUCCESS && size > 0) std::memcpy(dst_ptr, src_ptr, size);
  return err;
}

cl_int remora_cl_enqueue_svm_mem_fill(cl_command_queue command_queue, void* svm_ptr, const void* pattern,
                                      size_t pattern_size, size_t size, cl_uint num_events_in_wait_list,
                                      const cl_event* event_wait_list, cl_event* event) {
  SvmRef ref;
  if (!resolve(svm_ptr, &ref) || size > ref.left) return CL_INVALID_VALUE;
  return remora_remote_clEnqueueFillBuffer(command_queue, ref.buffer, pattern, pattern_size, ref.offset, size,
                                           num_events_in_wait_list, event_wait_list, event);
}

// Migration is a hint: the whole buffers of the named allocations migrate.
cl_int remora_cl_enqueue_svm_migrate_mem(cl_command_queue command_queue, cl_uint num_svm_pointers,
                                         const void** svm_pointers, const size_t*, cl_mem_migration_flags flags,
                                         cl_uint num_events_in_wait_list, const cl_event* event_wait_list,
                                         cl_event* event) {
  if (num_svm_pointers == 0 || svm_pointers == nullptr) return CL_INVALID_VALUE;
  std::vector<cl_mem> buffers;
  for (cl_uint i = 0; i < num_svm_pointers; ++i) {
    SvmRef ref;
    if (!resolve(svm_pointers[i], &ref)) return CL_INVALID_VALUE;
    if (std::find(buffers.begin(), buffers.end(), ref.buffer) == buffers.end()) buffers.push_back(ref.buffer);
  }
  return remora_remote_clEnqueueMigrateMemObjects(command_queue, static_cast<cl_uint>(buffers.size()),
                                                  buffers.data(), flags, num_events_in_wait_list,
                                                  event_wait_list, event);
}

cl_int remora_cl_set_kernel_arg_svm_pointer(cl_kernel kernel, cl_uint arg_index, const void* arg_value) {
  if (arg_value == nullptr) return remora_remote_remora_clSetKernelArgSVM(kernel, arg_index, nullptr, 0);
  SvmRef ref;
  // An address outside every allocation has no server counterpart.
  if (!resolve(arg_value, &ref)) {
    if (glue::live_object(kernel, remora::opencl::kType_cl_kernel) == nullptr) return CL_INVALID_KERNEL;
    return CL_INVALID_ARG_VALUE;
  }
  return remora_remote_remora_clSetKernelArgSVM(kernel, arg_index, ref.buffer, ref.offset);
}

cl_int remora_cl_set_kernel_exec_info(cl_kernel kernel, cl_kernel_exec_info param_name, size_t param_value_size,
                                      const void* param_value) {
  if (glue::live_object(kernel, remora::opencl::kType_cl_kernel) == nullptr) return CL_INVALID_KERNEL;
  switch (param_name) {
    case CL_KERNEL_EXEC_INFO_SVM_PTRS: {
      if (param_value == nullptr || param_value_size == 0 || param_value_size % sizeof(void*) != 0)
        return CL_INVALID_VALUE;
      const size_t n = param_value_size / sizeof(void*);
      std::vector<cl_mem> buffers(n);
      std::vector<size_t> offsets(n);
      for (size_t i = 0; i < n; ++i) {
        const void* p;
        std::memcpy(&p, static_cast<const char*>(param_value) + i * sizeof(void*), sizeof(p));
        SvmRef ref;
        if (!resolve(p, &ref)) return CL_INVALID_VALUE;
        buffers[i] = ref.buffer;
        offsets[i] = ref.offset;
      }
      return remora_remote_remora_clSetKernelExecInfoSVM(kernel, static_cast<cl_uint>(n), buffers.data(),
                                                         offsets.data());
    }
    case CL_KERNEL_EXEC_INFO_SVM_FINE_GRAIN_SYSTEM: {
      if (param_value == nullptr || param_value_size != sizeof(cl_bool)) return CL_INVALID_VALUE;
      cl_bool on;
      std::memcpy(&on, param_value, sizeof(on));
      // No device offers fine-grained system SVM through remora.
      return on ? CL_INVALID_OPERATION : CL_SUCCESS;
    }
    default:
      return CL_INVALID_VALUE;
  }
}

}  // extern "C"
