// The CUDA runtime API's kernels in the guest: the hidden entry points nvcc's host code calls
// (crt/host_runtime.h, crt/device_functions.h), <<<>>> launches, cudaLaunchKernel, function
// attributes, occupancy and device-variable lookup.
//
// Registration runs in static constructors, before main and before any connection: it only records
// the program's fatbins, kernels and variables (RuntimeApiState). On first use in a context, the fatbin
// is loaded with cuModuleLoadData (its size from its own header) and the kernel or variable looked up
// by its device name, as cudart does with cuLibraryLoadData. Nothing is unloaded at exit: the server
// session's end frees the modules.
#include <cstring>

#include "common/log.h"
#include "spec_helpers.h"
#include "runtime_state.h"

namespace remora::cuda::guest_glue {
namespace {

// What __cudaRegisterFatBinary receives (nvcc's __fatBinC_Wrapper_t): the fatbin is `data`.
struct FatbinWrapper {
  int magic;
  int version;
  const unsigned long long* data;
  void* filename_or_fatbins;
};
constexpr int kFatbinWrapperMagic = 0x466243b1;

// One <<<>>> configuration, pushed by the launch expression and popped by the kernel's host stub.
struct CallConfiguration {
  dim3 grid, block;
  size_t shared = 0;
  cudaStream_t stream = nullptr;
};
std::vector<CallConfiguration>& call_configurations() {
  thread_local std::vector<CallConfiguration> stack;
  return stack;
}

// The module of `m` in context `ctx`, loaded on first use.
cudaError_t module_in(RegisteredModule* m, CUcontext ctx, CUmodule* out) {
  RuntimeApiState& st = runtime_api_state();
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (auto it = m->loaded.find(ctx); it != m->loaded.end()) {
      *out = it->second;
      return cudaSuccess;
    }
  }
  if (m->image == nullptr) return cudaErrorInvalidKernelImage;
  CUmodule mod = nullptr;
  if (CUresult r = remora_remote_cuModuleLoadData(&mod, m->image); r != CUDA_SUCCESS)
    return static_cast<cudaError_t>(r);
  bool raced = false;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    auto [it, fresh] = m->loaded.try_emplace(ctx, mod);
    raced = !fresh;
    *out = it->second;
  }
  if (raced) (void)remora_remote_cuModuleUnload(mod);  // another thread loaded it meanwhile
  return cudaSuccess;
}

RegisteredKernel* kernel_of(const void* func) {
  RuntimeApiState& st = runtime_api_state();
  std::lock_guard<std::mutex> lock(st.mu);
  if (auto it = st.kernels.find(func); it != st.kernels.end()) return it->second;
  if (st.kernel_handles.count(func) != 0) return static_cast<RegisteredKernel*>(const_cast<void*>(func));
  return nullptr;
}

cudaError_t launch(const void* func, dim3 grid, dim3 block, void** args, size_t shared, cudaStream_t stream) {
  if (cudaError_t e = rt_ensure_context(); e != cudaSuccess) return e;
  CUfunction f = nullptr;
  if (cudaError_t e = rt_function(func, &f); e != cudaSuccess) return e;
  // Shapes no device accepts are refused by cuLaunchKernel's guest side at once, with the driver's
  // CUDA_ERROR_INVALID_VALUE, which is what cudart 13 returns for them too (measured on the H100).
  if (shared > 0xffffffffu) return cudaErrorInvalidValue;
  return static_cast<cudaError_t>(remora_cu_launch_kernel(f, grid.x, grid.y, grid.z, block.x, block.y, block.z,
                                                          static_cast<unsigned int>(shared), stream, args, nullptr));
}

}  // namespace

cudaError_t rt_function(const void* func, CUfunction* out) {
  RegisteredKernel* k = kernel_of(func);
  if (k == nullptr) return cudaErrorInvalidDeviceFunction;
  if (cudaError_t e = rt_ensure_context(); e != cudaSuccess) return e;
  const CUcontext ctx = current_context();
  RuntimeApiState& st = runtime_api_state();
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (auto it = k->functions.find(ctx); it != k->functions.end()) {
      *out = it->second;
      return cudaSuccess;
    }
  }
  CUmodule mod = nullptr;
  if (cudaError_t e = module_in(k->module, ctx, &mod); e != cudaSuccess) return e;
  CUfunction f = nullptr;
  if (CUresult r = remora_remote_cuModuleGetFunction(&f, mod, k->name.c_str()); r != CUDA_SUCCESS)
    return r == CUDA_ERROR_NOT_FOUND ? cudaErrorInvalidDeviceFunction : static_cast<cudaError_t>(r);
  std::lock_guard<std::mutex> lock(st.mu);
  *out = k->functions.try_emplace(ctx, f).first->second;
  return cudaSuccess;
}

