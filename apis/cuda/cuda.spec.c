// The CUDA driver API (cuda.h, CUDA 13) as remora forwards it: what a basic driver-API program needs
// (devices, contexts, modules, memory, streams, events, launches), annotated per include/remora/spec.h.
//
// Names: cuda.h maps most API names to versioned symbols (cuMemAlloc -> cuMemAlloc_v2). The spec
// writes the API names; clang sees, and remora exports, the versioned symbols an application compiled
// against this header calls.
//
// Opcodes: append-only, in the order below; remora's own calls (remora_cu*) from 200.
//
// remora's libcuda is the driver that NVIDIA's own libraries run over, unmodified, in the
// application's process: cudart (shared or static), cuBLAS, cuDNN, NCCL, ... reach the driver API
// through cuGetProcAddress and the private export tables (guest/export_tables.cpp). remora implements
// no runtime API of its own.
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
#include <cudaTypedefs.h>  // PFN_<function>_v<version>: the ABI versions cuGetProcAddress serves

#include <spec_helpers.h>  // angled: generated code includes it too (apis/cuda is on its include path)
#include <cuda_host_region.h>  // likewise; uniquely named (see there)

// transport: the server is unreachable or gone. CUDA_ERROR_DEVICE_UNAVAILABLE ("device unavailable")
// is what an application already handles for a device it cannot use right now. deinitialized: a
// call from a runtime's exit-time destructor after remora's driver shut down, the driver's own answer.
REMORA_API(cuda, "type=CUresult,success=CUDA_SUCCESS,transport=CUDA_ERROR_DEVICE_UNAVAILABLE,"
                 "unsupported=CUDA_ERROR_NOT_SUPPORTED,invalid=CUDA_ERROR_INVALID_VALUE,"
                 "no_memory=CUDA_ERROR_OUT_OF_MEMORY,quota=CUDA_ERROR_OUT_OF_MEMORY,"
                 "deinitialized=CUDA_ERROR_DEINITIALIZED");

// The functions of cuda.h this spec leaves out are exported all the same and answer
// CUDA_ERROR_NOT_SUPPORTED (logged once per function): a program that calls one gets an error it can
// report, where it would otherwise fail to load with ld.so's "undefined symbol".
REMORA_REFUSE_UNLISTED(CUresult, CUDA_ERROR_NOT_SUPPORTED);

REMORA_THREAD_STATE(remora_cuda_guest_thread_state, remora_cuda_server_thread_state);

// cuGetProcAddress(name, version) hands out the function of the ABI that `version` asks for
// (guest/entry_points.cpp); the ABIs are cudaTypedefs.h's.
REMORA_PROC_TYPEDEFS("PFN_");
// cudaTypedefs.h names the first ABIs (PFN_cuStreamGetCaptureInfo_v10010, ...) only for the driver's build.
REMORA_PROC_TYPEDEFS_HIDDEN("cudaTypedefs.h", "__CUDA_API_VERSION_INTERNAL");

REMORA_HANDLE(CUcontext, CUDA_ERROR_INVALID_CONTEXT);
REMORA_HANDLE(CUmodule, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUfunction, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUstream, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUevent, CUDA_ERROR_INVALID_HANDLE);
// Libraries and their kernels: context-independent modules (what the CUDA runtimes load). A kernel
// goes wherever a function does (the driver takes a CUkernel cast to CUfunction in cuLaunchKernel and
// the function queries).
REMORA_HANDLE(CUlibrary, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUkernel, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE_ACCEPTS(CUfunction, CUkernel);
REMORA_HANDLE(CUmemoryPool, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUgraph, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUgraphNode, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUgraphExec, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUarray, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUmipmappedArray, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUlinkState, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUuserObject, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUexternalMemory, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUexternalSemaphore, CUDA_ERROR_INVALID_HANDLE);
REMORA_HANDLE(CUgreenCtx, CUDA_ERROR_INVALID_HANDLE);
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

// The runtimes' context-local storage of the primary context goes first (guest/context_storage.cpp).
REMORA_OPCODE(12) REMORA_GUEST(remora_cu_primary_ctx_reset)
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

// The configuration's attributes travel as an array, the stream and the events two attributes may
// hold as handles apart (remora_cuLaunchKernelExPacked); the arguments packed as for cuLaunchKernel.
REMORA_LOCAL(remora_cu_launch_kernel_ex)
CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra);
// cuLaunchKernelEx with CU_LAUNCH_ATTRIBUTE_COOPERATIVE, as the driver defines it.
REMORA_LOCAL(remora_cu_launch_cooperative_kernel)
CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                                   unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                                   unsigned int sharedMemBytes, CUstream hStream, void **kernelParams);
REMORA_UNSUPPORTED("deprecated since CUDA 11.3 and launches on several devices at once; launch on each with "
                   "cuLaunchCooperativeKernel")
CUresult cuLaunchCooperativeKernelMultiDevice(CUDA_LAUNCH_PARAMS *launchParamsList, unsigned int numDevices,
                                              unsigned int flags);

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

// ---- Devices: the rest of the queries ---------------------------------------------------------------

REMORA_OPCODE(61)
CUresult cuDeviceGetLuid(char *luid REMORA_OUT REMORA_COUNT(8), unsigned int *deviceNodeMask, CUdevice dev);

REMORA_OPCODE(62)
CUresult cuDeviceGetTexture1DLinearMaxWidth(size_t *maxWidthInElements, CUarray_format format, unsigned numChannels,
                                           CUdevice dev);

REMORA_OPCODE(63)
CUresult cuDeviceGetHostAtomicCapabilities(unsigned int *capabilities REMORA_OUT REMORA_COUNT(count),
                                           const CUatomicOperation *operations REMORA_COUNT(count), unsigned int count,
                                           CUdevice dev);

REMORA_UNSUPPORTED("an NvSciSync attribute list lives in the application's process")
CUresult cuDeviceGetNvSciSyncAttributes(void *nvSciSyncAttrList, CUdevice dev, int flags);

REMORA_OPCODE(64)
CUresult cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool);

