// The CUDA driver API (cuda.h, CUDA 13) as remora forwards it: what a basic driver-API program needs
// (devices, contexts, modules, memory, streams, events, launches), annotated per include/remora/spec.h.
//
// Names: cuda.h maps most API names to versioned symbols (cuMemAlloc -> cuMemAlloc_v2). The spec
// writes the API names; clang sees, and remora exports, the versioned symbols an application compiled
// against this header calls.
//
// Opcodes: append-only, in the order below; remora's own calls (remora_cu*) from 200.
//
// The runtime API (cuda_runtime_api.h, the last section) is implemented in the guest over this driver
// API (guest/runtime_*.cpp), as cudart itself is over the driver: the same session, the same contexts
// (cudart's primary context is the driver's), so device pointers, streams and events are shared by
// driver, runtime and server-side library (cuBLAS) calls.
//
// Conventions:
// - The current context is per-thread state (REMORA_THREAD_STATE): the guest keeps each thread's
//   context stack (guest/library.cpp) and every call carries the thread's current context; the server
//   makes it current on the thread that runs the call (server/server_hooks.cpp).
// - CUdevice is an int and CUdeviceptr a device address: both travel as scalars.
// - Work queued on a stream is asynchronous (REMORA_ASYNC): kernel launches, the *Async memsets,
//   device-to-device copies, event records and stream waits are batched and return CUDA_SUCCESS at
//   once, as the driver itself does for most of their failures; a failure on the server is reported by
//   the next blocking call (cuStreamSynchronize, cuCtxSynchronize, cuEventSynchronize, a copy to the
//   host), like an asynchronous kernel fault. Launch configurations the driver refuses at once (too
//   many threads per block) are refused by the guest at once too (guest/launch.cpp).
//   Everything else is synchronous: errors come back from the call that caused them.
// - Host memory: over shm, page-locked allocations (cuMemAllocHost/cuMemHostAlloc) are shared regions
//   the server has registered with the driver, and copies from or to them travel as (region, offset):
//   the driver's own DMA, as natively. Large copies from ordinary (pageable) memory go through a
//   registered staging region the same way. Elsewhere (tcp, unix) host memory is plain guest memory
//   and copies move bytes in messages (guest/guest_host_memory.cpp). Managed memory and host-mapped
//   pointers do not exist here and answer CUDA_ERROR_NOT_SUPPORTED.
#include <remora/spec.h>
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <cublas_api.h>

#include <spec_helpers.h>  // angled: generated code includes it too (apis/cuda is on its include path)
#include <cuda_host_region.h>  // likewise; uniquely named (see there)

// transport: the server is unreachable or gone. CUDA_ERROR_DEVICE_UNAVAILABLE ("device unavailable")
// is what an application already handles for a device it cannot use right now.
REMORA_API(cuda, "type=CUresult,success=CUDA_SUCCESS,transport=CUDA_ERROR_DEVICE_UNAVAILABLE,"
                 "unsupported=CUDA_ERROR_NOT_SUPPORTED,invalid=CUDA_ERROR_INVALID_VALUE,"
                 "no_memory=CUDA_ERROR_OUT_OF_MEMORY,quota=CUDA_ERROR_OUT_OF_MEMORY");

// The functions of the three headers this spec leaves out are exported all the same and answer each
// library's "not supported" (logged once per function): a program that calls one gets an error it can
// report, where it would otherwise fail to load with ld.so's "undefined symbol".
REMORA_REFUSE_UNLISTED(CUresult, CUDA_ERROR_NOT_SUPPORTED);
REMORA_REFUSE_UNLISTED(cudaError_t, cudaErrorNotSupported);
REMORA_REFUSE_UNLISTED(cublasStatus_t, CUBLAS_STATUS_NOT_SUPPORTED);

REMORA_THREAD_STATE(remora_cuda_guest_thread_state, remora_cuda_server_thread_state);

REMORA_HANDLE(CUcontext, CUDA_ERROR_INVALID_CONTEXT);
REMORA_HANDLE(CUmodule, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUfunction, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUstream, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUevent, CUDA_ERROR_INVALID_HANDLE);
// A shared, page-locked host region (spec_helpers.h): remora's own, for page-locked memory and staging.
REMORA_HANDLE(remora_cu_host_region, CUDA_ERROR_INVALID_VALUE);