cudaError_t rt_symbol(const void* symbol, CUdeviceptr* address, size_t* size) {
  RuntimeApiState& st = runtime_api_state();
  RegisteredVar* v = nullptr;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (auto it = st.vars.find(symbol); it != st.vars.end()) v = it->second;
  }
  if (v == nullptr) return cudaErrorInvalidSymbol;
  if (cudaError_t e = rt_ensure_context(); e != cudaSuccess) return e;
  const CUcontext ctx = current_context();
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (auto it = v->addresses.find(ctx); it != v->addresses.end()) {
      *address = it->second.first;
      *size = it->second.second;
      return cudaSuccess;
    }
  }
  CUmodule mod = nullptr;
  if (cudaError_t e = module_in(v->module, ctx, &mod); e != cudaSuccess) return e;
  CUdeviceptr d = 0;
  size_t bytes = 0;
  if (CUresult r = remora_remote_cuModuleGetGlobal_v2(&d, &bytes, mod, v->name.c_str()); r != CUDA_SUCCESS)
    return r == CUDA_ERROR_NOT_FOUND ? cudaErrorInvalidSymbol : static_cast<cudaError_t>(r);
  std::lock_guard<std::mutex> lock(st.mu);
  const auto& entry = v->addresses.try_emplace(ctx, d, bytes).first->second;
  *address = entry.first;
  *size = entry.second;
  return cudaSuccess;
}

}  // namespace remora::cuda::guest_glue

using namespace remora::cuda::guest_glue;

// ---- The hidden entry points of nvcc's host code (not in any public header's C form) --------------

REMORA_RT_EXPORT void** __cudaRegisterFatBinary(void* fat_cubin) {
  auto m = std::make_unique<RegisteredModule>();
  const auto* w = static_cast<const FatbinWrapper*>(fat_cubin);
  if (w != nullptr && w->magic == kFatbinWrapperMagic && w->data != nullptr) {
    m->image = w->data;
  } else {
    // Left without an image: its kernels answer cudaErrorInvalidKernelImage when launched.
    remora::log::error("cuda runtime: __cudaRegisterFatBinary got no fatbin wrapper nvcc makes (magic {:#x})",
                       w != nullptr ? static_cast<unsigned>(w->magic) : 0u);
  }
  RuntimeApiState& st = runtime_api_state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.modules.push_back(std::move(m));
  return reinterpret_cast<void**>(st.modules.back().get());
}

REMORA_RT_EXPORT void __cudaRegisterFatBinaryEnd(void**) {}

// Modules stay loaded until the session ends; the program is exiting when this runs.
REMORA_RT_EXPORT void __cudaUnregisterFatBinary(void**) {}

REMORA_RT_EXPORT void __cudaRegisterFunction(void** handle, const char* host_fun, char*, const char* device_name,
                                             int, uint3*, uint3*, dim3*, dim3*, int*) {
  if (handle == nullptr || host_fun == nullptr || device_name == nullptr) return;
  auto k = std::make_unique<RegisteredKernel>();
  k->module = reinterpret_cast<RegisteredModule*>(handle);
  k->name = device_name;
  RuntimeApiState& st = runtime_api_state();
  std::lock_guard<std::mutex> lock(st.mu);
  RegisteredKernel* raw = k.get();
  st.kernel_records.push_back(std::move(k));
  st.kernels[host_fun] = raw;
  st.kernel_handles.insert(raw);
}

REMORA_RT_EXPORT void __cudaRegisterVar(void** handle, char* host_var, char*, const char* device_name, int,
                                        size_t size, int, int) {
  if (handle == nullptr || host_var == nullptr || device_name == nullptr) return;
  auto v = std::make_unique<RegisteredVar>();
  v->module = reinterpret_cast<RegisteredModule*>(handle);
  v->name = device_name;
  v->size = size;
  RuntimeApiState& st = runtime_api_state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.vars[host_var] = v.get();
  st.var_records.push_back(std::move(v));
}

// Loads the module in the current context now; 1 when it is loaded.
REMORA_RT_EXPORT char __cudaInitModule(void** handle) {
  if (handle == nullptr || rt_ensure_context() != cudaSuccess) return 0;
  CUmodule mod = nullptr;
  return module_in(reinterpret_cast<RegisteredModule*>(handle), current_context(), &mod) == cudaSuccess ? 1 : 0;
}

REMORA_RT_EXPORT unsigned __cudaPushCallConfiguration(dim3 grid, dim3 block, size_t shared, struct CUstream_st* stream) {
  call_configurations().push_back(CallConfiguration{grid, block, shared, stream});
  return 0;
}

