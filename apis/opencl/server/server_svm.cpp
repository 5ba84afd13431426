// Server side of coarse-grained buffer SVM (the guest side is guest/guest_svm.cpp).
//
// Every SVM allocation a guest makes is wrapped at once in a buffer that uses it
// (CL_MEM_USE_HOST_PTR on the SVM pointer). That buffer is the only name the guest ever gets for the
// allocation: it lives in the session's handle table like any cl_mem, so a guest can name only its own
// allocations, the session's end releases what the guest left, and quotas charge it. Addresses for
// kernels are derived here from the buffer plus a checked offset; the guest never sends an address.
// The SVM memory is freed by the buffer's destructor callback, i.e. when the vendor is done with it.
#include <cstdint>
#include <memory>
#include <vector>

#include "opencl_server.h"  // generated

using remora::opencl::vendor;

namespace {

// What the destructor callback needs to free an allocation; holds a reference on the context.
struct SvmOwner {
  cl_context context;
  void* ptr;
};

void CL_CALLBACK free_svm(cl_mem, void* user_data) {
  std::unique_ptr<SvmOwner> owner(static_cast<SvmOwner*>(user_data));
  vendor().clSVMFree(owner->context, owner->ptr);
  vendor().clReleaseContext(owner->context);
}

constexpr cl_svm_mem_flags kAccessFlags = CL_MEM_READ_WRITE | CL_MEM_WRITE_ONLY | CL_MEM_READ_ONLY;

// The address `offset` bytes into the SVM behind `buffer`, which must be a buffer made by
// remora_cl_server_svm_alloc_buffer (or a sub-buffer of one). `offset` may not reach the end.
cl_int svm_address(cl_mem buffer, size_t offset, void** address) {
  cl_bool uses_svm = CL_FALSE;
  cl_mem_flags flags = 0;
  void* base = nullptr;
  size_t size = 0;
  if (vendor().clGetMemObjectInfo(buffer, CL_MEM_USES_SVM_POINTER, sizeof(uses_svm), &uses_svm, nullptr) !=
          CL_SUCCESS ||
      vendor().clGetMemObjectInfo(buffer, CL_MEM_FLAGS, sizeof(flags), &flags, nullptr) != CL_SUCCESS ||
      vendor().clGetMemObjectInfo(buffer, CL_MEM_HOST_PTR, sizeof(base), &base, nullptr) != CL_SUCCESS ||
      vendor().clGetMemObjectInfo(buffer, CL_MEM_SIZE, sizeof(size), &size, nullptr) != CL_SUCCESS)
    return CL_INVALID_ARG_VALUE;
  // Only buffers over SVM: any other buffer's host pointer is server memory no kernel may be handed.
  if (!uses_svm || (flags & CL_MEM_USE_HOST_PTR) == 0 || base == nullptr || offset >= size)
    return CL_INVALID_ARG_VALUE;
  *address = static_cast<char*>(base) + offset;
  return CL_SUCCESS;
}

}  // namespace

// REMORA_SERVER hooks (declared by the generated opencl_server.h; the SVM entry points they use are
// their REMORA_REQUIRES in opencl.spec.c, so a vendor without SVM answers CL_INVALID_OPERATION).

cl_mem remora_cl_server_svm_alloc_buffer(remora::server::Call&, cl_context context, cl_svm_mem_flags flags,
                                         size_t size, cl_uint alignment, cl_int* errcode_ret) {
  cl_int local = CL_SUCCESS;
  cl_int& err = errcode_ret != nullptr ? *errcode_ret : local;
  // Fine-grained and atomic SVM cannot be honoured across processes (CL_DEVICE_SVM_CAPABILITIES
  // does not offer them).
  if ((flags & ~kAccessFlags) != 0) return err = CL_INVALID_VALUE, nullptr;
  if (size == 0) return err = CL_INVALID_BUFFER_SIZE, nullptr;
  void* ptr = vendor().clSVMAlloc(context, flags, size, alignment);
  // clSVMAlloc gives no reason; a bad context or alignment and exhaustion all read NULL.
  if (ptr == nullptr) return err = CL_MEM_OBJECT_ALLOCATION_FAILURE, nullptr;
  const cl_mem_flags access = flags & kAccessFlags;
  cl_mem buffer = vendor().clCreateBuffer(context, access | CL_MEM_USE_HOST_PTR, size, ptr, &err);
  if (buffer == nullptr) {
    vendor().clSVMFree(context, ptr);
    if (err == CL_SUCCESS) err = CL_MEM_OBJECT_ALLOCATION_FAILURE;
    return nullptr;
  }
  auto owner = std::make_unique<SvmOwner>(SvmOwner{context, ptr});
  vendor().clRetainContext(context);
  err = vendor().clSetMemObjectDestructorCallback(buffer, free_svm, owner.get());
  if (err != CL_SUCCESS) {
    vendor().clReleaseMemObject(buffer);
    vendor().clSVMFree(context, ptr);
    vendor().clReleaseContext(context);
    return nullptr;
  }
  owner.release();  // free_svm owns it now
  return buffer;
}

cl_int remora_cl_server_set_kernel_arg_svm(remora::server::Call&, cl_kernel kernel, cl_uint arg_index,
                                           cl_mem svm_buffer, size_t offset) {
  void* address = nullptr;
  if (svm_buffer != nullptr) {
    const cl_int err = svm_address(svm_buffer, offset, &address);
    if (err != CL_SUCCESS) return err;
  } else if (offset != 0) {
    return CL_INVALID_ARG_VALUE;
  }
  return vendor().clSetKernelArgSVMPointer(kernel, arg_index, address);
}

cl_int remora_cl_server_set_kernel_exec_info_svm(remora::server::Call&, cl_kernel kernel, cl_uint count,
                                                 const cl_mem* svm_buffers, const size_t* offsets) {
  if (count > 0 && (svm_buffers == nullptr || offsets == nullptr)) return CL_INVALID_VALUE;
  std::vector<void*> addresses(count);
  for (cl_uint i = 0; i < count; ++i)
    if (svm_address(svm_buffers[i], offsets[i], &addresses[i]) != CL_SUCCESS) return CL_INVALID_VALUE;
  return vendor().clSetKernelExecInfo(kernel, CL_KERNEL_EXEC_INFO_SVM_PTRS, count * sizeof(void*),
                                      count > 0 ? addresses.data() : nullptr);
}