// A device's pools are the driver's (the default one is never destroyed): borrowed.
REMORA_OPCODE(65)
CUresult cuDeviceGetMemPool(CUmemoryPool *pool REMORA_EXISTING, CUdevice dev);

REMORA_OPCODE(66)
CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out REMORA_EXISTING, CUdevice dev);

REMORA_OPCODE(67)
CUresult cuDeviceGetExecAffinitySupport(int *pi, CUexecAffinityType type, CUdevice dev);

REMORA_OPCODE(68)
CUresult cuFlushGPUDirectRDMAWrites(CUflushGPUDirectRDMAWritesTarget target, CUflushGPUDirectRDMAWritesScope scope);

REMORA_OPCODE(69)
CUresult cuDeviceGetProperties(CUdevprop *prop, CUdevice dev);

REMORA_OPCODE(70)
CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev);

REMORA_OPCODE(71)
CUresult cuDeviceGetByPCIBusId(CUdevice *dev, const char *pciBusId);

REMORA_OPCODE(308)
CUresult cuDeviceCanAccessPeer(int *canAccessPeer, CUdevice dev, CUdevice peerDev);

REMORA_OPCODE(311)
CUresult cuDeviceGetP2PAttribute(int *value, CUdevice_P2PAttribute attrib, CUdevice srcDevice, CUdevice dstDevice);

REMORA_OPCODE(312)
CUresult cuDeviceGetP2PAtomicCapabilities(unsigned int *capabilities REMORA_OUT REMORA_COUNT(count),
                                          const CUatomicOperation *operations REMORA_COUNT(count), unsigned int count,
                                          CUdevice srcDevice, CUdevice dstDevice);

// ---- Contexts: the rest ---------------------------------------------------------------------------

REMORA_OPCODE(72)
CUresult cuCtxGetDevice_v2(CUdevice *device, CUcontext ctx);

REMORA_OPCODE(73)
CUresult cuCtxSetFlags(unsigned int flags);

REMORA_OPCODE(74)
CUresult cuCtxGetId(CUcontext ctx, unsigned long long *ctxId);

REMORA_OPCODE(75) REMORA_BLOCKING
CUresult cuCtxSynchronize_v2(CUcontext ctx);

REMORA_OPCODE(76)
CUresult cuCtxGetCacheConfig(CUfunc_cache *pconfig);

REMORA_OPCODE(77)
CUresult cuCtxSetCacheConfig(CUfunc_cache config);

REMORA_OPCODE(78)
CUresult cuCtxResetPersistingL2Cache(void);

REMORA_OPCODE(79)
CUresult cuCtxGetExecAffinity(CUexecAffinityParam *pExecAffinity, CUexecAffinityType type);

REMORA_OPCODE(80) REMORA_ASYNC
CUresult cuCtxRecordEvent(CUcontext hCtx, CUevent hEvent);

REMORA_OPCODE(81) REMORA_ASYNC
CUresult cuCtxWaitEvent(CUcontext hCtx, CUevent hEvent);

REMORA_OPCODE(84)
CUresult cuCtxGetSharedMemConfig(CUsharedconfig *pConfig);

REMORA_OPCODE(85)
CUresult cuCtxSetSharedMemConfig(CUsharedconfig config);

REMORA_OPCODE(309)
CUresult cuCtxEnablePeerAccess(CUcontext peerContext, unsigned int Flags);

REMORA_OPCODE(310)
CUresult cuCtxDisablePeerAccess(CUcontext peerContext);

// ---- Modules and libraries: the rest ----------------------------------------------------------------

REMORA_OPCODE(86)
CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode *mode);

REMORA_OPCODE(87)
CUresult cuModuleGetFunctionCount(unsigned int *count, CUmodule mod);

REMORA_OPCODE(88)
CUresult cuModuleEnumerateFunctions(CUfunction *functions REMORA_OUT REMORA_COUNT(numFunctions) REMORA_EXISTING,
                                    unsigned int numFunctions, CUmodule mod);

REMORA_OPCODE(89)
CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin REMORA_BYTES(remora_cu_module_image_bytes(fatCubin)));

REMORA_UNSUPPORTED("texture references were removed from the CUDA runtime in 12.0: use texture objects")
CUresult cuModuleGetTexRef(CUtexref *pTexRef, CUmodule hmod, const char *name);
REMORA_UNSUPPORTED("surface references were removed from the CUDA runtime in 12.0: use surface objects")
CUresult cuModuleGetSurfRef(CUsurfref *pSurfRef, CUmodule hmod, const char *name);

// Libraries: option values are scalars in pointer-sized slots and travel as integers (as for
// cuModuleLoadDataEx); an option whose value points at the application's memory is refused.
REMORA_LOCAL(remora_cu_library_load_data)
CUresult cuLibraryLoadData(CUlibrary *library, const void *code, CUjit_option *jitOptions, void **jitOptionsValues,
                           unsigned int numJitOptions, CUlibraryOption *libraryOptions, void **libraryOptionValues,
                           unsigned int numLibraryOptions);

// The file is the application's: read in the guest, then loaded as data (guest/modules.cpp).
REMORA_LOCAL(remora_cu_library_load_from_file)
CUresult cuLibraryLoadFromFile(CUlibrary *library, const char *fileName, CUjit_option *jitOptions,
                               void **jitOptionsValues, unsigned int numJitOptions, CUlibraryOption *libraryOptions,
                               void **libraryOptionValues, unsigned int numLibraryOptions);

REMORA_OPCODE(91) REMORA_RELEASES(library)
CUresult cuLibraryUnload(CUlibrary library);

// Kernels live as long as their library: borrowed, like a module's functions.
REMORA_OPCODE(92)
CUresult cuLibraryGetKernel(CUkernel *pKernel REMORA_EXISTING, CUlibrary library, const char *name);

REMORA_OPCODE(93)
CUresult cuLibraryGetKernelCount(unsigned int *count, CUlibrary lib);

REMORA_OPCODE(94)
CUresult cuLibraryEnumerateKernels(CUkernel *kernels REMORA_OUT REMORA_COUNT(numKernels) REMORA_EXISTING,
                                   unsigned int numKernels, CUlibrary lib);

