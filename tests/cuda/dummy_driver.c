// A small driver-API program run through remora against the recording dummy vendor library (no GPU):
// every call must cross guest -> transport -> server and come back. dummy_cuda.sh then checks what
// reached the "driver" (REMORA_DUMMY_LOG). Prints PASS last when every answer is as expected.
#include <cuda.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;
#define EXPECT(call, want)                                                              \
  do {                                                                                  \
    CUresult got_ = (call);                                                             \
    if (got_ != (want)) {                                                               \
      printf("FAIL: %s returned %d, expected %d\n", #call, (int)got_, (int)(want));     \
      failures++;                                                                       \
    }                                                                                   \
  } while (0)

int main(void) {
  CUcontext none = (CUcontext)1;
  EXPECT(cuCtxGetCurrent(&none), CUDA_ERROR_NOT_INITIALIZED);  // guest-local, before cuInit
  EXPECT(cuInit(0), CUDA_SUCCESS);
  int version = 0, count = 0;
  EXPECT(cuDriverGetVersion(&version), CUDA_SUCCESS);
  EXPECT(cuDeviceGetCount(&count), CUDA_SUCCESS);
  CUdevice dev = -1;
  EXPECT(cuDeviceGet(&dev, 0), CUDA_SUCCESS);
  char name[64] = {0};
  EXPECT(cuDeviceGetName(name, sizeof name, dev), CUDA_SUCCESS);
  printf("version %d, %d device(s), device %d named %zu chars\n", version, count, dev, strlen(name));

  // Primary context made current: the thread's state travels with each later call.
  CUcontext ctx = NULL, cur = NULL;
  EXPECT(cuDevicePrimaryCtxRetain(&ctx, dev), CUDA_SUCCESS);
  EXPECT(cuCtxSetCurrent(ctx), CUDA_SUCCESS);
  EXPECT(cuCtxGetCurrent(&cur), CUDA_SUCCESS);
  if (cur != ctx) printf("FAIL: the current context is not the one set\n"), failures++;
  EXPECT(cuCtxSetCurrent((CUcontext)&dev), CUDA_ERROR_INVALID_CONTEXT);  // not a context remora made

  CUdeviceptr d = 0;
  EXPECT(cuMemAlloc(&d, 64), CUDA_SUCCESS);
  unsigned char host[64];
  for (int i = 0; i < 64; ++i) host[i] = (unsigned char)i;
  EXPECT(cuMemcpyHtoD(d, host, sizeof host), CUDA_SUCCESS);
  memset(host, 0, sizeof host);
  EXPECT(cuMemcpyDtoH(host, d, sizeof host), CUDA_SUCCESS);
  // The dummy fills OUT data with its pattern: byte i = 'A' + (opcode + i) % 26, the last one 0.
  if (host[0] < 'A' || host[0] > 'Z') printf("FAIL: DtoH brought no data back\n"), failures++;

  const char ptx[] = ".version 8.0\n.target sm_90\n.address_size 64\n";
  CUmodule mod = NULL;
  CUfunction fn = NULL;
  EXPECT(cuModuleLoadData(&mod, ptx), CUDA_SUCCESS);
  EXPECT(cuModuleGetFunction(&fn, mod, "k"), CUDA_SUCCESS);
  CUstream s = NULL;
  CUevent e = NULL;
  EXPECT(cuStreamCreate(&s, 0), CUDA_SUCCESS);
  EXPECT(cuEventCreate(&e, 0), CUDA_SUCCESS);
  // A launch through `extra`: the server decodes the packed launch and calls the driver's cuLaunchKernel.
  unsigned long long arg = 42;
  size_t size = sizeof arg;
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &arg, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
  EXPECT(cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 0, s, NULL, extra), CUDA_SUCCESS);
  EXPECT(cuStreamSynchronize(s), CUDA_SUCCESS);
  EXPECT(cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 0, s, (void**)extra, extra), CUDA_ERROR_INVALID_VALUE);
  EXPECT(cuLaunchKernel(fn, 1, 1, 1, 4096, 1, 1, 0, s, NULL, extra), CUDA_ERROR_INVALID_VALUE);  // refused at once
  EXPECT(cuEventRecord(e, s), CUDA_SUCCESS);
  EXPECT(cuMemcpyHtoDAsync(d, host, 16, s), CUDA_SUCCESS);
  EXPECT(cuMemsetD32Async(d, 7, 4, s), CUDA_SUCCESS);
  EXPECT(cuStreamSynchronize(s), CUDA_SUCCESS);

  // Pinned memory is guest memory; managed memory and mapped pointers are refused.
  void* pinned = NULL;
  EXPECT(cuMemAllocHost(&pinned, 4096), CUDA_SUCCESS);
  EXPECT(cuMemHostAlloc(&pinned, 4096, CU_MEMHOSTALLOC_DEVICEMAP), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT(cuMemFreeHost(pinned), CUDA_SUCCESS);
  EXPECT(cuMemFreeHost(pinned), CUDA_ERROR_INVALID_VALUE);
  CUdeviceptr managed;
  EXPECT(cuMemAllocManaged(&managed, 4096, CU_MEM_ATTACH_GLOBAL), CUDA_ERROR_NOT_SUPPORTED);

  void* entry = NULL;
  EXPECT(cuGetProcAddress("cuMemAlloc", &entry, 12000, CU_GET_PROC_ADDRESS_DEFAULT, NULL), CUDA_SUCCESS);
  CUdeviceptr by_entry = 0;
  if (entry == NULL || ((CUresult(*)(CUdeviceptr*, size_t))entry)(&by_entry, 96) != CUDA_SUCCESS)
    printf("FAIL: cuGetProcAddress(cuMemAlloc) is not a working cuMemAlloc_v2\n"), failures++;
  else
    EXPECT(cuMemFree(by_entry), CUDA_SUCCESS);
  // Names remora does not forward resolve to a function that answers CUDA_ERROR_NOT_SUPPORTED (the
  // CUDA runtime gives up at start-up on a failed lookup); an export table remora does not know is
  // CUDA_ERROR_INVALID_VALUE, as the driver answers.
  EXPECT(cuGetProcAddress("cuNoSuchFunction", &entry, 12000, CU_GET_PROC_ADDRESS_DEFAULT, NULL), CUDA_SUCCESS);
  if (entry == NULL || ((CUresult(*)(void))entry)() != CUDA_ERROR_NOT_SUPPORTED)
    printf("FAIL: cuGetProcAddress(cuNoSuchFunction) is not a CUDA_ERROR_NOT_SUPPORTED stub\n"), failures++;
  const void* table = NULL;
  CUuuid id = {{0}};
  EXPECT(cuGetExportTable(&table, &id), CUDA_ERROR_INVALID_VALUE);
  // A function of cuda.h the spec leaves out is exported all the same and refused (logged once).
  EXPECT(cuArrayDestroy(NULL), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT(cuArrayDestroy(NULL), CUDA_ERROR_NOT_SUPPORTED);

  // The special stream handles: the legacy NULL stream, the thread's per-thread stream (a stream of
  // its own, made once: dummy_cuda.sh counts the creations), anything else in the first page invalid.
  EXPECT(cuStreamSynchronize(CU_STREAM_LEGACY), CUDA_SUCCESS);
  EXPECT(cuStreamSynchronize(CU_STREAM_PER_THREAD), CUDA_SUCCESS);
  EXPECT(cuStreamQuery(CU_STREAM_PER_THREAD), CUDA_SUCCESS);
  EXPECT(cuStreamQuery((CUstream)0x7), CUDA_ERROR_INVALID_HANDLE);
  // The special handles are not the application's to destroy (the per-thread stream stays usable).
  EXPECT(cuStreamDestroy(CU_STREAM_PER_THREAD), CUDA_ERROR_INVALID_HANDLE);
  EXPECT(cuStreamDestroy(CU_STREAM_LEGACY), CUDA_ERROR_INVALID_HANDLE);
  EXPECT(cuStreamQuery(CU_STREAM_PER_THREAD), CUDA_SUCCESS);
  // Per-thread entry points, as cuGetProcAddress hands them out: the NULL stream is the per-thread one.
  CUresult (*sync_ptsz)(CUstream) = NULL;
  EXPECT(cuGetProcAddress("cuStreamSynchronize", (void**)&sync_ptsz, 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
                          NULL), CUDA_SUCCESS);
  if (sync_ptsz == NULL || (void*)sync_ptsz == (void*)&cuStreamSynchronize)
    printf("FAIL: cuGetProcAddress(cuStreamSynchronize, per-thread) is not a per-thread entry point\n"), failures++;
  else
    EXPECT(sync_ptsz(NULL), CUDA_SUCCESS);
  EXPECT(cuGetProcAddress("cuMemAlloc", &entry, 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, NULL),
         CUDA_SUCCESS);
  if (entry == NULL) printf("FAIL: cuGetProcAddress(cuMemAlloc, per-thread) found nothing\n"), failures++;
  EXPECT(cuEventDestroy(e), CUDA_SUCCESS);
  EXPECT(cuStreamDestroy(s), CUDA_SUCCESS);
  EXPECT(cuStreamDestroy(s), CUDA_ERROR_INVALID_HANDLE);  // released: the guest knows it is gone
  EXPECT(cuModuleUnload(mod), CUDA_SUCCESS);
  EXPECT(cuMemFree(d), CUDA_SUCCESS);
  EXPECT(cuDevicePrimaryCtxRelease(dev), CUDA_SUCCESS);
  printf(failures == 0 ? "PASS\n" : "FAIL: %d\n", failures);
  return failures == 0 ? 0 : 1;
}