// ---- Initialisation, errors, entry points ------------------------------------------------------------

REMORA_OPCODE(1) REMORA_GUEST(remora_cu_init)
CUresult cuInit(unsigned int Flags);

REMORA_OPCODE(2)
CUresult cuDriverGetVersion(int *driverVersion);

// Answered by the server's driver once per code, then from the guest's table (guest/library.cpp).
REMORA_LOCAL(remora_cu_get_error_string)
CUresult cuGetErrorString(CUresult error, const char **pStr);
REMORA_LOCAL(remora_cu_get_error_name)
CUresult cuGetErrorName(CUresult error, const char **pStr);

// Resolves names to remora's own entry points (guest/entry_points.cpp).
REMORA_LOCAL(remora_cu_get_proc_address)
CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                          CUdriverProcAddressQueryResult *symbolStatus);

// The driver's private tables: remora has none and answers an error, logging the table's UUID
// (guest/entry_points.cpp, docs/cuda-export-tables.md).
REMORA_LOCAL(remora_cu_get_export_table)
CUresult cuGetExportTable(const void **ppExportTable, const CUuuid *pExportTableId);

// ---- Devices ----------------------------------------------------------------------------------------

REMORA_OPCODE(3)
CUresult cuDeviceGet(CUdevice *device, int ordinal);

REMORA_OPCODE(4)
CUresult cuDeviceGetCount(int *count);

REMORA_OPCODE(5)
CUresult cuDeviceGetName(char *name REMORA_OUT REMORA_COUNT(remora_cu_nonnegative(len)), int len, CUdevice dev);

REMORA_OPCODE(6)
CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev);

REMORA_OPCODE(7)
CUresult cuDeviceTotalMem(size_t *bytes, CUdevice dev);

REMORA_OPCODE(8)
CUresult cuDeviceGetUuid(CUuuid *uuid REMORA_OUT REMORA_COUNT(1), CUdevice dev);

REMORA_OPCODE(9)
CUresult cuDeviceGetPCIBusId(char *pciBusId REMORA_OUT REMORA_COUNT(remora_cu_nonnegative(len)), int len,
                             CUdevice dev);

// ---- Primary contexts -------------------------------------------------------------------------------

// The primary context is one object per device whose references the driver counts by device, not by
// handle: the guest holds it borrowed (EXISTING), and the server process's exit releases what is left.
REMORA_OPCODE(10)
CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx REMORA_EXISTING, CUdevice dev);

REMORA_OPCODE(11)
CUresult cuDevicePrimaryCtxRelease(CUdevice dev);

REMORA_OPCODE(12)
CUresult cuDevicePrimaryCtxReset(CUdevice dev);

REMORA_OPCODE(13)
CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active);

REMORA_OPCODE(14)
CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags);

// ---- Contexts ---------------------------------------------------------------------------------------

// Through remora_cuCtxCreate: the guest hook makes the new context current on the calling thread, as
// the driver does. Creation parameters (execution affinity, CIG) hold pointers and are not forwarded
// (CUDA_ERROR_NOT_SUPPORTED). Opcode 15 stays reserved for a full forwarding.
REMORA_LOCAL(remora_cu_ctx_create)
CUresult cuCtxCreate(CUcontext *pctx, CUctxCreateParams *ctxCreateParams, unsigned int flags, CUdevice dev);

REMORA_OPCODE(16) REMORA_RELEASES(ctx) REMORA_GUEST(remora_cu_ctx_destroy)
CUresult cuCtxDestroy(CUcontext ctx);

// The context stack is the guest thread's (guest/library.cpp).
REMORA_LOCAL(remora_cu_ctx_set_current)
CUresult cuCtxSetCurrent(CUcontext ctx);
REMORA_LOCAL(remora_cu_ctx_get_current)
CUresult cuCtxGetCurrent(CUcontext *pctx REMORA_EXISTING);
REMORA_LOCAL(remora_cu_ctx_push_current)
CUresult cuCtxPushCurrent(CUcontext ctx);
REMORA_LOCAL(remora_cu_ctx_pop_current)
CUresult cuCtxPopCurrent(CUcontext *pctx REMORA_EXISTING);

REMORA_OPCODE(17) REMORA_BLOCKING
CUresult cuCtxSynchronize(void);

