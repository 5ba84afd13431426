// Server side of cuBLAS (cuda.spec.c, "cuBLAS"): the server's real cuBLAS, loaded on first use
// (REMORA_CUBLAS_LIBRARY, default libcublas.so.13 on the server's library path). It runs in the
// context the guest thread's state made current (server/server_hooks.cpp), the one the guest's runtime API
// uses, so its kernels see the guest's allocations and streams. Without the library every call
// answers CUDA_ERROR_NOT_SUPPORTED (CUBLAS_STATUS_NOT_SUPPORTED in the guest).
#include <dlfcn.h>

#include <cstdlib>

#include <cublas_api.h>

#include "common/log.h"
#include "cuda_server.h"  // generated
#include "spec_helpers.h"
#include "server_glue.h"

namespace {

struct Cublas {
  decltype(&::cublasCreate_v2) create = nullptr;
  decltype(&::cublasDestroy_v2) destroy = nullptr;
  decltype(&::cublasGetVersion_v2) get_version = nullptr;
  decltype(&::cublasSetStream_v2) set_stream = nullptr;
  decltype(&::cublasSgemm_v2) sgemm = nullptr;
  bool complete() const { return create && destroy && get_version && set_stream && sgemm; }
};

// Loaded once per server process, never unloaded (like the driver).
const Cublas& cublas() {
  static const Cublas loaded = [] {
    Cublas c;
    void* lib = remora::cuda::server_glue::open_library("cublas", "REMORA_CUBLAS_LIBRARY", "libcublas.so.13");
    if (lib == nullptr) return c;
    c.create = reinterpret_cast<decltype(c.create)>(::dlsym(lib, "cublasCreate_v2"));
    c.destroy = reinterpret_cast<decltype(c.destroy)>(::dlsym(lib, "cublasDestroy_v2"));
    c.get_version = reinterpret_cast<decltype(c.get_version)>(::dlsym(lib, "cublasGetVersion_v2"));
    c.set_stream = reinterpret_cast<decltype(c.set_stream)>(::dlsym(lib, "cublasSetStream_v2"));
    c.sgemm = reinterpret_cast<decltype(c.sgemm)>(::dlsym(lib, "cublasSgemm_v2"));
    if (!c.complete()) {
      remora::log::error("cublas: the server's cuBLAS lacks one of the functions remora forwards");
      return Cublas{};
    }
    return c;
  }();
  return loaded;
}

CUresult result(cublasStatus_t s) {
  return s == CUBLAS_STATUS_SUCCESS ? CUDA_SUCCESS : static_cast<CUresult>(REMORA_CUBLAS_STATUS_BASE + s);
}

const float* device_matrix(uint64_t a) { return reinterpret_cast<const float*>(static_cast<uintptr_t>(a)); }

}  // namespace

#define REMORA_BLAS_REQUIRE() \
  if (!cublas().complete()) return CUDA_ERROR_NOT_SUPPORTED

CUresult remora_blas_server_create(remora::server::Call&, cublasHandle_t* handle) {
  REMORA_BLAS_REQUIRE();
  return result(cublas().create(handle));
}

CUresult remora_blas_server_destroy(remora::server::Call&, cublasHandle_t handle) {
  REMORA_BLAS_REQUIRE();
  return result(cublas().destroy(handle));
}

CUresult remora_blas_server_get_version(remora::server::Call&, cublasHandle_t handle, int* version) {
  REMORA_BLAS_REQUIRE();
  return result(cublas().get_version(handle, version));
}

CUresult remora_blas_server_set_stream(remora::server::Call&, cublasHandle_t handle, CUstream stream) {
  REMORA_BLAS_REQUIRE();
  return result(cublas().set_stream(handle, stream));
}

// The handle is in host pointer mode (never changed here), so alpha and beta are read from the call's
// own copies. The matrices are device addresses: cuBLAS reads them on the device, never the server.
CUresult remora_blas_server_sgemm(remora::server::Call&, cublasHandle_t handle, int transa, int transb, int m, int n, int k,
                                  const float* alpha, uint64_t a, int lda, uint64_t b, int ldb, const float* beta,
                                  uint64_t c, int ldc) {
  REMORA_BLAS_REQUIRE();
  if (alpha == nullptr || beta == nullptr) return result(CUBLAS_STATUS_INVALID_VALUE);
  return result(cublas().sgemm(handle, static_cast<cublasOperation_t>(transa), static_cast<cublasOperation_t>(transb),
                               m, n, k, alpha, device_matrix(a), lda, device_matrix(b), ldb, beta,
                               const_cast<float*>(device_matrix(c)), ldc));
}