REMORA_OPCODE(95)
CUresult cuLibraryGetModule(CUmodule *pMod REMORA_EXISTING, CUlibrary library);

REMORA_OPCODE(96)
CUresult cuKernelGetFunction(CUfunction *pFunc REMORA_EXISTING, CUkernel kernel);

REMORA_OPCODE(97)
CUresult cuKernelGetLibrary(CUlibrary *pLib REMORA_EXISTING, CUkernel kernel);

REMORA_OPCODE(98)
CUresult cuLibraryGetGlobal(CUdeviceptr *dptr, size_t *bytes, CUlibrary library, const char *name);

REMORA_UNSUPPORTED("managed memory needs the device to page the application's memory")
CUresult cuLibraryGetManaged(CUdeviceptr *dptr, size_t *bytes, CUlibrary library, const char *name);

REMORA_UNSUPPORTED("a host function of the library would be an address in the server's process")
CUresult cuLibraryGetUnifiedFunction(void **fptr, CUlibrary library, const char *symbol);

REMORA_OPCODE(100)
CUresult cuKernelGetAttribute(int *pi, CUfunction_attribute attrib, CUkernel kernel, CUdevice dev);

REMORA_OPCODE(101)
CUresult cuKernelSetAttribute(CUfunction_attribute attrib, int val, CUkernel kernel, CUdevice dev);

REMORA_OPCODE(102)
CUresult cuKernelSetCacheConfig(CUkernel kernel, CUfunc_cache config, CUdevice dev);

// Names live in the guest for the process's life (guest/modules.cpp), as the driver's do in its.
REMORA_LOCAL(remora_cu_kernel_get_name)
CUresult cuKernelGetName(const char **name, CUkernel hfunc);

REMORA_OPCODE(103)
CUresult cuKernelGetParamInfo(CUkernel kernel, size_t paramIndex, size_t *paramOffset, size_t *paramSize);

REMORA_OPCODE(104)
CUresult cuFuncGetModule(CUmodule *hmod REMORA_EXISTING, CUfunction hfunc);

REMORA_LOCAL(remora_cu_func_get_name)
CUresult cuFuncGetName(const char **name, CUfunction hfunc);

REMORA_OPCODE(105)
CUresult cuFuncIsLoaded(CUfunctionLoadingState *state, CUfunction function);

REMORA_OPCODE(106)
CUresult cuFuncLoad(CUfunction function);

REMORA_OPCODE(162)
CUresult cuFuncSetSharedMemConfig(CUfunction hfunc, CUsharedconfig config);

REMORA_UNSUPPORTED("removed from the toolkits since CUDA 9.2: use cuLaunchKernel")
CUresult cuFuncSetBlockShape(CUfunction hfunc, int x, int y, int z);
REMORA_UNSUPPORTED("removed from the toolkits since CUDA 9.2: use cuLaunchKernel")
CUresult cuFuncSetSharedSize(CUfunction hfunc, unsigned int bytes);
REMORA_UNSUPPORTED("removed from the toolkits since CUDA 9.2: use cuLaunchKernel")
CUresult cuParamSetSize(CUfunction hfunc, unsigned int numbytes);
REMORA_UNSUPPORTED("removed from the toolkits since CUDA 9.2: use cuLaunchKernel")
CUresult cuParamSeti(CUfunction hfunc, int offset, unsigned int value);
REMORA_UNSUPPORTED("removed from the toolkits since CUDA 9.2: use cuLaunchKernel")
CUresult cuParamSetf(CUfunction hfunc, int offset, float value);
REMORA_UNSUPPORTED("removed from the toolkits since CUDA 9.2: use cuLaunchKernel")
CUresult cuParamSetv(CUfunction hfunc, int offset, void *ptr, unsigned int numbytes);
REMORA_UNSUPPORTED("removed from the toolkits since CUDA 9.2: use cuLaunchKernel")
CUresult cuLaunch(CUfunction f);
REMORA_UNSUPPORTED("removed from the toolkits since CUDA 9.2: use cuLaunchKernel")
CUresult cuLaunchGrid(CUfunction f, int grid_width, int grid_height);
REMORA_UNSUPPORTED("removed from the toolkits since CUDA 9.2: use cuLaunchKernel")
CUresult cuLaunchGridAsync(CUfunction f, int grid_width, int grid_height, CUstream hStream);
REMORA_UNSUPPORTED("texture references were removed from the CUDA runtime in 12.0: use texture objects")
CUresult cuParamSetTexRef(CUfunction hfunc, int texunit, CUtexref hTexRef);

// ---- Memory: the rest ---------------------------------------------------------------------------------

REMORA_OPCODE(107)
CUresult cuMemAllocPitch(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height,
                         unsigned int ElementSizeBytes);

REMORA_OPCODE(108)
CUresult cuMemGetAddressRange(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr);

REMORA_OPCODE(109)
CUresult cuMemsetD2D8(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width, size_t Height);
REMORA_OPCODE(110)
CUresult cuMemsetD2D16(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width, size_t Height);
REMORA_OPCODE(111)
CUresult cuMemsetD2D32(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width, size_t Height);
REMORA_OPCODE(112) REMORA_ASYNC
CUresult cuMemsetD2D8Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width, size_t Height,
                           CUstream hStream);
REMORA_OPCODE(113) REMORA_ASYNC
CUresult cuMemsetD2D16Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width, size_t Height,
                            CUstream hStream);
REMORA_OPCODE(114) REMORA_ASYNC
CUresult cuMemsetD2D32Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width, size_t Height,
                            CUstream hStream);

REMORA_OPCODE(313) REMORA_BLOCKING
CUresult cuMemcpyPeer(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice, CUcontext srcContext,
                      size_t ByteCount);
REMORA_OPCODE(314) REMORA_ASYNC
CUresult cuMemcpyPeerAsync(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice, CUcontext srcContext,
                           size_t ByteCount, CUstream hStream);

// ---- Stream-ordered allocation and memory pools ----------------------------------------------------

