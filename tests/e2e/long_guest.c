// A long-running guest for the server robustness test: loops kernels + reads for a given time,
// checking every result. Usage: long_guest SECONDS [PIDFILE]
// After the first checked iteration it writes its pid to PIDFILE (so a test can kill it while it
// holds live objects on the server). Prints only "PASS" or "FAIL: ..." (the iteration count
// depends on speed).
#include "common.h"

#include <unistd.h>

static const char* kSrc =
    "__kernel void scramble(__global uint* p, uint it) {\n"
    "  size_t i = get_global_id(0);\n"
    "  uint v = p[i];\n"
    "  for (int r = 0; r < 16; ++r) v = v * 1664525u + 1013904223u + it;\n"
    "  p[i] = v;\n"
    "}\n";

enum { N = 1 << 16 };

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  if (argc < 2) e2e_fail("usage: long_guest SECONDS [PIDFILE]");
  double seconds = atof(argv[1]);
  const char* pidfile = argc > 2 ? argv[2] : NULL;
  cl_platform_id platform;
  cl_device_id dev;
  e2e_first_device(&platform, &dev);
  cl_context ctx = e2e_context(dev);
  cl_command_queue q = e2e_queue(ctx, dev, 0);
  cl_program prog = e2e_build(ctx, dev, kSrc, "");
  cl_kernel k = e2e_kernel(prog, "scramble");
  static cl_uint host[N], back[N];
  for (int i = 0; i < N; ++i) host[i] = (cl_uint)i * 2654435761u;
  cl_int err;
  cl_mem buf = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof host, host, &err);
  CHECK_ERR(err);
  CHECK(clSetKernelArg(k, 0, sizeof buf, &buf));
  size_t gws = N;
  double start = now_s();
  long iterations = 0;
  for (cl_uint it = 0; now_s() - start < seconds || iterations == 0; ++it) {
    CHECK(clSetKernelArg(k, 1, sizeof it, &it));
    CHECK(clEnqueueNDRangeKernel(q, k, 1, NULL, &gws, NULL, 0, NULL, NULL));
    for (int i = 0; i < N; ++i) {
      cl_uint v = host[i];
      for (int r = 0; r < 16; ++r) v = v * 1664525u + 1013904223u + it;
      host[i] = v;
    }
    cl_event ev;
    CHECK(clEnqueueReadBuffer(q, buf, CL_FALSE, 0, sizeof back, back, 0, NULL, &ev));
    CHECK(clWaitForEvents(1, &ev));
    CHECK(clReleaseEvent(ev));
    if (memcmp(host, back, sizeof host) != 0) e2e_fail("iteration %u: wrong result", it);
    if (++iterations == 1 && pidfile) {
      FILE* f = fopen(pidfile, "w");
      if (!f) e2e_fail("cannot write %s", pidfile);
      fprintf(f, "%ld\n", (long)getpid());
      fclose(f);
    }
  }
  CHECK(clReleaseMemObject(buf));
  CHECK(clReleaseKernel(k));
  CHECK(clReleaseProgram(prog));
  CHECK(clReleaseCommandQueue(q));
  CHECK(clReleaseContext(ctx));
  e2e_pass();
}
