// CUDA driver-API micro-benchmarks and an end-to-end workload, run natively or through `remora run`
// (bench/gpu_run.sh runs both and compares). Each figure is the median of REPS repetitions.
//
//   cuda_micro KERNELS.cubin launch|sync|memcpy|e2e|check [--quick]
//
// Prints one JSON object per line: {"bench": ..., "value": ..., "unit": ...}.
//   launch   empty-kernel launches per second: LAUNCHES asynchronous launches on a stream, then one sync
//   sync     microseconds per cuStreamQuery and per cuCtxSynchronize on an idle stream
//   memcpy   GB/s of cuMemcpyHtoD/DtoH from pageable (malloc) and pinned (cuMemHostAlloc) memory, 4..256 MiB
//   e2e      tiled matmuls and Jacobi steps (a few seconds natively), results checked; seconds
//   check    host<->device copies of odd sizes through every path (pageable and pinned, sync and async,
//            offsets inside a pinned allocation), each result compared byte for byte; 1 = all correct
#define _POSIX_C_SOURCE 200809L
#include <cuda.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cuda_bench.h"

static int quick;

static void report(const char* bench, double value, const char* unit) {
  printf("{\"bench\": \"%s\", \"value\": %.6g, \"unit\": \"%s\"}\n", bench, value, unit);
  fflush(stdout);
}

static CUmodule module;
static CUfunction fn_empty, fn_matmul, fn_jacobi;

static void bench_launch(void) {
  const int launches = quick ? 5000 : 100000, reps = quick ? 3 : 7;
  CUstream s;
  CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  void* args[] = {NULL};
  for (int i = 0; i < 1000; ++i) CHECK(cuLaunchKernel(fn_empty, 1, 1, 1, 32, 1, 1, 0, s, args, NULL));  // warm-up
  CHECK(cuStreamSynchronize(s));
  double r[16];
  for (int k = 0; k < reps; ++k) {
    double t0 = now();
    for (int i = 0; i < launches; ++i) CHECK(cuLaunchKernel(fn_empty, 1, 1, 1, 32, 1, 1, 0, s, args, NULL));
    CHECK(cuStreamSynchronize(s));
    r[k] = launches / (now() - t0);
  }
  report("launch_empty", median(r, reps), "launches/s");
  CHECK(cuStreamDestroy(s));
}

static void bench_sync(void) {
  const int calls = quick ? 2000 : 20000, reps = quick ? 3 : 7;
  CUstream s;
  CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  double r[16];
  for (int k = 0; k < reps; ++k) {
    double t0 = now();
    for (int i = 0; i < calls; ++i) CHECK(cuStreamQuery(s));
    r[k] = (now() - t0) / calls * 1e6;
  }
  report("stream_query", median(r, reps), "us");
  for (int k = 0; k < reps; ++k) {
    double t0 = now();
    for (int i = 0; i < calls; ++i) CHECK(cuCtxSynchronize());
    r[k] = (now() - t0) / calls * 1e6;
  }
  report("ctx_synchronize", median(r, reps), "us");
  CHECK(cuStreamDestroy(s));
}

static void bench_memcpy(void) {
  const size_t max = (quick ? 16u : 256u) << 20;
  CUdeviceptr d;
  CHECK(cuMemAlloc(&d, max));
  void* pageable = malloc(max);
  void* pinned = NULL;
  CHECK(cuMemHostAlloc(&pinned, max, 0));
  memset(pageable, 1, max);
  memset(pinned, 2, max);
  for (int p = 0; p < 2; ++p) {
    void* host = p ? pinned : pageable;
    for (size_t size = 4u << 20; size <= max; size *= 4) {
      // Small copies take well under a millisecond each and vary most: more of them.
      const int reps = quick ? 3 : size <= (16u << 20) ? 21 : 7;
      for (int dir = 0; dir < 2; ++dir) {
        double r[32];
        // One warm-up (first touch of the pages, staging buffers), then the measured copies.
        for (int k = -1; k < reps; ++k) {
          double t0 = now();
          if (dir == 0)
            CHECK(cuMemcpyHtoD(d, host, size));
          else
            CHECK(cuMemcpyDtoH(host, d, size));
          if (k >= 0) r[k] = size / (now() - t0) / 1e9;
        }
        char name[64];
        snprintf(name, sizeof name, "memcpy_%s_%s_%zuMiB", dir ? "dtoh" : "htod", p ? "pinned" : "pageable", size >> 20);
        report(name, median(r, reps), "GB/s");
      }
    }
  }
  CHECK(cuMemFreeHost(pinned));
  free(pageable);
  CHECK(cuMemFree(d));
}