REMORA_OPCODE(115) REMORA_ASYNC
CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream);

REMORA_OPCODE(116)
CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream);

REMORA_OPCODE(117)
CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep);

REMORA_OPCODE(118) REMORA_CHECK(CUDA_ERROR_INVALID_VALUE, remora_cu_mempool_attribute_bytes(attr) != 0)
CUresult cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr,
                               void *value REMORA_IN REMORA_BYTES(remora_cu_mempool_attribute_bytes(attr)));

REMORA_OPCODE(119) REMORA_CHECK(CUDA_ERROR_INVALID_VALUE, remora_cu_mempool_attribute_bytes(attr) != 0)
CUresult cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr,
                               void *value REMORA_OUT REMORA_BYTES(remora_cu_mempool_attribute_bytes(attr)));

REMORA_OPCODE(120)
CUresult cuMemPoolSetAccess(CUmemoryPool pool, const CUmemAccessDesc *map REMORA_COUNT(count), size_t count);

REMORA_OPCODE(121)
CUresult cuMemPoolGetAccess(CUmemAccess_flags *flags, CUmemoryPool memPool, CUmemLocation *location REMORA_IN);

REMORA_OPCODE(122)
CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *poolProps REMORA_ZERO_FIELDS("win32SecurityAttributes"));

REMORA_OPCODE(123) REMORA_RELEASES(pool)
CUresult cuMemPoolDestroy(CUmemoryPool pool);

REMORA_OPCODE(124)
CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool, CUstream hStream);

// ---- Virtual memory management ----------------------------------------------------------------------

REMORA_OPCODE(125)
CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,
                             unsigned long long flags);

REMORA_OPCODE(126)
CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size);

REMORA_OPCODE(127)
CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                     const CUmemAllocationProp *prop REMORA_ZERO_FIELDS("win32HandleMetaData"), unsigned long long flags);

REMORA_OPCODE(128)
CUresult cuMemRelease(CUmemGenericAllocationHandle handle);

REMORA_OPCODE(129)
CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                  unsigned long long flags);

REMORA_OPCODE(130)
CUresult cuMemUnmap(CUdeviceptr ptr, size_t size);

REMORA_OPCODE(131)
CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc REMORA_COUNT(count), size_t count);

REMORA_OPCODE(132)
CUresult cuMemGetAccess(unsigned long long *flags, const CUmemLocation *location, CUdeviceptr ptr);

REMORA_OPCODE(133)
CUresult cuMemGetAllocationGranularity(size_t *granularity,
                                       const CUmemAllocationProp *prop REMORA_ZERO_FIELDS("win32HandleMetaData"),
                                       CUmemAllocationGranularity_flags option);

REMORA_OPCODE(134)
CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp *prop REMORA_ZERO_FIELDS("win32HandleMetaData"),
                                                CUmemGenericAllocationHandle handle);

// `addr` is a device address the header types as a host pointer (guest/memory.cpp sends it as one).
REMORA_LOCAL(remora_cu_mem_retain_allocation_handle)
CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr);

// ---- Pointer attributes -------------------------------------------------------------------------------

REMORA_OPCODE(136) REMORA_CHECK(CUDA_ERROR_INVALID_VALUE, remora_cu_pointer_attribute_bytes(attribute) != 0)
CUresult cuPointerGetAttribute(void *data REMORA_OUT REMORA_BYTES(remora_cu_pointer_attribute_bytes(attribute))
                                   REMORA_HANDLES_WHEN(attribute, CU_POINTER_ATTRIBUTE_CONTEXT, CUcontext)
                                   REMORA_HANDLES_WHEN(attribute, CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE, CUmemoryPool),
                               CUpointer_attribute attribute, CUdeviceptr ptr);

REMORA_OPCODE(137) REMORA_CHECK(CUDA_ERROR_INVALID_VALUE, remora_cu_pointer_attribute_bytes(attribute) != 0)
CUresult cuPointerSetAttribute(const void *value REMORA_BYTES(remora_cu_pointer_attribute_bytes(attribute)),
                               CUpointer_attribute attribute, CUdeviceptr ptr);

// One cuPointerGetAttribute per attribute (guest/memory.cpp).
REMORA_LOCAL(remora_cu_pointer_get_attributes)
CUresult cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute *attributes, void **data, CUdeviceptr ptr);

// ---- Streams: the rest ------------------------------------------------------------------------------

REMORA_OPCODE(138)
CUresult cuStreamGetPriority(CUstream hStream, int *priority);

REMORA_OPCODE(139)
CUresult cuStreamGetDevice(CUstream hStream, CUdevice *device);

REMORA_OPCODE(140)
CUresult cuStreamGetFlags(CUstream hStream, unsigned int *flags);

REMORA_OPCODE(141)
CUresult cuStreamGetId(CUstream hStream, unsigned long long *streamId);

REMORA_OPCODE(142)
CUresult cuStreamGetCtx(CUstream hStream, CUcontext *pctx REMORA_EXISTING);

REMORA_OPCODE(143)
CUresult cuStreamGetCtx_v2(CUstream hStream, CUcontext *pCtx REMORA_EXISTING, CUgreenCtx *pGreenCtx REMORA_EXISTING);

REMORA_OPCODE(151)
CUresult cuStreamCopyAttributes(CUstream dst, CUstream src);

// Launch attribute values may hold an event (the programmatic and completion events), which travels
// as a handle apart (remora_cuStreamGetAttribute/SetAttribute, guest/launch.cpp).
REMORA_LOCAL(remora_cu_stream_get_attribute)
CUresult cuStreamGetAttribute(CUstream hStream, CUstreamAttrID attr, CUstreamAttrValue *value_out);
REMORA_LOCAL(remora_cu_stream_set_attribute)
CUresult cuStreamSetAttribute(CUstream hStream, CUstreamAttrID attr, const CUstreamAttrValue *value);

REMORA_OPCODE(154) REMORA_ASYNC
CUresult cuEventRecordWithFlags(CUevent hEvent, CUstream hStream, unsigned int flags);

