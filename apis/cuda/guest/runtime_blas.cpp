// cuBLAS in the guest (cuda.spec.c, "cuBLAS"): the public functions over remora's own cuBLAS calls,
// which the server's real cuBLAS answers. Handles are guest objects; matrices are device addresses
// from the driver or runtime API; alpha and beta travel by value (host pointer mode only).
#include <cublas_api.h>

#include "spec_helpers.h"
#include "runtime_state.h"

namespace {

using remora::cuda::guest_glue::rt_ensure_context;

// The cuBLAS status of one of remora's cuBLAS calls (spec_helpers.h, REMORA_CUBLAS_STATUS_BASE).
cublasStatus_t blas_status(CUresult r) {
  if (r == CUDA_SUCCESS) return CUBLAS_STATUS_SUCCESS;
  if (static_cast<unsigned>(r) >= REMORA_CUBLAS_STATUS_BASE)
    return static_cast<cublasStatus_t>(static_cast<unsigned>(r) - REMORA_CUBLAS_STATUS_BASE);
  switch (r) {
    case CUDA_ERROR_INVALID_HANDLE: return CUBLAS_STATUS_NOT_INITIALIZED;  // as cuBLAS for a bad handle
    case CUDA_ERROR_NOT_SUPPORTED: return CUBLAS_STATUS_NOT_SUPPORTED;    // no cuBLAS on the server
    case CUDA_ERROR_OUT_OF_MEMORY: return CUBLAS_STATUS_ALLOC_FAILED;
    case CUDA_ERROR_INVALID_VALUE: return CUBLAS_STATUS_INVALID_VALUE;
    default: return CUBLAS_STATUS_INTERNAL_ERROR;  // the transport failed, or the driver did
  }
}

uint64_t address(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

}  // namespace

extern "C" {

// cuBLAS works in the calling thread's current context, made as cudart makes it.
cublasStatus_t remora_blas_create(cublasHandle_t* handle) {
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  if (rt_ensure_context() != cudaSuccess) return CUBLAS_STATUS_NOT_INITIALIZED;
  return blas_status(remora_remote_remora_cublasCreate(handle));
}

cublasStatus_t remora_blas_destroy(cublasHandle_t handle) {
  if (rt_ensure_context() != cudaSuccess) return CUBLAS_STATUS_NOT_INITIALIZED;
  return blas_status(remora_remote_remora_cublasDestroy(handle));
}

cublasStatus_t remora_blas_get_version(cublasHandle_t handle, int* version) {
  if (version == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  return blas_status(remora_remote_remora_cublasGetVersion(handle, version));
}

cublasStatus_t remora_blas_set_stream(cublasHandle_t handle, cudaStream_t stream) {
  if (rt_ensure_context() != cudaSuccess) return CUBLAS_STATUS_NOT_INITIALIZED;
  return blas_status(remora_remote_remora_cublasSetStream(handle, stream));
}

cublasStatus_t remora_blas_get_pointer_mode(cublasHandle_t handle, cublasPointerMode_t* mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = CUBLAS_POINTER_MODE_HOST;
  return CUBLAS_STATUS_SUCCESS;
}

// alpha and beta are read in the application's memory and sent by value: a device pointer mode
// would need the server to read them on the device, which these calls do not do.
cublasStatus_t remora_blas_set_pointer_mode(cublasHandle_t handle, cublasPointerMode_t mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode == CUBLAS_POINTER_MODE_HOST) return CUBLAS_STATUS_SUCCESS;
  return mode == CUBLAS_POINTER_MODE_DEVICE ? CUBLAS_STATUS_NOT_SUPPORTED : CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t remora_blas_sgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                                 int n, int k, const float* alpha, const float* a, int lda, const float* b, int ldb,
                                 const float* beta, float* c, int ldc) {
  if (alpha == nullptr || beta == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  return blas_status(remora_remote_remora_cublasSgemm(handle, static_cast<int>(transa), static_cast<int>(transb), m,
                                                      n, k, alpha, address(a), lda, address(b), ldb, beta,
                                                      address(c), ldc));
}

}  // extern "C"