// Tiled matmuls (each result checked at sampled entries against the CPU) and a Jacobi relaxation
// (its checksum printed; gpu_run.sh compares it between the runs).
static void bench_e2e(void) {
  const int n = quick ? 512 : 2048, matmuls = quick ? 5 : 200;
  const int grid = quick ? 1024 : 4096, steps = quick ? 100 : 10000;
  double t0 = now();
  size_t bytes = (size_t)n * n * sizeof(float);
  float* a = malloc(bytes);
  float* b = malloc(bytes);
  float* c = malloc(bytes);
  for (int i = 0; i < n * n; ++i) {
    a[i] = (float)((i * 7) % 13) / 13.0f;
    b[i] = (float)((i * 5) % 11) / 11.0f;
  }
  CUdeviceptr da, db, dc;
  CHECK(cuMemAlloc(&da, bytes));
  CHECK(cuMemAlloc(&db, bytes));
  CHECK(cuMemAlloc(&dc, bytes));
  CHECK(cuMemcpyHtoD(da, a, bytes));
  CHECK(cuMemcpyHtoD(db, b, bytes));
  int nn = n;
  void* margs[] = {&da, &db, &dc, &nn};
  for (int i = 0; i < matmuls; ++i)
    CHECK(cuLaunchKernel(fn_matmul, n / 32, n / 32, 1, 32, 32, 1, 0, NULL, margs, NULL));
  CHECK(cuMemcpyDtoH(c, dc, bytes));
  int bad = 0;
  for (int s = 0; s < 64; ++s) {
    int row = (s * 97) % n, col = (s * 389) % n;
    double want = 0;
    for (int k = 0; k < n; ++k) want += (double)a[row * n + k] * b[k * n + col];
    if (fabs(want - c[row * n + col]) > 1e-3 * fmax(1.0, fabs(want))) ++bad;
  }
  if (bad) {
    fprintf(stderr, "FAIL: matmul: %d of 64 sampled entries wrong\n", bad);
    exit(1);
  }
  // Jacobi: hot top border, everything else 0.
  size_t gbytes = (size_t)grid * grid * sizeof(float);
  float* g = calloc((size_t)grid * grid, sizeof(float));
  for (int x = 0; x < grid; ++x) g[x] = 100.0f;
  CUdeviceptr g0, g1;
  CHECK(cuMemAlloc(&g0, gbytes));
  CHECK(cuMemAlloc(&g1, gbytes));
  CHECK(cuMemcpyHtoD(g0, g, gbytes));
  CHECK(cuMemcpyHtoD(g1, g, gbytes));
  int gn = grid;
  for (int i = 0; i < steps; ++i) {
    void* jargs[] = {i % 2 ? &g1 : &g0, i % 2 ? &g0 : &g1, &gn};
    CHECK(cuLaunchKernel(fn_jacobi, grid / 32, grid / 8, 1, 32, 8, 1, 0, NULL, jargs, NULL));
  }
  CHECK(cuMemcpyDtoH(g, steps % 2 ? g1 : g0, gbytes));
  double sum = 0;
  for (size_t i = 0; i < (size_t)grid * grid; ++i) sum += g[i];
  double t = now() - t0;
  fprintf(stderr, "e2e: matmul %d x%d ok, jacobi %d^2 x%d checksum %.6e\n", n, matmuls, grid, steps, sum);
  printf("{\"bench\": \"e2e_checksum\", \"value\": %.10e, \"unit\": \"sum\"}\n", sum);
  report("e2e_compute", t, "s");
  CHECK(cuMemFree(da));
  CHECK(cuMemFree(db));
  CHECK(cuMemFree(dc));
  CHECK(cuMemFree(g0));
  CHECK(cuMemFree(g1));
  free(a);
  free(b);
  free(c);
  free(g);
}

// Every copy path with sizes that are not multiples of any chunk, compared byte for byte.
static int check_copies(const unsigned char* want, const unsigned char* got, size_t n, const char* what) {
  if (memcmp(want, got, n) != 0) {
    fprintf(stderr, "FAIL: %s: %zu bytes differ\n", what, n);
    return 1;
  }
  return 0;
}