REMORA_OPCODE(155) REMORA_ASYNC
CUresult cuStreamWaitValue32(CUstream stream, CUdeviceptr addr, cuuint32_t value, unsigned int flags);
REMORA_OPCODE(156) REMORA_ASYNC
CUresult cuStreamWaitValue64(CUstream stream, CUdeviceptr addr, cuuint64_t value, unsigned int flags);
REMORA_OPCODE(157) REMORA_ASYNC
CUresult cuStreamWriteValue32(CUstream stream, CUdeviceptr addr, cuuint32_t value, unsigned int flags);
REMORA_OPCODE(158) REMORA_ASYNC
CUresult cuStreamWriteValue64(CUstream stream, CUdeviceptr addr, cuuint64_t value, unsigned int flags);

REMORA_UNSUPPORTED("managed memory needs the device to page the application's memory")
CUresult cuStreamAttachMemAsync(CUstream hStream, CUdeviceptr dptr, size_t length, unsigned int flags);

// ---- Stream capture ----------------------------------------------------------------------------------

REMORA_OPCODE(144)
CUresult cuStreamBeginCapture(CUstream hStream, CUstreamCaptureMode mode);

REMORA_OPCODE(149)
CUresult cuStreamBeginCaptureToGraph(CUstream hStream, CUgraph hGraph,
                                     const CUgraphNode *dependencies REMORA_COUNT(numDependencies),
                                     const CUgraphEdgeData *dependencyData REMORA_COUNT(numDependencies),
                                     size_t numDependencies, CUstreamCaptureMode mode);

// The capture mode is the calling thread's: the guest keeps it and sends it with every call (the
// thread state, guest/library.cpp), and the server applies it on the thread that serves the call.
REMORA_LOCAL(remora_cu_thread_exchange_stream_capture_mode)
CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode *mode);

REMORA_OPCODE(146)
CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph);

REMORA_OPCODE(147)
CUresult cuStreamIsCapturing(CUstream hStream, CUstreamCaptureStatus *captureStatus);

// The dependencies come back in guest memory of the calling thread, valid until its next call of
// it (the driver's are valid until the stream's next capture operation).
REMORA_LOCAL(remora_cu_stream_get_capture_info)
CUresult cuStreamGetCaptureInfo(CUstream hStream, CUstreamCaptureStatus *captureStatus_out, cuuint64_t *id_out,
                                CUgraph *graph_out, const CUgraphNode **dependencies_out,
                                const CUgraphEdgeData **edgeData_out, size_t *numDependencies_out);

REMORA_OPCODE(148)
CUresult cuStreamUpdateCaptureDependencies(CUstream hStream,
                                           CUgraphNode *dependencies REMORA_IN REMORA_COUNT(numDependencies),
                                           const CUgraphEdgeData *dependencyData REMORA_COUNT(numDependencies),
                                           size_t numDependencies, unsigned int flags);

// ---- Graphs: the topology and executable graphs --------------------------------------------------------

REMORA_OPCODE(163)
CUresult cuGraphCreate(CUgraph *phGraph, unsigned int flags);

// The size-query pattern with the capacity in *numNodes on the way in.
REMORA_OPCODE(164)
CUresult cuGraphGetNodes(CUgraph hGraph,
                         CUgraphNode *nodes REMORA_OUT REMORA_COUNT(remora_cu_count_in(numNodes)) REMORA_EXISTING
                             REMORA_LENGTH_RET(numNodes),
                         size_t *numNodes REMORA_INOUT);

REMORA_OPCODE(175)
CUresult cuGraphGetRootNodes(CUgraph hGraph,
                             CUgraphNode *rootNodes REMORA_OUT REMORA_COUNT(remora_cu_count_in(numRootNodes))
                                 REMORA_EXISTING REMORA_LENGTH_RET(numRootNodes),
                             size_t *numRootNodes REMORA_INOUT);

REMORA_OPCODE(165)
CUresult cuGraphDestroyNode(CUgraphNode hNode);

REMORA_OPCODE(166)
CUresult cuGraphInstantiate(CUgraphExec *phGraphExec, CUgraph hGraph, unsigned long long flags);

REMORA_OPCODE(167)
CUresult cuGraphInstantiateWithParams(CUgraphExec *phGraphExec, CUgraph hGraph,
                                      CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams REMORA_INOUT
                                          REMORA_STRUCT_HANDLES("hUploadStream:CUstream,hErrNode_out:CUgraphNode"));

REMORA_OPCODE(168) REMORA_ASYNC
CUresult cuGraphUpload(CUgraphExec hGraphExec, CUstream hStream);

REMORA_OPCODE(169) REMORA_ASYNC
CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream);

REMORA_OPCODE(170) REMORA_RELEASES(hGraphExec)
CUresult cuGraphExecDestroy(CUgraphExec hGraphExec);

REMORA_OPCODE(171) REMORA_RELEASES(hGraph)
CUresult cuGraphDestroy(CUgraph hGraph);

REMORA_OPCODE(172)
CUresult cuGraphExecGetFlags(CUgraphExec hGraphExec, cuuint64_t *flags);

REMORA_OPCODE(173)
CUresult cuGraphNodeGetType(CUgraphNode hNode, CUgraphNodeType *type);

REMORA_OPCODE(174)
CUresult cuGraphClone(CUgraph *phGraphClone, CUgraph originalGraph);

REMORA_OPCODE(193)
CUresult cuGraphNodeFindInClone(CUgraphNode *phNode REMORA_EXISTING, CUgraphNode hOriginalNode, CUgraph hClonedGraph);

REMORA_OPCODE(178)
CUresult cuGraphExecUpdate(CUgraphExec hGraphExec, CUgraph hGraph,
                           CUgraphExecUpdateResultInfo *resultInfo
                               REMORA_STRUCT_HANDLES("errorNode:CUgraphNode,errorFromNode:CUgraphNode"));

REMORA_UNSUPPORTED("writes a file on the server's host")
CUresult cuGraphDebugDotPrint(CUgraph hGraph, const char *path, unsigned int flags);

