// The recording dummy driver's device model: answers a real CUDA runtime (cudart, cuBLAS) needs to
// start and run over remora's libcuda without a GPU (tests/cuda). The generated dummy logs every call
// and fills outputs with a pattern; the functions here (remora_cuda_dummy_<fn>, emit_dummy.cpp) answer
// after it for what a runtime checks: one device of compute capability 9.0 with plausible limits, a
// CUDA 13 driver, device memory handed out from a fake address range, modules whose kernels take one
// 8-byte parameter. Kernels do not run; copies do not copy.
#include <cuda.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

namespace {

constexpr int kDevices = 1;
constexpr size_t kTotalMemory = size_t{141} << 30;

// Device addresses: a range no host allocation uses, bump-allocated, never reused.
constexpr CUdeviceptr kDeviceBase = 0x7e0000000000ull;
std::atomic<CUdeviceptr> g_next{kDeviceBase};
std::atomic<size_t> g_used{0};

int attribute(CUdevice_attribute a) {
  switch (a) {
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: return 9;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: return 0;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: return 132;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: return 64;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: return 2147483647;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: return 65535;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: return 65535;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: return 49152;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: return 232448;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: return 233472;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: return 65536;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: return 32;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: return 65536;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: return 65536;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: return 1980000;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: return 3201000;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: return 6144;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: return 62914560;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: return 2048;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: return 32;
    case CU_DEVICE_ATTRIBUTE_MAX_PITCH: return 2147483647;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT: return 512;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT: return 32;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: return 2;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: return 0;
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: return 0;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE: return CU_COMPUTEMODE_DEFAULT;
    case CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT: return 0;
    case CU_DEVICE_ATTRIBUTE_INTEGRATED: return 0;
    case CU_DEVICE_ATTRIBUTE_TCC_DRIVER: return 0;
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD: return 0;
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD_GROUP_ID: return 0;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: return 3;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM: return 1;
    case CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES: return 1;
    case CU_DEVICE_ATTRIBUTE_NUMA_CONFIG: return 0;
    case CU_DEVICE_ATTRIBUTE_NUMA_ID: return -1;
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_ID: return -1;
    case CU_DEVICE_ATTRIBUTE_MPS_ENABLED: return 0;
    case CU_DEVICE_ATTRIBUTE_GPU_PCI_DEVICE_ID: return 0x233510de;
    case CU_DEVICE_ATTRIBUTE_GPU_PCI_SUBSYSTEM_ID: return 0;
    case CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE: return 78643200;
    case CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE: return 134213632;
    case CU_DEVICE_ATTRIBUTE_SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO: return 2;
    case CU_DEVICE_ATTRIBUTE_SURFACE_ALIGNMENT: return 512;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_WIDTH: return 131072;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_WIDTH: return 131072;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_HEIGHT: return 65536;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_WIDTH: return 16384;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_HEIGHT: return 16384;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_DEPTH: return 16384;
    case CU_DEVICE_ATTRIBUTE_MEM_SYNC_DOMAIN_COUNT: return 4;
    case CU_DEVICE_ATTRIBUTE_HOST_NATIVE_ATOMIC_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS: return 0;
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS_USES_HOST_PAGE_TABLES: return 0;
    case CU_DEVICE_ATTRIBUTE_DIRECT_MANAGED_MEM_ACCESS_FROM_HOST: return 0;
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_HANDLE_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_KMT_HANDLE_SUPPORTED: return 0;
    default: return 1;  // the many "supported" flags (unified addressing, managed memory, ...)
  }
}

// Kernels of a dummy module: one parameter of 8 bytes (a pointer, in the tests' kernels).
constexpr size_t kParams = 1;

// Streams being captured (cuStreamBeginCapture to cuStreamEndCapture), with their capture ids.
std::mutex g_capture_mu;
std::map<CUstream, cuuint64_t> g_capturing;  // guarded by g_capture_mu
cuuint64_t g_next_capture = 0;               // guarded by g_capture_mu

CUstreamCaptureStatus capture_status(CUstream s, cuuint64_t* id) {
  std::lock_guard<std::mutex> lock(g_capture_mu);
  auto it = g_capturing.find(s);
  if (id != nullptr) *id = it != g_capturing.end() ? it->second : 0;
  return it != g_capturing.end() ? CU_STREAM_CAPTURE_STATUS_ACTIVE : CU_STREAM_CAPTURE_STATUS_NONE;
}

}  // namespace