REMORA_OPCODE(18)
CUresult cuCtxGetDevice(CUdevice *device);

REMORA_OPCODE(19)
CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int *version);

REMORA_OPCODE(20)
CUresult cuCtxGetFlags(unsigned int *flags);

REMORA_OPCODE(21)
CUresult cuCtxSetLimit(CUlimit limit, size_t value);

REMORA_OPCODE(22)
CUresult cuCtxGetLimit(size_t *pvalue, CUlimit limit);

REMORA_OPCODE(23)
CUresult cuCtxGetStreamPriorityRange(int *leastPriority, int *greatestPriority);

// ---- Modules ----------------------------------------------------------------------------------------

// The image's size comes from its own header (cubin ELF, fatbin) or its NUL (PTX): spec_helpers.h.
REMORA_OPCODE(24)
CUresult cuModuleLoadData(CUmodule *module,
                          const void *image REMORA_BYTES(remora_cu_module_image_bytes(image)));

// Through remora_cuModuleLoadDataEx: option values are scalars in pointer-sized slots and travel as
// such; options whose value points at the application's memory (the JIT log buffers) or is written back
// in place are refused with CUDA_ERROR_NOT_SUPPORTED. TODO: forward the JIT logs. Opcode 25 reserved.
REMORA_LOCAL(remora_cu_module_load_data_ex)
CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions, CUjit_option *options,
                            void **optionValues);

REMORA_OPCODE(26) REMORA_RELEASES(hmod)
CUresult cuModuleUnload(CUmodule hmod);

// Functions live as long as their module: borrowed.
REMORA_OPCODE(27)
CUresult cuModuleGetFunction(CUfunction *hfunc REMORA_EXISTING, CUmodule hmod, const char *name);

REMORA_OPCODE(28)
CUresult cuModuleGetGlobal(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod, const char *name);

REMORA_UNSUPPORTED("reads a file on the application's host: load it and use cuModuleLoadData")
CUresult cuModuleLoad(CUmodule *module, const char *fname);

// ---- Functions and launches -------------------------------------------------------------------------

REMORA_OPCODE(29)
CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc);

REMORA_OPCODE(30)
CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value);

REMORA_OPCODE(31)
CUresult cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config);

REMORA_OPCODE(32)
CUresult cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t *paramOffset, size_t *paramSize);

REMORA_OPCODE(33)
CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func, int blockSize,
                                                     size_t dynamicSMemSize);

// kernelParams is an array of pointers to each argument: the guest packs the arguments into the
// kernel's parameter buffer, laid out by the module (remora_cuFuncGetParamLayout, asked once per
// function), and sends that (guest/launch.cpp).
REMORA_LOCAL(remora_cu_launch_kernel)
CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                        unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                        unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra);

// ---- Memory -----------------------------------------------------------------------------------------

// TODO(security): device memory is not charged to the tenant's quota yet (a CUdeviceptr is not a
// handle the resource accounting can tie a charge to).
REMORA_OPCODE(34)
CUresult cuMemAlloc(CUdeviceptr *dptr, size_t bytesize);

REMORA_OPCODE(35)
CUresult cuMemFree(CUdeviceptr dptr);

REMORA_OPCODE(36)
CUresult cuMemGetInfo(size_t *free, size_t *total);

// Copies from and to the host: page-locked regions and large pageable copies go through shared
// regions where the transport has them (guest/guest_host_memory.cpp); the generated stub, which carries
// the bytes in the messages, is the fallback.
REMORA_OPCODE(37) REMORA_GUEST(remora_cu_memcpy_htod)
CUresult cuMemcpyHtoD(CUdeviceptr dstDevice, const void *srcHost REMORA_BYTES(ByteCount), size_t ByteCount);

REMORA_OPCODE(38) REMORA_BLOCKING REMORA_GUEST(remora_cu_memcpy_dtoh)
CUresult cuMemcpyDtoH(void *dstHost REMORA_OUT REMORA_BYTES(ByteCount), CUdeviceptr srcDevice, size_t ByteCount);

REMORA_OPCODE(39)
CUresult cuMemcpyDtoD(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount);