REMORA_OPCODE(179)
CUresult cuGraphAddEmptyNode(CUgraphNode *phGraphNode REMORA_EXISTING, CUgraph hGraph,
                             const CUgraphNode *dependencies REMORA_COUNT(numDependencies), size_t numDependencies);

REMORA_OPCODE(180)
CUresult cuGraphAddDependencies(CUgraph hGraph, const CUgraphNode *from REMORA_COUNT(numDependencies),
                                const CUgraphNode *to REMORA_COUNT(numDependencies),
                                const CUgraphEdgeData *edgeData REMORA_COUNT(numDependencies), size_t numDependencies);

REMORA_OPCODE(181)
CUresult cuGraphRemoveDependencies(CUgraph hGraph, const CUgraphNode *from REMORA_COUNT(numDependencies),
                                   const CUgraphNode *to REMORA_COUNT(numDependencies),
                                   const CUgraphEdgeData *edgeData REMORA_COUNT(numDependencies),
                                   size_t numDependencies);

REMORA_OPCODE(194)
CUresult cuGraphGetEdges(CUgraph hGraph,
                         CUgraphNode *from REMORA_OUT REMORA_COUNT(remora_cu_count_in(numEdges)) REMORA_EXISTING,
                         CUgraphNode *to REMORA_OUT REMORA_COUNT(remora_cu_count_in(numEdges)) REMORA_EXISTING,
                         CUgraphEdgeData *edgeData REMORA_OUT REMORA_COUNT(remora_cu_count_in(numEdges)),
                         size_t *numEdges REMORA_INOUT);

REMORA_OPCODE(195)
CUresult cuGraphNodeGetDependencies(CUgraphNode hNode,
                                    CUgraphNode *dependencies REMORA_OUT
                                        REMORA_COUNT(remora_cu_count_in(numDependencies)) REMORA_EXISTING,
                                    CUgraphEdgeData *edgeData REMORA_OUT REMORA_COUNT(remora_cu_count_in(numDependencies)),
                                    size_t *numDependencies REMORA_INOUT);

REMORA_OPCODE(196)
CUresult cuGraphNodeGetDependentNodes(CUgraphNode hNode,
                                      CUgraphNode *dependentNodes REMORA_OUT
                                          REMORA_COUNT(remora_cu_count_in(numDependentNodes)) REMORA_EXISTING,
                                      CUgraphEdgeData *edgeData REMORA_OUT
                                          REMORA_COUNT(remora_cu_count_in(numDependentNodes)),
                                      size_t *numDependentNodes REMORA_INOUT);

REMORA_OPCODE(182)
CUresult cuGraphAddEventRecordNode(CUgraphNode *phGraphNode REMORA_EXISTING, CUgraph hGraph,
                                   const CUgraphNode *dependencies REMORA_COUNT(numDependencies),
                                   size_t numDependencies, CUevent event);
REMORA_OPCODE(183)
CUresult cuGraphAddEventWaitNode(CUgraphNode *phGraphNode REMORA_EXISTING, CUgraph hGraph,
                                 const CUgraphNode *dependencies REMORA_COUNT(numDependencies),
                                 size_t numDependencies, CUevent event);
REMORA_OPCODE(184)
CUresult cuGraphEventRecordNodeGetEvent(CUgraphNode hNode, CUevent *event_out REMORA_EXISTING);
REMORA_OPCODE(185)
CUresult cuGraphEventRecordNodeSetEvent(CUgraphNode hNode, CUevent event);
REMORA_OPCODE(320)
CUresult cuGraphEventWaitNodeGetEvent(CUgraphNode hNode, CUevent *event_out REMORA_EXISTING);
REMORA_OPCODE(321)
CUresult cuGraphEventWaitNodeSetEvent(CUgraphNode hNode, CUevent event);
REMORA_OPCODE(186)
CUresult cuGraphExecEventRecordNodeSetEvent(CUgraphExec hGraphExec, CUgraphNode hNode, CUevent event);
REMORA_OPCODE(187)
CUresult cuGraphExecEventWaitNodeSetEvent(CUgraphExec hGraphExec, CUgraphNode hNode, CUevent event);
REMORA_OPCODE(188)
CUresult cuGraphNodeSetEnabled(CUgraphExec hGraphExec, CUgraphNode hNode, unsigned int isEnabled);
REMORA_OPCODE(189)
CUresult cuGraphNodeGetEnabled(CUgraphExec hGraphExec, CUgraphNode hNode, unsigned int *isEnabled);

REMORA_OPCODE(190)
CUresult cuGraphAddChildGraphNode(CUgraphNode *phGraphNode REMORA_EXISTING, CUgraph hGraph,
                                  const CUgraphNode *dependencies REMORA_COUNT(numDependencies), size_t numDependencies,
                                  CUgraph childGraph);
REMORA_OPCODE(191)
CUresult cuGraphChildGraphNodeGetGraph(CUgraphNode hNode, CUgraph *phGraph REMORA_EXISTING);
REMORA_OPCODE(192)
CUresult cuGraphExecChildGraphNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode, CUgraph childGraph);

REMORA_OPCODE(197)
CUresult cuGraphAddMemsetNode(CUgraphNode *phGraphNode REMORA_EXISTING, CUgraph hGraph,
                              const CUgraphNode *dependencies REMORA_COUNT(numDependencies), size_t numDependencies,
                              const CUDA_MEMSET_NODE_PARAMS *memsetParams, CUcontext ctx);
REMORA_OPCODE(198)
CUresult cuGraphMemsetNodeGetParams(CUgraphNode hNode, CUDA_MEMSET_NODE_PARAMS *nodeParams);
REMORA_OPCODE(199)
CUresult cuGraphMemsetNodeSetParams(CUgraphNode hNode, const CUDA_MEMSET_NODE_PARAMS *nodeParams);
REMORA_OPCODE(300)
CUresult cuGraphExecMemsetNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                        const CUDA_MEMSET_NODE_PARAMS *memsetParams, CUcontext ctx);

