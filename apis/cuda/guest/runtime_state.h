// The CUDA runtime API (cudart) in the guest, over the remoted driver API: shared declarations of
// runtime_api.cpp (devices, errors, memory, streams, events) and runtime_modules.cpp (fatbin, kernel
// and variable registration, launches, symbols).
//
// Process-wide state lives in RuntimeApiState, owned by the one Guest of library.cpp; the per-thread
// state cudart defines per thread (current device, last error, <<<>>> call configurations) is
// thread_local in the files that use it.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "guest_glue.h"

namespace remora::cuda::guest_glue {

// One fatbin as __cudaRegisterFatBinary received it: the image stays in the program's memory for the
// process's lifetime; it is loaded as a module once per context, on first use.
struct RegisteredModule {
  const void* image = nullptr;
  std::map<CUcontext, CUmodule> loaded;  // guarded by RuntimeApiState::mu
};

// A kernel (__cudaRegisterFunction) or a device variable (__cudaRegisterVar) of a registered module.
// Its address is what the program's cudaKernel_t is (__cudaGetKernel).
struct RegisteredKernel {
  RegisteredModule* module = nullptr;
  std::string name;
  std::map<CUcontext, CUfunction> functions;  // guarded by RuntimeApiState::mu
};
struct RegisteredVar {
  RegisteredModule* module = nullptr;
  std::string name;
  size_t size = 0;
  std::map<CUcontext, std::pair<CUdeviceptr, size_t>> addresses;  // guarded by RuntimeApiState::mu
};

struct RuntimeApiState {
  std::mutex mu;
  // Registration happens before main (static constructors) and never talks to the server. Records
  // are never freed while the process lives: a cudaKernel_t the program holds stays readable.
  std::vector<std::unique_ptr<RegisteredModule>> modules;
  std::vector<std::unique_ptr<RegisteredKernel>> kernel_records;
  std::vector<std::unique_ptr<RegisteredVar>> var_records;
  std::unordered_map<const void*, RegisteredKernel*> kernels;  // host stub -> kernel
  std::unordered_set<const void*> kernel_handles;              // valid cudaKernel_t values
  std::unordered_map<const void*, RegisteredVar*> vars;        // host shadow variable -> variable
  // Primary contexts retained by the runtime, by device (released when the server session ends).
  std::map<int, CUcontext> primary;
  // cudaMalloc allocations (start -> size), for cudaMemcpyDefault.
  std::map<uintptr_t, size_t> device_allocations;
  // cudaDeviceProp by device and error texts by (code, which), from the server's cudart; the strings
  // stay put for the process's lifetime, as cudaGetErrorString's contract requires.
  std::map<int, cudaDeviceProp> properties;
  std::map<std::pair<int, int>, std::string> error_texts;
};
RuntimeApiState& runtime_api_state();

// Records `e` as the calling thread's last error when it is one (every runtime call does), returns it.
cudaError_t rt_result(cudaError_t e);
inline cudaError_t rt_result(CUresult r) { return rt_result(static_cast<cudaError_t>(r)); }

// cuInit once, then a current context on the calling thread: the one it has, or the primary context
// of its device (cudaSetDevice; 0 by default), retained once per process.
cudaError_t rt_ensure_context();
// A runtime stream is the driver's stream, the special ones included: cudaStreamLegacy and
// cudaStreamPerThread are CU_STREAM_LEGACY and CU_STREAM_PER_THREAD, which the driver stubs resolve
// (per_thread.cpp).

// The runtime API's entry points the spec does not declare (nvcc's hidden __cuda* functions and the
// per-thread variants): exported as libcudart.so.13's (guest/exports.map).
#define REMORA_RT_EXPORT extern "C" __attribute__((visibility("default")))

// runtime_modules.cpp: the driver function of a kernel's host stub or cudaKernel_t, and the address
// and size of a device variable (by its host shadow), in the calling thread's current context, loading
// the module there on first use. cudaErrorInvalidDeviceFunction / cudaErrorInvalidSymbol for what was
// never registered.
cudaError_t rt_function(const void* func, CUfunction* out);
cudaError_t rt_symbol(const void* symbol, CUdeviceptr* address, size_t* size);

}  // namespace remora::cuda::guest_glue