static void bench_check(void) {
  const size_t sizes[] = {1, 4096 + 3, (512u << 10) + 8, (8u << 20) - 1, (37u << 20) + 123};
  const size_t max = (64u << 20);
  CUdeviceptr d;
  CHECK(cuMemAlloc(&d, max));
  unsigned char* src = malloc(max);
  unsigned char* dst = malloc(max);
  unsigned char* pin = NULL;
  CHECK(cuMemHostAlloc((void**)&pin, max + 100, 0));
  CUstream s;
  CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  int bad = 0;
  for (unsigned k = 0; k < sizeof sizes / sizeof *sizes; ++k) {
    size_t n = sizes[k];
    for (size_t i = 0; i < n; ++i) src[i] = (unsigned char)(i * 131 + k * 7 + (i >> 13));
    // pageable sync both ways
    memset(dst, 0, n);
    CHECK(cuMemcpyHtoD(d, src, n));
    CHECK(cuMemcpyDtoH(dst, d, n));
    bad += check_copies(src, dst, n, "pageable HtoD/DtoH");
    // pageable async DtoH
    memset(dst, 0, n);
    CHECK(cuMemsetD8Async(d, 0, n, s));
    CHECK(cuMemcpyHtoDAsync(d, src, n, s));
    CHECK(cuMemcpyDtoHAsync(dst, d, n, s));
    CHECK(cuStreamSynchronize(s));
    bad += check_copies(src, dst, n, "pageable HtoDAsync/DtoHAsync");
    // pinned at an odd offset, sync and async
    unsigned char* p = pin + 77;
    memcpy(p, src, n);
    CHECK(cuMemsetD8(d, 0, n));
    CHECK(cuMemcpyHtoD(d, p, n));
    memset(p, 0, n);
    CHECK(cuMemcpyDtoH(p, d, n));
    bad += check_copies(src, p, n, "pinned HtoD/DtoH");
    memset(p, 0, n);
    CHECK(cuMemsetD8Async(d, 0, n, s));
    memcpy(p, src, n);
    CHECK(cuMemcpyHtoDAsync(d, p, n, s));
    CHECK(cuStreamSynchronize(s));
    memset(p, 0, n);
    CHECK(cuMemcpyDtoHAsync(p, d, n, s));
    CHECK(cuStreamSynchronize(s));
    bad += check_copies(src, p, n, "pinned HtoDAsync/DtoHAsync");
    // pinned to pageable through the device
    memset(dst, 0, n);
    CHECK(cuMemcpyDtoH(dst, d, n));
    bad += check_copies(src, dst, n, "pinned HtoD then pageable DtoH");
  }
  // Errors as the driver gives them: a copy past the end of the allocation.
  CUresult r = cuMemcpyHtoD(d + max - 16, src, 1u << 20);
  fprintf(stderr, "check: copy past the allocation's end: %d\n", (int)r);
  if (r == CUDA_SUCCESS) bad++;
  r = cuMemcpyDtoH(pin, d + max - 16, 1u << 20);
  fprintf(stderr, "check: pinned copy past the allocation's end: %d\n", (int)r);
  if (r == CUDA_SUCCESS) bad++;
  CHECK(cuStreamDestroy(s));
  CHECK(cuMemFreeHost(pin));
  r = cuMemFreeHost(pin);
  fprintf(stderr, "check: second cuMemFreeHost: %d\n", (int)r);
  if (r == CUDA_SUCCESS) bad++;
  CHECK(cuMemFree(d));
  free(src);
  free(dst);
  report("check_copies", bad == 0, "ok");
  if (bad) exit(1);
}

static void* read_file(const char* path) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "FAIL: cannot open %s\n", path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void* buf = malloc((size_t)n);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) exit(1);
  fclose(f);
  return buf;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: cuda_micro KERNELS.cubin launch|sync|memcpy|e2e|check [--quick]\n");
    return 2;
  }
  quick = argc > 3 && strcmp(argv[3], "--quick") == 0;
  CHECK(cuInit(0));
  CUdevice dev;
  CHECK(cuDeviceGet(&dev, 0));
  CUcontext ctx;
  CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
  CHECK(cuCtxSetCurrent(ctx));
  void* cubin = read_file(argv[1]);
  CHECK(cuModuleLoadData(&module, cubin));
  CHECK(cuModuleGetFunction(&fn_empty, module, "empty"));
  CHECK(cuModuleGetFunction(&fn_matmul, module, "matmul"));
  CHECK(cuModuleGetFunction(&fn_jacobi, module, "jacobi"));
  const char* what = argv[2];
  if (strcmp(what, "launch") == 0)
    bench_launch();
  else if (strcmp(what, "sync") == 0)
    bench_sync();
  else if (strcmp(what, "memcpy") == 0)
    bench_memcpy();
  else if (strcmp(what, "e2e") == 0)
    bench_e2e();
  else if (strcmp(what, "check") == 0)
    bench_check();
  else {
    fprintf(stderr, "unknown benchmark %s\n", what);
    return 2;
  }
  CHECK(cuModuleUnload(module));
  CHECK(cuDevicePrimaryCtxRelease(dev));
  return 0;
}