REMORA_OPCODE(301)
CUresult cuGraphConditionalHandleCreate(CUgraphConditionalHandle *pHandle_out, CUgraph hGraph, CUcontext ctx,
                                        unsigned int defaultLaunchValue, unsigned int flags);

REMORA_OPCODE(302)
CUresult cuDeviceGraphMemTrim(CUdevice device);
REMORA_OPCODE(303)
CUresult cuDeviceGetGraphMemAttribute(CUdevice device, CUgraphMem_attribute attr,
                                      void *value REMORA_OUT REMORA_BYTES(sizeof(cuuint64_t)));
REMORA_OPCODE(304)
CUresult cuDeviceSetGraphMemAttribute(CUdevice device, CUgraphMem_attribute attr,
                                      void *value REMORA_IN REMORA_BYTES(sizeof(cuuint64_t)));

REMORA_OPCODE(176)
CUresult cuGraphKernelNodeCopyAttributes(CUgraphNode dst, CUgraphNode src);
REMORA_LOCAL(remora_cu_graph_kernel_node_get_attribute)
CUresult cuGraphKernelNodeGetAttribute(CUgraphNode hNode, CUkernelNodeAttrID attr, CUkernelNodeAttrValue *value_out);
REMORA_LOCAL(remora_cu_graph_kernel_node_set_attribute)
CUresult cuGraphKernelNodeSetAttribute(CUgraphNode hNode, CUkernelNodeAttrID attr, const CUkernelNodeAttrValue *value);

// ---- Occupancy: the rest --------------------------------------------------------------------------------

REMORA_OPCODE(305)
CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int *numBlocks, CUfunction func, int blockSize,
                                                              size_t dynamicSMemSize, unsigned int flags);

// The block-size-to-shared-memory function is the application's: the search runs in the guest over
// cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags, as the runtime's header does it.
REMORA_LOCAL(remora_cu_occupancy_max_potential_block_size)
CUresult cuOccupancyMaxPotentialBlockSize(int *minGridSize, int *blockSize, CUfunction func,
                                          CUoccupancyB2DSize blockSizeToDynamicSMemSize, size_t dynamicSMemSize,
                                          int blockSizeLimit);
REMORA_LOCAL(remora_cu_occupancy_max_potential_block_size_with_flags)
CUresult cuOccupancyMaxPotentialBlockSizeWithFlags(int *minGridSize, int *blockSize, CUfunction func,
                                                   CUoccupancyB2DSize blockSizeToDynamicSMemSize,
                                                   size_t dynamicSMemSize, int blockSizeLimit, unsigned int flags);

// A launch configuration, as for cuLaunchKernelEx (remora_cuOccupancyForConfig).
REMORA_LOCAL(remora_cu_occupancy_max_active_clusters)
CUresult cuOccupancyMaxActiveClusters(int *numClusters, CUfunction func, const CUlaunchConfig *config);
REMORA_LOCAL(remora_cu_occupancy_max_potential_cluster_size)
CUresult cuOccupancyMaxPotentialClusterSize(int *clusterSize, CUfunction func, const CUlaunchConfig *config);

REMORA_OPCODE(306)
CUresult cuOccupancyAvailableDynamicSMemPerBlock(size_t *dynamicSmemSize, CUfunction func, int numBlocks,
                                                 int blockSize);

// ---- IPC ------------------------------------------------------------------------------------------------------

REMORA_OPCODE(315)
CUresult cuIpcGetEventHandle(CUipcEventHandle *pHandle, CUevent event);
REMORA_OPCODE(316)
CUresult cuIpcOpenEventHandle(CUevent *phEvent, CUipcEventHandle handle);
REMORA_OPCODE(317)
CUresult cuIpcGetMemHandle(CUipcMemHandle *pHandle, CUdeviceptr dptr);
REMORA_OPCODE(318)
CUresult cuIpcOpenMemHandle(CUdeviceptr *pdptr, CUipcMemHandle handle, unsigned int Flags);
REMORA_OPCODE(319)
CUresult cuIpcCloseMemHandle(CUdeviceptr dptr);



// ---- Older ABIs the CUDA runtimes still ask for -----------------------------------------------------
//
// cudart 13 looks these up at the versions that introduced their first ABI (cuDeviceGetUuid@9020,
// cuEventElapsedTime@2000, ...); cuda.h declares them only for the driver's own build, so they are
// declared here (after the header's macro for the current ABI is gone), and forwarded to the vendor's
// symbols of the same names. Their differences from the current ABI are the driver's to keep.

#undef cuDeviceGetUuid
REMORA_OPCODE(330)
CUresult cuDeviceGetUuid(CUuuid *uuid REMORA_OUT REMORA_COUNT(1), CUdevice dev);

#undef cuDevicePrimaryCtxRelease
REMORA_OPCODE(331)
CUresult cuDevicePrimaryCtxRelease(CUdevice dev);

#undef cuDevicePrimaryCtxReset
REMORA_OPCODE(332) REMORA_GUEST(remora_cu_primary_ctx_reset_v1)
CUresult cuDevicePrimaryCtxReset(CUdevice dev);

#undef cuDevicePrimaryCtxSetFlags
REMORA_OPCODE(333)
CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags);

#undef cuEventElapsedTime
REMORA_OPCODE(334)
CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd);

// The CUDA 11.3 form of cuGetProcAddress, without the query result.
#undef cuGetProcAddress
REMORA_LOCAL(remora_cu_get_proc_address_v1)
CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags);

// The CUDA 3.2 ABI of cuCtxCreate: as remora_cuCtxCreate (the guest makes the context current).
REMORA_LOCAL(remora_cu_ctx_create_v2)
CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev);

// ---- remora's own calls for the driver API's rest -----------------------------------------------------

// cuLibraryLoadData with its option values as integers (guest/modules.cpp).
REMORA_OPCODE(216) REMORA_SERVER(remora_cu_server_library_load_data) REMORA_REQUIRES(cuLibraryLoadData)
CUresult remora_cuLibraryLoadData(CUlibrary *library, const void *code REMORA_BYTES(remora_cu_module_image_bytes(code)),
                                  const CUjit_option *jitOptions REMORA_COUNT(numJitOptions),
                                  const uint64_t *jitOptionValues REMORA_COUNT(numJitOptions), unsigned int numJitOptions,
                                  const CUlibraryOption *libraryOptions REMORA_COUNT(numLibraryOptions),
                                  const uint64_t *libraryOptionValues REMORA_COUNT(numLibraryOptions),
                                  unsigned int numLibraryOptions);

