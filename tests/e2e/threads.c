// Multi-threaded use: 4 pthreads share one context and one program; each has its own queue, kernel
// object and buffers, and loops kernels + reads, checking every result. Meanwhile they also use the
// shared context concurrently (creating and releasing buffers, querying info) and all write into
// disjoint parts of one shared buffer. Output is printed by the main thread after joining, so it
// is deterministic.
#include "common.h"

#include <pthread.h>

static const char* kSrc =
    "__kernel void advance(__global uint* p, uint k) { size_t i = get_global_id(0); p[i] = p[i] * 3u + k; }\n"
    "__kernel void mark(__global int* shared, int base, int v) { shared[base + get_global_id(0)] = v; }\n";

enum { NT = 4, N = 1024, ITERS = 25, SHARED_PER = 256 };

typedef struct {
  int id;
  cl_context ctx;
  cl_device_id dev;
  cl_program prog;
  cl_mem shared;
  char failure[256];
  uint32_t crc;
} Worker;

#define WFAIL(w, ...)                                               \
  do {                                                              \
    snprintf((w)->failure, sizeof (w)->failure, __VA_ARGS__);      \
    return NULL;                                                    \
  } while (0)
#define WCHECK(w, call)                                                                             \
  do {                                                                                              \
    cl_int e_ = (call);                                                                             \
    if (e_ != CL_SUCCESS) WFAIL(w, "thread %d line %d: %s -> %s", (w)->id, __LINE__, #call, e2e_err_name(e_)); \
  } while (0)

static void* worker(void* arg) {
  Worker* w = arg;
  cl_int err;
  cl_command_queue q = clCreateCommandQueueWithProperties(w->ctx, w->dev, NULL, &err);
  WCHECK(w, err);
  cl_kernel step = clCreateKernel(w->prog, "advance", &err);
  WCHECK(w, err);
  cl_kernel mark = clCreateKernel(w->prog, "mark", &err);
  WCHECK(w, err);
  cl_int host[N], back[N];
  for (int i = 0; i < N; ++i) host[i] = i + w->id * 7;
  cl_mem buf = clCreateBuffer(w->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof host, host, &err);
  WCHECK(w, err);
  WCHECK(w, clSetKernelArg(step, 0, sizeof buf, &buf));
  size_t gws = N;
  for (int it = 0; it < ITERS; ++it) {
    cl_int k = it - w->id;
    WCHECK(w, clSetKernelArg(step, 1, sizeof k, &k));
    WCHECK(w, clEnqueueNDRangeKernel(q, step, 1, NULL, &gws, NULL, 0, NULL, NULL));
    for (int i = 0; i < N; ++i) host[i] = (cl_int)((uint32_t)host[i] * 3u + (uint32_t)k);  // wraps, as the kernel's uint
    if (it % 5 == 4) {
      WCHECK(w, clEnqueueReadBuffer(q, buf, CL_TRUE, 0, sizeof back, back, 0, NULL, NULL));
      for (int i = 0; i < N; ++i)
        if (back[i] != host[i]) WFAIL(w, "thread %d iteration %d element %d: %d want %d", w->id, it, i, back[i], host[i]);
    }
    // Shared-context traffic: a short-lived buffer and an info query.
    cl_mem tmp = clCreateBuffer(w->ctx, CL_MEM_READ_WRITE, 64 + it, NULL, &err);
    WCHECK(w, err);
    size_t sz = 0;
    WCHECK(w, clGetMemObjectInfo(tmp, CL_MEM_SIZE, sizeof sz, &sz, NULL));
    if (sz != (size_t)(64 + it)) WFAIL(w, "thread %d: temporary buffer size %zu", w->id, sz);
    WCHECK(w, clReleaseMemObject(tmp));
  }
  // Each thread marks its own slice of the shared buffer.
  cl_int base = w->id * SHARED_PER, v = 1000 + w->id;
  WCHECK(w, clSetKernelArg(mark, 0, sizeof w->shared, &w->shared));
  WCHECK(w, clSetKernelArg(mark, 1, sizeof base, &base));
  WCHECK(w, clSetKernelArg(mark, 2, sizeof v, &v));
  size_t per = SHARED_PER;
  WCHECK(w, clEnqueueNDRangeKernel(q, mark, 1, NULL, &per, NULL, 0, NULL, NULL));
  WCHECK(w, clFinish(q));
  w->crc = e2e_crc32(host, sizeof host);
  WCHECK(w, clReleaseMemObject(buf));
  WCHECK(w, clReleaseKernel(step));
  WCHECK(w, clReleaseKernel(mark));
  WCHECK(w, clReleaseCommandQueue(q));
  return NULL;
}

int main(void) {
  cl_platform_id platform;
  cl_device_id dev;
  e2e_first_device(&platform, &dev);
  cl_context ctx = e2e_context(dev);
  cl_program prog = e2e_build(ctx, dev, kSrc, "");
  cl_int err;
  cl_mem shared = clCreateBuffer(ctx, CL_MEM_READ_WRITE, NT * SHARED_PER * sizeof(cl_int), NULL, &err);
  CHECK_ERR(err);

  Worker ws[NT];
  pthread_t th[NT];
  for (int t = 0; t < NT; ++t) {
    memset(&ws[t], 0, sizeof ws[t]);
    ws[t].id = t;
    ws[t].ctx = ctx;
    ws[t].dev = dev;
    ws[t].prog = prog;
    ws[t].shared = shared;
    EXPECT(pthread_create(&th[t], NULL, worker, &ws[t]) == 0, "pthread_create");
  }
  for (int t = 0; t < NT; ++t) pthread_join(th[t], NULL);
  for (int t = 0; t < NT; ++t) {
    if (ws[t].failure[0]) e2e_fail("%s", ws[t].failure);
    printf("thread %d: %d iterations, crc32=%08x\n", t, ITERS, ws[t].crc);
  }

  cl_command_queue q = e2e_queue(ctx, dev, 0);
  cl_int marks[NT * SHARED_PER];
  CHECK(clEnqueueReadBuffer(q, shared, CL_TRUE, 0, sizeof marks, marks, 0, NULL, NULL));
  for (int i = 0; i < NT * SHARED_PER; ++i)
    EXPECT(marks[i] == 1000 + i / SHARED_PER, "shared buffer element %d is %d", i, marks[i]);
  printf("shared buffer: all slices marked\n");

  CHECK(clReleaseCommandQueue(q));
  CHECK(clReleaseMemObject(shared));
  CHECK(clReleaseProgram(prog));
  CHECK(clReleaseContext(ctx));
  e2e_pass();
}