// The bytes travel with the call; the server's copy is from its own pageable memory, which the driver
// stages before it returns, so the call's buffer may go at once.
REMORA_OPCODE(40) REMORA_GUEST(remora_cu_memcpy_htod_async)
CUresult cuMemcpyHtoDAsync(CUdeviceptr dstDevice, const void *srcHost REMORA_BYTES(ByteCount),
                           size_t ByteCount, CUstream hStream);

// The data must be in the application's memory before anything can observe the copy's completion:
// the server waits for the stream and replies with the bytes. TODO(perf): deferred data (the bytes
// follow when the stream reaches the copy) so the call returns at once.
REMORA_OPCODE(41) REMORA_BLOCKING REMORA_SERVER(remora_cu_server_memcpy_dtoh_async) REMORA_GUEST(remora_cu_memcpy_dtoh_async)
REMORA_REQUIRES(cuStreamSynchronize)
CUresult cuMemcpyDtoHAsync(void *dstHost REMORA_OUT REMORA_BYTES(ByteCount), CUdeviceptr srcDevice,
                           size_t ByteCount, CUstream hStream);

REMORA_OPCODE(42) REMORA_ASYNC
CUresult cuMemcpyDtoDAsync(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream);

REMORA_OPCODE(43)
CUresult cuMemsetD8(CUdeviceptr dstDevice, unsigned char uc, size_t N);
REMORA_OPCODE(44)
CUresult cuMemsetD16(CUdeviceptr dstDevice, unsigned short us, size_t N);
REMORA_OPCODE(45)
CUresult cuMemsetD32(CUdeviceptr dstDevice, unsigned int ui, size_t N);
REMORA_OPCODE(46) REMORA_ASYNC
CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream);
REMORA_OPCODE(47) REMORA_ASYNC
CUresult cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream);
REMORA_OPCODE(48) REMORA_ASYNC
CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream);

// Page-locked host memory: a shared region the server registered with the driver, or ordinary guest
// memory where the transport has no regions (guest/guest_host_memory.cpp).
REMORA_LOCAL(remora_cu_mem_alloc_host)
CUresult cuMemAllocHost(void **pp, size_t bytesize);
REMORA_LOCAL(remora_cu_mem_host_alloc)
CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags);
REMORA_LOCAL(remora_cu_mem_free_host)
CUresult cuMemFreeHost(void *p);

REMORA_UNSUPPORTED("managed memory needs the device to page the application's memory")
CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags);
REMORA_UNSUPPORTED("host memory is the application's, on another machine than the device")
CUresult cuMemHostGetDevicePointer(CUdeviceptr *pdptr, void *p, unsigned int Flags);
REMORA_UNSUPPORTED("host memory is the application's, on another machine than the device")
CUresult cuMemHostRegister(void *p, size_t bytesize, unsigned int Flags);
REMORA_UNSUPPORTED("unified addressing: the guest cannot tell host from device pointers; use cuMemcpyHtoD/DtoH/DtoD")
CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount);

// ---- Streams ----------------------------------------------------------------------------------------

// TODO: the special streams CU_STREAM_LEGACY and CU_STREAM_PER_THREAD are not handles the guest knows
// and answer CUDA_ERROR_INVALID_HANDLE; NULL (the default stream) works.
REMORA_OPCODE(49)
CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags);

REMORA_OPCODE(50)
CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority);

REMORA_OPCODE(51) REMORA_RELEASES(hStream)
CUresult cuStreamDestroy(CUstream hStream);

REMORA_OPCODE(52) REMORA_BLOCKING
CUresult cuStreamSynchronize(CUstream hStream);

REMORA_OPCODE(53)
CUresult cuStreamQuery(CUstream hStream);

REMORA_OPCODE(54) REMORA_ASYNC
CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags);

// ---- Events -----------------------------------------------------------------------------------------

REMORA_OPCODE(55)
CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags);

REMORA_OPCODE(56) REMORA_ASYNC
CUresult cuEventRecord(CUevent hEvent, CUstream hStream);

REMORA_OPCODE(57) REMORA_BLOCKING
CUresult cuEventSynchronize(CUevent hEvent);

REMORA_OPCODE(58)
CUresult cuEventQuery(CUevent hEvent);

REMORA_OPCODE(59)
CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd);

REMORA_OPCODE(60) REMORA_RELEASES(hEvent)
CUresult cuEventDestroy(CUevent hEvent);

// ---- remora's own calls -----------------------------------------------------------------------------