// A function's or kernel's name: which = 0 a CUfunction's (cuFuncGetName), 1 a CUkernel's.
REMORA_OPCODE(217) REMORA_SERVER(remora_cu_server_get_name_text) REMORA_REQUIRES(cuFuncGetName, cuKernelGetName)
CUresult remora_cuGetNameText(CUfunction f, int which,
                              char *text REMORA_OUT REMORA_COUNT(capacity) REMORA_LENGTH_RET(length), size_t capacity,
                              size_t *length);

// cuStreamGetCaptureInfo with the dependencies copied out (up to `capacity` of them; *count is how
// many there are).
REMORA_OPCODE(218) REMORA_SERVER(remora_cu_server_stream_get_capture_info) REMORA_REQUIRES(cuStreamGetCaptureInfo)
CUresult remora_cuStreamGetCaptureInfo(CUstream hStream, CUstreamCaptureStatus *status, cuuint64_t *id,
                                       CUgraph *graph REMORA_EXISTING,
                                       CUgraphNode *dependencies REMORA_OUT REMORA_COUNT(capacity) REMORA_EXISTING,
                                       CUgraphEdgeData *edges REMORA_OUT REMORA_COUNT(capacity), size_t capacity,
                                       size_t *count);

// cuMemRetainAllocationHandle of a device address.
REMORA_OPCODE(219) REMORA_SERVER(remora_cu_server_mem_retain_allocation_handle) REMORA_REQUIRES(cuMemRetainAllocationHandle)
CUresult remora_cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, CUdeviceptr addr);

// Launch attribute values of a stream (node = 0) or a kernel node (node = 1): the value's bytes, and its
// event apart for the attributes that hold one (CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT,
// CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT); the server puts the event into the value itself.
REMORA_OPCODE(222) REMORA_SERVER(remora_cu_server_stream_get_attribute) REMORA_REQUIRES(cuStreamGetAttribute)
CUresult remora_cuStreamGetAttribute(CUstream hStream, CUstreamAttrID attr,
                                     void *value REMORA_OUT REMORA_BYTES(sizeof(CUlaunchAttributeValue)),
                                     CUevent *event REMORA_EXISTING);
REMORA_OPCODE(223) REMORA_SERVER(remora_cu_server_stream_set_attribute) REMORA_REQUIRES(cuStreamSetAttribute)
CUresult remora_cuStreamSetAttribute(CUstream hStream, CUstreamAttrID attr,
                                     const void *value REMORA_BYTES(sizeof(CUlaunchAttributeValue)), CUevent event);
REMORA_OPCODE(224) REMORA_SERVER(remora_cu_server_kernel_node_get_attribute) REMORA_REQUIRES(cuGraphKernelNodeGetAttribute)
CUresult remora_cuGraphKernelNodeGetAttribute(CUgraphNode hNode, CUkernelNodeAttrID attr,
                                              void *value REMORA_OUT REMORA_BYTES(sizeof(CUlaunchAttributeValue)),
                                              CUevent *event REMORA_EXISTING);
REMORA_OPCODE(225) REMORA_SERVER(remora_cu_server_kernel_node_set_attribute) REMORA_REQUIRES(cuGraphKernelNodeSetAttribute)
CUresult remora_cuGraphKernelNodeSetAttribute(CUgraphNode hNode, CUkernelNodeAttrID attr,
                                              const void *value REMORA_BYTES(sizeof(CUlaunchAttributeValue)),
                                              CUevent event);

// cuLaunchKernelEx (guest/launch.cpp): the configuration's attributes as bytes (a union chosen by
// each attribute's id, which no field annotation describes) with their event fields null, the events
// of CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT and _LAUNCH_COMPLETION_EVENT apart, and the arguments
// packed into the kernel's parameter buffer. Asynchronous, like cuLaunchKernel.
REMORA_OPCODE(226) REMORA_ASYNC REMORA_SERVER(remora_cu_server_launch_ex_packed) REMORA_REQUIRES(cuLaunchKernelEx)
REMORA_CHECK(CUDA_ERROR_INVALID_VALUE, numAttrs <= REMORA_CU_MAX_LAUNCH_ATTRIBUTES)
CUresult remora_cuLaunchKernelExPacked(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                       unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                       unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                                       const void *attrs REMORA_BYTES(numAttrs * sizeof(CUlaunchAttribute)), unsigned int numAttrs,
                                       CUevent programmaticEvent, CUevent completionEvent,
                                       const uint8_t *params REMORA_COUNT(params_size), size_t params_size);

// The cluster occupancy queries for a launch configuration, sent as for remora_cuLaunchKernelExPacked;
// which = 0 cuOccupancyMaxActiveClusters, 1 cuOccupancyMaxPotentialClusterSize.
REMORA_OPCODE(227) REMORA_SERVER(remora_cu_server_occupancy_for_config)
REMORA_REQUIRES(cuOccupancyMaxActiveClusters, cuOccupancyMaxPotentialClusterSize)
REMORA_CHECK(CUDA_ERROR_INVALID_VALUE, numAttrs <= REMORA_CU_MAX_LAUNCH_ATTRIBUTES)
CUresult remora_cuOccupancyForConfig(int which, int *value REMORA_OUT, CUfunction func, unsigned int gridDimX,
                                     unsigned int gridDimY, unsigned int gridDimZ, unsigned int blockDimX,
                                     unsigned int blockDimY, unsigned int blockDimZ, unsigned int sharedMemBytes,
                                     CUstream hStream, const void *attrs REMORA_BYTES(numAttrs * sizeof(CUlaunchAttribute)),
                                     unsigned int numAttrs);

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

// ---- Page-locked host regions (shm) -----------------------------------------------------------------

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