REMORA_RT_EXPORT cudaError_t __cudaPopCallConfiguration(dim3* grid, dim3* block, size_t* shared, void* stream) {
  auto& stack = call_configurations();
  if (stack.empty()) return rt_result(cudaErrorMissingConfiguration);
  const CallConfiguration c = stack.back();
  stack.pop_back();
  *grid = c.grid;
  *block = c.block;
  *shared = c.shared;
  *static_cast<cudaStream_t*>(stream) = c.stream;
  return cudaSuccess;
}

// The kernel handle of a host stub: the registration record itself (no server round trip; the
// function is looked up at the first launch).
REMORA_RT_EXPORT cudaError_t __cudaGetKernel(cudaKernel_t* kernel, const void* func) {
  if (kernel == nullptr) return rt_result(cudaErrorInvalidValue);
  RegisteredKernel* k = kernel_of(func);
  if (k == nullptr) return rt_result(cudaErrorInvalidDeviceFunction);
  *kernel = reinterpret_cast<cudaKernel_t>(k);
  return cudaSuccess;
}

REMORA_RT_EXPORT cudaError_t __cudaLaunchKernel(cudaKernel_t kernel, dim3 grid, dim3 block, void** args, size_t shared,
                                                cudaStream_t stream) {
  return rt_result(launch(reinterpret_cast<const void*>(kernel), grid, block, args, shared, stream));
}

extern "C" {

// ---- The public API (cuda.spec.c) ----------------------------------------------------------------

cudaError_t remora_rt_launch_kernel(const void* func, dim3 grid, dim3 block, void** args, size_t shared,
                                    cudaStream_t stream) {
  return rt_result(launch(func, grid, block, args, shared, stream));
}

cudaError_t remora_rt_func_get_attributes(cudaFuncAttributes* attr, const void* func) {
  if (attr == nullptr) return rt_result(cudaErrorInvalidValue);
  CUfunction f = nullptr;
  if (cudaError_t e = rt_function(func, &f); e != cudaSuccess) return rt_result(e);
  cudaFuncAttributes a;
  std::memset(&a, 0, sizeof a);
  int v = 0;
  CUresult r = CUDA_SUCCESS;
  auto get = [&](CUfunction_attribute which) {
    v = 0;
    if (r == CUDA_SUCCESS) r = remora_remote_cuFuncGetAttribute(&v, which, f);
    return v;
  };
  a.sharedSizeBytes = static_cast<size_t>(get(CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES));
  a.constSizeBytes = static_cast<size_t>(get(CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES));
  a.localSizeBytes = static_cast<size_t>(get(CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES));
  a.maxThreadsPerBlock = get(CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
  a.numRegs = get(CU_FUNC_ATTRIBUTE_NUM_REGS);
  a.ptxVersion = get(CU_FUNC_ATTRIBUTE_PTX_VERSION);
  a.binaryVersion = get(CU_FUNC_ATTRIBUTE_BINARY_VERSION);
  a.cacheModeCA = get(CU_FUNC_ATTRIBUTE_CACHE_MODE_CA);
  a.maxDynamicSharedSizeBytes = get(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
  a.preferredShmemCarveout = get(CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT);
  a.clusterDimMustBeSet = get(CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET);
  a.requiredClusterWidth = get(CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH);
  a.requiredClusterHeight = get(CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT);
  a.requiredClusterDepth = get(CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH);
  a.clusterSchedulingPolicyPreference = get(CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE);
  a.nonPortableClusterSizeAllowed = get(CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED);
  if (r != CUDA_SUCCESS) return rt_result(r);
  *attr = a;
  return cudaSuccess;
}

// cudaFuncAttribute and cudaFuncCache values are the driver's CUfunction_attribute and CUfunc_cache.
cudaError_t remora_rt_func_set_attribute(const void* func, cudaFuncAttribute attr, int value) {
  CUfunction f = nullptr;
  if (cudaError_t e = rt_function(func, &f); e != cudaSuccess) return rt_result(e);
  return rt_result(remora_remote_cuFuncSetAttribute(f, static_cast<CUfunction_attribute>(attr), value));
}

cudaError_t remora_rt_func_set_cache_config(const void* func, cudaFuncCache config) {
  CUfunction f = nullptr;
  if (cudaError_t e = rt_function(func, &f); e != cudaSuccess) return rt_result(e);
  return rt_result(remora_remote_cuFuncSetCacheConfig(f, static_cast<CUfunc_cache>(config)));
}

cudaError_t remora_rt_occupancy_max_active_blocks(int* blocks, const void* func, int block_size, size_t shared) {
  CUfunction f = nullptr;
  if (cudaError_t e = rt_function(func, &f); e != cudaSuccess) return rt_result(e);
  return rt_result(remora_remote_cuOccupancyMaxActiveBlocksPerMultiprocessor(blocks, f, block_size, shared));
}

}  // extern "C"