// The text of an error code: which = 0 its name (cuGetErrorName), 1 its description (cuGetErrorString).
REMORA_OPCODE(200) REMORA_SERVER(remora_cu_server_get_error_text) REMORA_REQUIRES(cuGetErrorName, cuGetErrorString)
CUresult remora_cuGetErrorText(CUresult error, int which,
                               char *text REMORA_OUT REMORA_COUNT(capacity) REMORA_LENGTH_RET(length),
                               size_t capacity, size_t *length);

// The parameter layout of a kernel: entry i is (offset << 32 | size) of parameter i, from
// cuFuncGetParamInfo. *count receives the number of parameters.
REMORA_OPCODE(201) REMORA_SERVER(remora_cu_server_func_get_param_layout) REMORA_REQUIRES(cuFuncGetParamInfo)
CUresult remora_cuFuncGetParamLayout(CUfunction f, unsigned int capacity,
                                     uint64_t *layout REMORA_OUT REMORA_COUNT(capacity) REMORA_LENGTH_RET(count),
                                     unsigned int *count);

// A launch with its parameters already packed into the kernel's parameter buffer; the server hands it
// to the driver as CU_LAUNCH_PARAM_BUFFER_POINTER. Asynchronous: see the conventions at the top.
REMORA_OPCODE(202) REMORA_ASYNC REMORA_SERVER(remora_cu_server_launch_packed) REMORA_REQUIRES(cuLaunchKernel)
CUresult remora_cuLaunchKernelPacked(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                     unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                     unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                                     const uint8_t *params REMORA_COUNT(params_size), size_t params_size);

// cuCtxCreate without creation parameters (guest/library.cpp).
REMORA_OPCODE(203) REMORA_SERVER(remora_cu_server_ctx_create) REMORA_REQUIRES(cuCtxCreate)
CUresult remora_cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev);

// cuModuleLoadDataEx with its option values as integers (guest/library.cpp).
REMORA_OPCODE(204) REMORA_SERVER(remora_cu_server_module_load_data_ex) REMORA_REQUIRES(cuModuleLoadDataEx)
CUresult remora_cuModuleLoadDataEx(CUmodule *module,
                                   const void *image REMORA_BYTES(remora_cu_module_image_bytes(image)),
                                   unsigned int numOptions,
                                   const CUjit_option *options REMORA_COUNT(numOptions),
                                   const uint64_t *optionValues REMORA_COUNT(numOptions));

// ---- The CUDA runtime API (cuda_runtime_api.h) ------------------------------------------------------
//
// What cudart does, done in the guest over the driver API above: the guest library also stands in for
// libcudart.so.13 (`remora run` links that name to it too), so a `-cudart shared` program's runtime
// calls never reach a real cudart in the application's process (whose start-up check a stand-in driver
// cannot pass: docs/cuda-export-tables.md). Per-thread state (current device, last error, the <<<>>>
// call configuration) is the guest thread's. The primary context of the thread's device is made
// current on first use, unless the thread already has a current context (as cudart does). Kernels,
// device variables and their fatbins are registered in the guest at start-up and loaded as modules on
// first use in each context (guest/runtime_modules.cpp). cudaError_t and CUresult share their numbers
// (CUDA 10.1+), so driver results pass through unchanged. What only a real cudart knows (error texts,
// cudaDeviceProp) comes from the server's cudart (remora_cuda*, below).

REMORA_LOCAL(remora_rt_get_device_count)
cudaError_t cudaGetDeviceCount(int *count);
REMORA_LOCAL(remora_rt_get_device)
cudaError_t cudaGetDevice(int *device);
REMORA_LOCAL(remora_rt_set_device)
cudaError_t cudaSetDevice(int device);
REMORA_LOCAL(remora_rt_get_device_properties)
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device);
REMORA_LOCAL(remora_rt_device_get_attribute)
cudaError_t cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr attr, int device);
REMORA_LOCAL(remora_rt_device_synchronize)
cudaError_t cudaDeviceSynchronize(void);
REMORA_LOCAL(remora_rt_device_reset)
cudaError_t cudaDeviceReset(void);
REMORA_LOCAL(remora_rt_device_get_stream_priority_range)
cudaError_t cudaDeviceGetStreamPriorityRange(int *leastPriority, int *greatestPriority);
REMORA_LOCAL(remora_rt_device_set_limit)
cudaError_t cudaDeviceSetLimit(enum cudaLimit limit, size_t value);
REMORA_LOCAL(remora_rt_device_get_limit)
cudaError_t cudaDeviceGetLimit(size_t *pValue, enum cudaLimit limit);
REMORA_LOCAL(remora_rt_driver_get_version)
cudaError_t cudaDriverGetVersion(int *driverVersion);
REMORA_LOCAL(remora_rt_runtime_get_version)
cudaError_t cudaRuntimeGetVersion(int *runtimeVersion);

