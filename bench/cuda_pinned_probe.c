// Native only: how fast the driver copies between the device and page-locked host memory of each kind
// remora could use. remora's pinned memory is a shared memfd region registered with
// cuMemHostRegister in the server (apis/cuda/server/server_host_memory.cpp), where a native program gets
// cuMemHostAlloc's memory; this tells whether the kind of memory alone costs anything.
//
//   cuda_pinned_probe            (links -lcuda; prints one JSON line per figure)
//
// Kinds: hostalloc (cuMemHostAlloc), memfd (memfd_create + mmap MAP_SHARED|MAP_POPULATE, then
// cuMemHostRegister PORTABLE: exactly remora's region), malloc (aligned_alloc + cuMemHostRegister).
// Figures: median GB/s of 21 synchronous cuMemcpyHtoD / cuMemcpyDtoH per size.
#define _GNU_SOURCE
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cuda_bench.h"

enum { kReps = 21 };

static void measure(const char* kind, void* host, CUdeviceptr dev, size_t size) {
  for (int dir = 0; dir < 2; ++dir) {
    double t[kReps];
    for (int i = 0; i < kReps; ++i) {
      double t0 = now();
      if (dir == 0)
        CHECK(cuMemcpyHtoD(dev, host, size));
      else
        CHECK(cuMemcpyDtoH(host, dev, size));
      t[i] = now() - t0;
    }
    const double mid = median(t, kReps);
    printf("{\"kind\": \"%s\", \"dir\": \"%s\", \"MiB\": %zu, \"GBps\": %.2f, \"us\": %.1f}\n", kind,
           dir == 0 ? "htod" : "dtoh", size >> 20, size / mid / 1e9, mid * 1e6);
  }
}

int main(void) {
  const size_t sizes[] = {4u << 20, 16u << 20, 64u << 20};
  const size_t max = 64u << 20;
  CUdevice d;
  CUcontext ctx;
  CUdeviceptr dev;
  CHECK(cuInit(0));
  CHECK(cuDeviceGet(&d, 0));
  CHECK(cuDevicePrimaryCtxRetain(&ctx, d));
  CHECK(cuCtxSetCurrent(ctx));
  CHECK(cuMemAlloc(&dev, max));

  void* hostalloc = NULL;
  CHECK(cuMemHostAlloc(&hostalloc, max, 0));
  memset(hostalloc, 1, max);

  int fd = memfd_create("probe", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, (off_t)max) != 0) return perror("memfd"), 1;
  void* region = mmap(NULL, max, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (region == MAP_FAILED) return perror("mmap"), 1;
  CHECK(cuMemHostRegister(region, max, CU_MEMHOSTREGISTER_PORTABLE));

  void* heap = aligned_alloc(4096, max);
  memset(heap, 3, max);
  CHECK(cuMemHostRegister(heap, max, CU_MEMHOSTREGISTER_PORTABLE));

  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
    measure("hostalloc", hostalloc, dev, sizes[i]);
    measure("memfd", region, dev, sizes[i]);
    measure("malloc", heap, dev, sizes[i]);
  }
  CHECK(cuMemHostUnregister(heap));
  CHECK(cuMemHostUnregister(region));
  CHECK(cuMemFreeHost(hostalloc));
  CHECK(cuMemFree(dev));
  return 0;
}