extern "C" {

CUresult remora_cuda_dummy_cuDriverGetVersion(int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = 13000;
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuDeviceGetCount(int* count) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *count = kDevices;
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuDeviceGet(CUdevice* device, int ordinal) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (ordinal < 0 || ordinal >= kDevices) return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuDeviceGetName(char* name, int len, CUdevice dev) {
  if (name == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  if (dev < 0 || dev >= kDevices) return CUDA_ERROR_INVALID_DEVICE;
  std::strncpy(name, "NVIDIA H200", static_cast<size_t>(len));
  name[len - 1] = '\0';
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (dev < 0 || dev >= kDevices) return CUDA_ERROR_INVALID_DEVICE;
  *bytes = kTotalMemory;
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuDeviceGetAttribute(int* pi, CUdevice_attribute attrib, CUdevice dev) {
  if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (dev < 0 || dev >= kDevices) return CUDA_ERROR_INVALID_DEVICE;
  *pi = attribute(attrib);
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuDeviceGetUuid_v2(CUuuid* uuid, CUdevice dev) {
  if (uuid == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (dev < 0 || dev >= kDevices) return CUDA_ERROR_INVALID_DEVICE;
  for (int i = 0; i < 16; ++i) uuid->bytes[i] = static_cast<char>(0xa0 + i + dev);
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuModuleGetLoadingMode(CUmoduleLoadingMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *mode = CU_MODULE_LAZY_LOADING;
  return CUDA_SUCCESS;
}

// The first ABI: the same UUID (no MIG instances here).
CUresult remora_cuda_dummy_cuDeviceGetUuid(CUuuid* uuid, CUdevice dev) { return remora_cuda_dummy_cuDeviceGetUuid_v2(uuid, dev); }

CUresult remora_cuda_dummy_cuCtxGetDevice(CUdevice* device) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *device = 0;
  return CUDA_SUCCESS;
}

// The calling thread's current context, as the driver keeps it.
thread_local CUcontext t_current = nullptr;

CUresult remora_cuda_dummy_cuCtxSetCurrent(CUcontext ctx) {
  t_current = ctx;
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuCtxGetCurrent(CUcontext* ctx) {
  if (ctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *ctx = t_current;
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuCtxGetDevice_v2(CUdevice* device, CUcontext) { return remora_cuda_dummy_cuCtxGetDevice(device); }

// What the driver answers for a context made by the _v2 context API.
CUresult remora_cuda_dummy_cuCtxGetApiVersion(CUcontext, unsigned int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = 3020;
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytes) {
  if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (bytes > kTotalMemory - g_used.load()) return CUDA_ERROR_OUT_OF_MEMORY;
  const size_t rounded = (bytes + 511) & ~size_t{511};
  *dptr = g_next.fetch_add(rounded);
  g_used += rounded;
  return CUDA_SUCCESS;
}

// A module's global: 256 bytes of device memory of its own, each time it is asked for.
CUresult remora_cuda_dummy_cuLibraryGetGlobal(CUdeviceptr* dptr, size_t* bytes, CUlibrary, const char* name) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (bytes != nullptr) *bytes = 256;
  if (dptr != nullptr) return remora_cuda_dummy_cuMemAlloc_v2(dptr, 256);
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuModuleGetGlobal_v2(CUdeviceptr* dptr, size_t* bytes, CUmodule, const char* name) {
  return remora_cuda_dummy_cuLibraryGetGlobal(dptr, bytes, nullptr, name);
}

CUresult remora_cuda_dummy_cuMemGetInfo_v2(size_t* free, size_t* total) {
  if (free != nullptr) *free = kTotalMemory - g_used.load();
  if (total != nullptr) *total = kTotalMemory;
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuFuncGetParamInfo(CUfunction, size_t index, size_t* offset, size_t* size) {
  if (index >= kParams) return CUDA_ERROR_INVALID_VALUE;
  if (offset != nullptr) *offset = 8 * index;
  if (size != nullptr) *size = 8;
  return CUDA_SUCCESS;
}

// Stream capture: a stream captures from Begin to End; its status and id answer the queries.
CUresult remora_cuda_dummy_cuStreamBeginCapture_v2(CUstream s, CUstreamCaptureMode) {
  std::lock_guard<std::mutex> lock(g_capture_mu);
  if (!g_capturing.emplace(s, ++g_next_capture).second) return CUDA_ERROR_ILLEGAL_STATE;
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuStreamEndCapture(CUstream s, CUgraph*) {
  std::lock_guard<std::mutex> lock(g_capture_mu);
  if (g_capturing.erase(s) == 0) return CUDA_ERROR_ILLEGAL_STATE;
  return CUDA_SUCCESS;  // the graph: the generated dummy's new object
}

CUresult remora_cuda_dummy_cuStreamIsCapturing(CUstream s, CUstreamCaptureStatus* status) {
  if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *status = capture_status(s, nullptr);
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuStreamGetCaptureInfo_v3(CUstream s, CUstreamCaptureStatus* status, cuuint64_t* id,
                                                     CUgraph* graph, const CUgraphNode** deps,
                                                     const CUgraphEdgeData** edges, size_t* count) {
  if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *status = capture_status(s, id);
  if (graph != nullptr) *graph = nullptr;
  if (deps != nullptr) *deps = nullptr;
  if (edges != nullptr) *edges = nullptr;
  if (count != nullptr) *count = 0;
  return CUDA_SUCCESS;
}

// Occupancy, as an H200 would answer it: up to 32 blocks and 2048 threads per SM, 227 KiB of shared
// memory for a block; clusters of up to 16 blocks (8 portable), as many as the SMs hold.
CUresult remora_cuda_dummy_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int* blocks, CUfunction, int block_size,
                                                                              size_t shared, unsigned int) {
  if (blocks == nullptr || block_size <= 0) return CUDA_ERROR_INVALID_VALUE;
  int by_threads = 2048 / block_size;
  int by_shared = shared == 0 ? 32 : static_cast<int>(233472 / (shared + 1024));
  *blocks = std::max(0, std::min({32, by_threads, by_shared}));
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, CUfunction f, int block_size,
                                                                       size_t shared) {
  return remora_cuda_dummy_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(blocks, f, block_size, shared, 0);
}

CUresult remora_cuda_dummy_cuOccupancyAvailableDynamicSMemPerBlock(size_t* bytes, CUfunction, int blocks, int block_size) {
  if (bytes == nullptr || blocks <= 0 || block_size <= 0) return CUDA_ERROR_INVALID_VALUE;
  *bytes = std::min<size_t>(232448, 233472 / blocks - 1024);
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuOccupancyMaxActiveClusters(int* clusters, CUfunction f, const CUlaunchConfig* config) {
  if (clusters == nullptr || config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  unsigned int size = 1;
  for (unsigned int i = 0; i < config->numAttrs && config->attrs != nullptr; ++i)
    if (config->attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION) {
      const auto& d = config->attrs[i].value.clusterDim;
      size = d.x * d.y * d.z;
    }
  if (size == 0 || size > 16) return CUDA_ERROR_INVALID_CLUSTER_SIZE;
  int per_sm = 0;
  const int threads = static_cast<int>(config->blockDimX * config->blockDimY * config->blockDimZ);
  if (CUresult r = remora_cuda_dummy_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&per_sm, f, threads,
                                                                                          config->sharedMemBytes, 0);
      r != CUDA_SUCCESS)
    return r;
  *clusters = static_cast<int>(132 * per_sm / size);
  return CUDA_SUCCESS;
}

CUresult remora_cuda_dummy_cuOccupancyMaxPotentialClusterSize(int* size, CUfunction, const CUlaunchConfig* config) {
  if (size == nullptr || config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *size = 8;
  return CUDA_SUCCESS;
}

}  // extern "C"
