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
#include "hooks.h"

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
    const char* name = std::getenv("REMORA_CUDART_LIBRARY");
    if (name == nullptr || *name == '\0') name = "libcudart.so.13";
    void* lib = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      remora::log::error("cuda runtime: cannot load {} on the server ({}): runtime error texts and "
                         "cudaGetDeviceProperties answer CUDA_ERROR_NOT_SUPPORTED; set REMORA_CUDART_LIBRARY",
                         name, ::dlerror());
      return c;
    }
    // remora's own guest library exports these names too: it must never be the one loaded here.
    if (::dlsym(lib, "remora_cuda_guest_marker") != nullptr) {
      remora::log::error("cuda runtime: {} on the server is remora's guest library, not cudart", name);
      return c;
    }
    c.get_device_properties = reinterpret_cast<decltype(c.get_device_properties)>(::dlsym(lib, "cudaGetDeviceProperties"));
    c.get_error_name = reinterpret_cast<decltype(c.get_error_name)>(::dlsym(lib, "cudaGetErrorName"));
    c.get_error_string = reinterpret_cast<decltype(c.get_error_string)>(::dlsym(lib, "cudaGetErrorString"));
    return c;
  }();
  return loaded;
}

}  // namespace

extern "C" {

CUresult remora_rt_server_get_device_properties(int device, struct cudaDeviceProp* prop) {
  if (cudart().get_device_properties == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // A cudaError_t, carried as the call's result (the numbers are shared).
  return static_cast<CUresult>(cudart().get_device_properties(prop, device));
}

CUresult remora_rt_server_get_error_text(int error, int which, char* text, size_t capacity, size_t* length) {
  const Cudart& c = cudart();
  if (c.get_error_name == nullptr || c.get_error_string == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const cudaError_t e = static_cast<cudaError_t>(error);
  const char* s = which == 0 ? c.get_error_name(e) : c.get_error_string(e);
  if (s == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const size_t n = std::strlen(s) + 1;
  *length = n;
  if (text != nullptr && capacity > 0) {
    const size_t k = n < capacity ? n : capacity;
    std::memcpy(text, s, k);
    text[k - 1] = '\0';
  }
  return CUDA_SUCCESS;
}

}  // extern "C"
