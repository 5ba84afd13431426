// Server side of the CUDA runtime API (cuda.spec.c, "remora's own calls for the runtime API"): what
// only a real cudart knows (its error texts, cudaDeviceProp), asked of the server's own cudart.
//
// The guest implements the runtime API over the driver API (guest/runtime_*.cpp); the server loads
// cudart only for these calls, on first use: REMORA_CUDART_LIBRARY names it (default libcudart.so.13,
// found on the server's library path). Without one, the calls answer CUDA_ERROR_NOT_SUPPORTED.
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include <cuda_runtime_api.h>

#include "common/log.h"
#include "cuda_server.h"  // generated
#include "spec_helpers.h"
#include "server_glue.h"

namespace {

struct Cudart {
  decltype(&::cudaGetDeviceProperties) get_device_properties = nullptr;
  decltype(&::cudaGetErrorName) get_error_name = nullptr;
  decltype(&::cudaGetErrorString) get_error_string = nullptr;
};

// The server's cudart, loaded once per server process (a process-wide library handle, like the
// driver's in the generated vendor loader); never unloaded.
const Cudart& cudart() {
  static const Cudart loaded = [] {
    Cudart c;
    // Without it, runtime error texts and cudaGetDeviceProperties answer CUDA_ERROR_NOT_SUPPORTED.
    void* lib = remora::cuda::server_glue::open_library("cudart", "REMORA_CUDART_LIBRARY", "libcudart.so.13");
    if (lib == nullptr) return c;
    c.get_device_properties = reinterpret_cast<decltype(c.get_device_properties)>(::dlsym(lib, "cudaGetDeviceProperties"));
    c.get_error_name = reinterpret_cast<decltype(c.get_error_name)>(::dlsym(lib, "cudaGetErrorName"));
    c.get_error_string = reinterpret_cast<decltype(c.get_error_string)>(::dlsym(lib, "cudaGetErrorString"));
    return c;
  }();
  return loaded;
}

}  // namespace

CUresult remora_rt_server_get_device_properties(remora::server::Call&, int device, struct cudaDeviceProp* prop) {
  if (cudart().get_device_properties == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // A cudaError_t, carried as the call's result (the numbers are shared).
  return static_cast<CUresult>(cudart().get_device_properties(prop, device));
}

CUresult remora_rt_server_get_error_text(remora::server::Call&, int error, int which, char* text, size_t capacity, size_t* length) {
  const Cudart& c = cudart();
  if (c.get_error_name == nullptr || c.get_error_string == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const cudaError_t e = static_cast<cudaError_t>(error);
  return remora::cuda::server_glue::copy_error_text(which == 0 ? c.get_error_name(e) : c.get_error_string(e), text,
                                                   capacity, length);
}

