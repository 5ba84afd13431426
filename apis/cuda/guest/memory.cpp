// Driver memory queries the header shapes in ways the generator cannot forward: a device address typed
// as a host pointer (cuMemRetainAllocationHandle) and an array of value pointers
// (cuPointerGetAttributes).
#include "guest_glue.h"

extern "C" {

CUresult remora_cu_mem_retain_allocation_handle(CUmemGenericAllocationHandle* handle, void* addr) {
  return remora_remote_remora_cuMemRetainAllocationHandle(handle, reinterpret_cast<CUdeviceptr>(addr));
}

// As the driver: each attribute in turn; the first failure is the call's.
CUresult remora_cu_pointer_get_attributes(unsigned int n, CUpointer_attribute* attributes, void** data,
                                          CUdeviceptr ptr) {
  if (n > 0 && (attributes == nullptr || data == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  for (unsigned int i = 0; i < n; ++i) {
    if (data[i] == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = remora_remote_cuPointerGetAttribute(data[i], attributes[i], ptr); r != CUDA_SUCCESS) return r;
  }
  return CUDA_SUCCESS;
}

}  // extern "C"