REMORA_LOCAL(remora_rt_get_last_error)
cudaError_t cudaGetLastError(void);
REMORA_LOCAL(remora_rt_peek_at_last_error)
cudaError_t cudaPeekAtLastError(void);
REMORA_LOCAL(remora_rt_get_error_name)
const char *cudaGetErrorName(cudaError_t error);
REMORA_LOCAL(remora_rt_get_error_string)
const char *cudaGetErrorString(cudaError_t error);

// Device memory is the driver's (cuMemAlloc); host memory, pinned or not, the guest's.
REMORA_LOCAL(remora_rt_malloc)
cudaError_t cudaMalloc(void **devPtr, size_t size);
REMORA_LOCAL(remora_rt_free)
cudaError_t cudaFree(void *devPtr);
REMORA_LOCAL(remora_rt_malloc_host)
cudaError_t cudaMallocHost(void **ptr, size_t size);
REMORA_LOCAL(remora_rt_host_alloc)
cudaError_t cudaHostAlloc(void **pHost, size_t size, unsigned int flags);
REMORA_LOCAL(remora_rt_free_host)
cudaError_t cudaFreeHost(void *ptr);
REMORA_LOCAL(remora_rt_mem_get_info)
cudaError_t cudaMemGetInfo(size_t *free, size_t *total);
// cudaMemcpyDefault tells host from device by the cudaMalloc allocations the guest knows.
REMORA_LOCAL(remora_rt_memcpy)
cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind);
REMORA_LOCAL(remora_rt_memcpy_async)
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind, cudaStream_t stream);
REMORA_LOCAL(remora_rt_memset)
cudaError_t cudaMemset(void *devPtr, int value, size_t count);
REMORA_LOCAL(remora_rt_memset_async)
cudaError_t cudaMemsetAsync(void *devPtr, int value, size_t count, cudaStream_t stream);
REMORA_LOCAL(remora_rt_memcpy_to_symbol)
cudaError_t cudaMemcpyToSymbol(const void *symbol, const void *src, size_t count, size_t offset,
                               enum cudaMemcpyKind kind);
REMORA_LOCAL(remora_rt_memcpy_from_symbol)
cudaError_t cudaMemcpyFromSymbol(void *dst, const void *symbol, size_t count, size_t offset, enum cudaMemcpyKind kind);
REMORA_LOCAL(remora_rt_memcpy_to_symbol_async)
cudaError_t cudaMemcpyToSymbolAsync(const void *symbol, const void *src, size_t count, size_t offset,
                                    enum cudaMemcpyKind kind, cudaStream_t stream);
REMORA_LOCAL(remora_rt_memcpy_from_symbol_async)
cudaError_t cudaMemcpyFromSymbolAsync(void *dst, const void *symbol, size_t count, size_t offset,
                                      enum cudaMemcpyKind kind, cudaStream_t stream);
REMORA_LOCAL(remora_rt_get_symbol_address)
cudaError_t cudaGetSymbolAddress(void **devPtr, const void *symbol);
REMORA_LOCAL(remora_rt_get_symbol_size)
cudaError_t cudaGetSymbolSize(size_t *size, const void *symbol);

// cudaStreamLegacy is the NULL stream (remora programs use the legacy default stream); cudaStreamPerThread
// answers cudaErrorNotSupported.
REMORA_LOCAL(remora_rt_stream_create)
cudaError_t cudaStreamCreate(cudaStream_t *pStream);
REMORA_LOCAL(remora_rt_stream_create_with_flags)
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *pStream, unsigned int flags);
REMORA_LOCAL(remora_rt_stream_create_with_priority)
cudaError_t cudaStreamCreateWithPriority(cudaStream_t *pStream, unsigned int flags, int priority);
REMORA_LOCAL(remora_rt_stream_destroy)
cudaError_t cudaStreamDestroy(cudaStream_t stream);
REMORA_LOCAL(remora_rt_stream_synchronize)
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
REMORA_LOCAL(remora_rt_stream_query)
cudaError_t cudaStreamQuery(cudaStream_t stream);
REMORA_LOCAL(remora_rt_stream_wait_event)
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags);

