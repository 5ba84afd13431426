// Modules (cubin and PTX), launches through kernelParams and extra, memory copies (sync, async,
// pinned), memsets, device globals, streams, events, function attributes, launch errors.
//   kernels_driver KERNELS.cubin KERNELS.ptx
#include <math.h>
#include <string.h>

#include "common.h"

struct Params {
  int mul;
  char tag;
  double add;
};

int main(int argc, char** argv) {
  if (argc != 3) {
    printf("usage: kernels_driver CUBIN PTX\n");
    return 2;
  }
  CHECK(cuInit(0));
  CUdevice dev;
  CHECK(cuDeviceGet(&dev, 0));
  CUcontext ctx;
  CHECK(cuCtxCreate(&ctx, NULL, 0, dev));
  CUcontext cur = NULL;
  CHECK(cuCtxGetCurrent(&cur));
  printf("created context is current: %s\n", cur == ctx ? "yes" : "no");

  size_t cubin_size = 0, ptx_size = 0;
  void* cubin = read_file(argv[1], &cubin_size, 0);
  char* ptx = (char*)read_file(argv[2], &ptx_size, 1);
  CUmodule mod, mod_ptx;
  CHECK(cuModuleLoadData(&mod, cubin));
  CUjit_option opts[] = {CU_JIT_OPTIMIZATION_LEVEL};
  void* vals[] = {(void*)(uintptr_t)3};
  CHECK(cuModuleLoadDataEx(&mod_ptx, ptx, 1, opts, vals));
  CUfunction vecadd, axpb, count, axpb_ptx;
  CHECK(cuModuleGetFunction(&vecadd, mod, "vecadd"));
  CHECK(cuModuleGetFunction(&axpb, mod, "axpb"));
  CHECK(cuModuleGetFunction(&count, mod, "count"));
  CHECK(cuModuleGetFunction(&axpb_ptx, mod_ptx, "axpb"));
  CUfunction missing;
  printf("missing function: %d\n", (int)cuModuleGetFunction(&missing, mod, "nope"));

  const int n = 1 << 20;
  const size_t bytes = n * sizeof(float);
  float *a, *b, *c;
  CHECK(cuMemAllocHost((void**)&a, bytes));
  CHECK(cuMemAllocHost((void**)&b, bytes));
  c = (float*)malloc(bytes);
  for (int i = 0; i < n; ++i) {
    a[i] = (float)i;
    b[i] = (float)(2 * i);
  }
  CUdeviceptr da, db, dc;
  CHECK(cuMemAlloc(&da, bytes));
  CHECK(cuMemAlloc(&db, bytes));
  CHECK(cuMemAlloc(&dc, bytes));
  CHECK(cuMemcpyHtoD(da, a, bytes));
  CUstream s;
  CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CHECK(cuMemcpyHtoDAsync(db, b, bytes, s));
  CUevent start, stop;
  CHECK(cuEventCreate(&start, CU_EVENT_DEFAULT));
  CHECK(cuEventCreate(&stop, CU_EVENT_DEFAULT));
  CHECK(cuEventRecord(start, s));
  int nn = n;
  void* args[] = {&da, &db, &dc, &nn};
  CHECK(cuLaunchKernel(vecadd, (n + 255) / 256, 1, 1, 256, 1, 1, 0, s, args, NULL));
  CHECK(cuEventRecord(stop, s));
  CHECK(cuMemcpyDtoHAsync(c, dc, bytes, s));
  CHECK(cuStreamSynchronize(s));
  CHECK(cuEventSynchronize(stop));
  float ms = -1;
  CHECK(cuEventElapsedTime(&ms, start, stop));
  printf("event elapsed time measured: %s, stream query: %d\n", ms >= 0 ? "yes" : "no", (int)cuStreamQuery(s));
  double sum = 0;
  int bad = 0;
  for (int i = 0; i < n; ++i) {
    sum += c[i];
    if (c[i] != 3.0f * i) bad++;
  }
  printf("vecadd: %d wrong, sum %.1f\n", bad, sum);

  // Mixed parameters through kernelParams, on the cubin and the PTX module.
  struct Params p = {3, 1, 0.5};
  char ch = 2;
  int m = 1000;
  for (int k = 0; k < 2; ++k) {
    CHECK(cuMemcpyDtoD(dc, da, bytes));
    void* args2[] = {&dc, &p, &ch, &m};
    CHECK(cuLaunchKernel(k == 0 ? axpb : axpb_ptx, 4, 1, 1, 256, 1, 1, 0, NULL, args2, NULL));
    CHECK(cuMemcpyDtoH(c, dc, 16 * sizeof(float)));
    printf("axpb (%s): %.1f %.1f %.1f\n", k == 0 ? "cubin" : "ptx", c[0], c[1], c[15]);
  }
  // The same through `extra`: the parameter buffer laid out by hand from cuFuncGetParamInfo.
  {
    unsigned char buf[64];
    memset(buf, 0, sizeof buf);
    size_t off[4], sz[4];
    for (int i = 0; i < 4; ++i) CHECK(cuFuncGetParamInfo(axpb, i, &off[i], &sz[i]));
    printf("axpb layout: %zu/%zu %zu/%zu %zu/%zu %zu/%zu\n", off[0], sz[0], off[1], sz[1], off[2], sz[2], off[3], sz[3]);
    memcpy(buf + off[0], &dc, sz[0]);
    memcpy(buf + off[1], &p, sz[1]);
    memcpy(buf + off[2], &ch, sz[2]);
    memcpy(buf + off[3], &m, sz[3]);
    size_t size = off[3] + sz[3];
    void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
    CHECK(cuMemcpyDtoD(dc, da, bytes));
    CHECK(cuLaunchKernel(axpb, 4, 1, 1, 256, 1, 1, 0, NULL, NULL, extra));
    CHECK(cuMemcpyDtoH(c, dc, 16 * sizeof(float)));
    printf("axpb (extra): %.1f %.1f %.1f\n", c[0], c[1], c[15]);
  }

  // Device globals.
  CUdeviceptr dcounter;
  size_t counter_size = 0;
  CHECK(cuModuleGetGlobal(&dcounter, &counter_size, mod, "counter"));
  CHECK(cuMemsetD32(dcounter, 5, 1));
  int inc = 2;
  void* args3[] = {&inc};
  CHECK(cuLaunchKernel(count, 2, 1, 1, 64, 1, 1, 0, NULL, args3, NULL));
  CHECK(cuCtxSynchronize());
  int counter = 0;
  CHECK(cuMemcpyDtoH(&counter, dcounter, sizeof counter));
  printf("global counter (%zu bytes): %d\n", counter_size, counter);

  // Memsets.
  CHECK(cuMemsetD8(da, 0x7f, 64));
  CHECK(cuMemsetD16Async(da + 64, 0x1234, 8, s));
  CHECK(cuMemsetD32Async(da + 128, 0xdeadbeef, 4, s));
  CHECK(cuStreamSynchronize(s));
  unsigned char raw[144];
  CHECK(cuMemcpyDtoH(raw, da, sizeof raw));
  printf("memset bytes: %02x %02x %02x %02x %02x\n", raw[0], raw[63], raw[64], raw[65], raw[128]);

  // The special stream handles: the per-thread stream (a launch and a memset on it, in order), the
  // legacy NULL stream, and the per-thread entry point cuGetProcAddress gives for the per-thread flag.
  CHECK(cuMemsetD32Async(da, 5, 4, CU_STREAM_PER_THREAD));
  CHECK(cuLaunchKernel(count, 1, 1, 1, 32, 1, 1, 0, CU_STREAM_PER_THREAD, args3, NULL));
  CHECK(cuStreamSynchronize(CU_STREAM_PER_THREAD));
  CHECK(cuStreamSynchronize(CU_STREAM_LEGACY));
  CUresult (*sync_ptsz)(CUstream) = NULL;
  CHECK(cuGetProcAddress("cuStreamSynchronize", (void**)&sync_ptsz, 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
                         NULL));
  CHECK(sync_ptsz(NULL));
  unsigned int fives[4];
  CHECK(cuMemcpyDtoH(fives, da, sizeof fives));
  CHECK(cuMemcpyDtoH(&counter, dcounter, sizeof counter));
  printf("per-thread stream: %u %u, counter %d, query legacy %d\n", fives[0], fives[3], counter,
         (int)cuStreamQuery(CU_STREAM_LEGACY));

  // Attributes and occupancy.
  int regs = -1, maxthreads = -1, blocks = -1;
  CHECK(cuFuncGetAttribute(&maxthreads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, vecadd));
  CHECK(cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, vecadd));
  CHECK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, vecadd, 256, 0));
  printf("vecadd: max threads %d, regs %d, blocks/SM at 256: %d\n", maxthreads, regs, blocks);

  // Errors come back from the call that caused them.
  void* args4[] = {&da, &db, &dc, &nn};
  printf("launch with 4096 threads/block: %d\n", (int)cuLaunchKernel(vecadd, 1, 1, 1, 4096, 1, 1, 0, NULL, args4, NULL));
  printf("free of a bad pointer: %d\n", (int)cuMemFree((CUdeviceptr)16));

  CHECK(cuEventDestroy(start));
  CHECK(cuEventDestroy(stop));
  CHECK(cuStreamDestroy(s));
  CHECK(cuMemFree(da));
  CHECK(cuMemFree(db));
  CHECK(cuMemFree(dc));
  CHECK(cuMemFreeHost(a));
  CHECK(cuMemFreeHost(b));
  CHECK(cuModuleUnload(mod));
  CHECK(cuModuleUnload(mod_ptx));
  CHECK(cuCtxDestroy(ctx));
  printf("PASS\n");
  return 0;
}