REMORA_LOCAL(remora_rt_event_create)
cudaError_t cudaEventCreate(cudaEvent_t *event);
REMORA_LOCAL(remora_rt_event_create_with_flags)
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags);
REMORA_LOCAL(remora_rt_event_record)
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream);
REMORA_LOCAL(remora_rt_event_synchronize)
cudaError_t cudaEventSynchronize(cudaEvent_t event);
REMORA_LOCAL(remora_rt_event_query)
cudaError_t cudaEventQuery(cudaEvent_t event);
REMORA_LOCAL(remora_rt_event_elapsed_time)
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end);
REMORA_LOCAL(remora_rt_event_destroy)
cudaError_t cudaEventDestroy(cudaEvent_t event);

// `func` is a kernel's host stub (registered by __cudaRegisterFunction) or a cudaKernel_t from
// __cudaGetKernel. Arguments are packed by the kernel's parameter layout from the server, as for
// cuLaunchKernel; launches are asynchronous.
REMORA_LOCAL(remora_rt_launch_kernel)
cudaError_t cudaLaunchKernel(const void *func, dim3 gridDim, dim3 blockDim, void **args, size_t sharedMem,
                             cudaStream_t stream);
REMORA_LOCAL(remora_rt_func_get_attributes)
cudaError_t cudaFuncGetAttributes(struct cudaFuncAttributes *attr, const void *func);
REMORA_LOCAL(remora_rt_func_set_attribute)
cudaError_t cudaFuncSetAttribute(const void *func, enum cudaFuncAttribute attr, int value);
REMORA_LOCAL(remora_rt_func_set_cache_config)
cudaError_t cudaFuncSetCacheConfig(const void *func, enum cudaFuncCache cacheConfig);
REMORA_LOCAL(remora_rt_occupancy_max_active_blocks)
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, const void *func, int blockSize,
                                                          size_t dynamicSMemSize);

// Refused with cudaErrorNotSupported by guest hooks (REMORA_UNSUPPORTED's generated refusal knows only
// the API's status type, CUresult): managed memory needs the device to page the application's memory;
// host memory is the application's, on another machine than the device.
REMORA_LOCAL(remora_rt_malloc_managed)
cudaError_t cudaMallocManaged(void **devPtr, size_t size, unsigned int flags);
REMORA_LOCAL(remora_rt_host_register)
cudaError_t cudaHostRegister(void *ptr, size_t size, unsigned int flags);
REMORA_LOCAL(remora_rt_host_get_device_pointer)
cudaError_t cudaHostGetDevicePointer(void **pDevice, void *pHost, unsigned int flags);

// ---- remora's own calls for the runtime API, answered by the server's cudart ------------------------

// cudaGetDeviceProperties of the server's cudart; the result is a cudaError_t.
REMORA_OPCODE(205) REMORA_SERVER(remora_rt_server_get_device_properties)
CUresult remora_cudaGetDeviceProperties(int device, struct cudaDeviceProp *prop REMORA_OUT REMORA_COUNT(1));

// The text of a runtime error code: which = 0 its name, 1 its description; the server cudart's.
REMORA_OPCODE(206) REMORA_SERVER(remora_rt_server_get_error_text)
CUresult remora_cudaGetErrorText(int error, int which,
                                 char *text REMORA_OUT REMORA_COUNT(capacity) REMORA_LENGTH_RET(length),
                                 size_t capacity, size_t *length);

// ---- cuBLAS (cublas_api.h): the SGEMM path -----------------------------------------------------------
//
// The guest library also stands in for libcublas.so.13; the server runs the real cuBLAS (loaded on
// first use: REMORA_CUBLAS_LIBRARY, default libcublas.so.13) in the session's contexts, on device
// pointers and streams the guest got from the driver or runtime API. The public functions are guest
// hooks (guest/runtime_blas.cpp) over remora's own calls below, whose result carries the
// cublasStatus_t (REMORA_CUBLAS_STATUS_BASE + status, spec_helpers.h) apart from remora's own CUresult
// failures. Only the host pointer mode exists here: alpha and beta travel by value.

REMORA_HANDLE(cublasHandle_t, CUDA_ERROR_INVALID_HANDLE);

REMORA_LOCAL(remora_blas_create)
cublasStatus_t cublasCreate_v2(cublasHandle_t *handle);
REMORA_LOCAL(remora_blas_destroy)
cublasStatus_t cublasDestroy_v2(cublasHandle_t handle);
REMORA_LOCAL(remora_blas_get_version)
cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int *version);
REMORA_LOCAL(remora_blas_set_stream)
cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId);
REMORA_LOCAL(remora_blas_get_pointer_mode)
cublasStatus_t cublasGetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t *mode);
// CUBLAS_POINTER_MODE_DEVICE answers CUBLAS_STATUS_NOT_SUPPORTED.
REMORA_LOCAL(remora_blas_set_pointer_mode)
cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t mode);
REMORA_LOCAL(remora_blas_sgemm)
cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                              int k, const float *alpha, const float *A, int lda, const float *B, int ldb,
                              const float *beta, float *C, int ldc);

REMORA_OPCODE(207) REMORA_SERVER(remora_blas_server_create)
CUresult remora_cublasCreate(cublasHandle_t *handle);

// The handle's guest object stays (never reused); the server's cuBLAS frees its resources.
REMORA_OPCODE(208) REMORA_SERVER(remora_blas_server_destroy)
CUresult remora_cublasDestroy(cublasHandle_t handle);

REMORA_OPCODE(209) REMORA_SERVER(remora_blas_server_get_version)
CUresult remora_cublasGetVersion(cublasHandle_t handle, int *version);

REMORA_OPCODE(210) REMORA_SERVER(remora_blas_server_set_stream)
CUresult remora_cublasSetStream(cublasHandle_t handle, CUstream stream);

// Device matrices travel as addresses; alpha and beta as values (host pointer mode).
REMORA_OPCODE(211) REMORA_SERVER(remora_blas_server_sgemm)
CUresult remora_cublasSgemm(cublasHandle_t handle, int transa, int transb, int m, int n, int k, const float *alpha,
                            uint64_t A, int lda, uint64_t B, int ldb, const float *beta, uint64_t C, int ldc);

// A shared host region of `bytes` (rounded up to whole pages), page-locked by the server's driver
// (cuMemHostRegister, portable): its descriptor follows over the session's region link
// (transport/shared_region.h) before the reply. Over transports without one: CUDA_ERROR_NOT_SUPPORTED.
REMORA_OPCODE(212) REMORA_SERVER(remora_cu_server_host_region_create)
CUresult remora_cuHostRegionCreate(remora_cu_host_region *region, size_t bytes);

// Unregisters and unmaps a region (cuMemFreeHost). The guest has unmapped its own view already.
REMORA_OPCODE(213) REMORA_SERVER(remora_cu_server_host_region_destroy)
CUresult remora_cuHostRegionDestroy(remora_cu_host_region region);

// Copies between device memory and [offset, offset + ByteCount) of a region; the server checks the
// range against the region's size. `mode` (spec_helpers.h REMORA_CU_COPY_*): the synchronous copy, the copy
// queued on hStream, or the copy queued on hStream followed by a wait for the stream.
REMORA_OPCODE(214) REMORA_SERVER(remora_cu_server_memcpy_htod_region)
REMORA_REQUIRES(cuMemcpyHtoD, cuMemcpyHtoDAsync, cuStreamSynchronize)
CUresult remora_cuMemcpyHtoDRegion(CUdeviceptr dstDevice, remora_cu_host_region region, uint64_t offset,
                                   size_t ByteCount, CUstream hStream, unsigned int mode);

REMORA_OPCODE(215) REMORA_BLOCKING REMORA_SERVER(remora_cu_server_memcpy_dtoh_region)
REMORA_REQUIRES(cuMemcpyDtoH, cuMemcpyDtoHAsync, cuStreamSynchronize)
CUresult remora_cuMemcpyDtoHRegion(remora_cu_host_region region, uint64_t offset, CUdeviceptr srcDevice,
                                   size_t ByteCount, CUstream hStream, unsigned int mode);
