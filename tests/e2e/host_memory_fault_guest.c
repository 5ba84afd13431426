// The guest side of host_memory_fault.sh: its server's session process may map little more host
// memory than it has at the start (remora serve --max-session-host-memory). Usage: host_memory_fault_guest
//
//   1. a blocking read of 1 GiB (from a 1 MiB buffer) needs 1 GiB of host memory on the server for
//      the result: the call fails with CL_OUT_OF_HOST_MEMORY, and the session goes on;
//   2. a 1 MiB read of the same buffer works and returns the right data;
//   3. a 4 GiB buffer: the vendor cannot have it; any error is fine, the session must go on;
//   4. a last round trip through a fresh buffer works.
// Prints each result and "PASS" (exit 0), or "FAIL: ..." (exit 1).
#include "common.h"

int main(void) {
  cl_platform_id platform;
  cl_device_id dev;
  e2e_first_device(&platform, &dev);
  cl_context ctx = e2e_context(dev);
  cl_command_queue q = e2e_queue(ctx, dev, 0);
  cl_int err;
  const size_t small = 1 << 20;
  cl_mem b = clCreateBuffer(ctx, CL_MEM_READ_WRITE, small, NULL, &err);
  CHECK_ERR(err);
  const cl_uint pattern = 0xc0ffee11u;
  CHECK_ERR(clEnqueueFillBuffer(q, b, &pattern, sizeof pattern, 0, small, 0, NULL, NULL));
  CHECK_ERR(clFinish(q));

  const size_t huge = (size_t)1 << 30;
  void* dst = malloc(huge);  // never touched: only the server would need the memory
  if (dst == NULL) e2e_fail("guest: no 1 GiB of address space for the destination");
  err = clEnqueueReadBuffer(q, b, CL_TRUE, 0, huge, dst, 0, NULL, NULL);
  printf("read of 1 GiB: %s\n", e2e_err_name(err));
  if (err != CL_OUT_OF_HOST_MEMORY) e2e_fail("the huge read did not fail with CL_OUT_OF_HOST_MEMORY");
  free(dst);

  cl_uint* got = malloc(small);
  CHECK_ERR(clEnqueueReadBuffer(q, b, CL_TRUE, 0, small, got, 0, NULL, NULL));
  for (size_t i = 0; i < small / sizeof *got; ++i)
    if (got[i] != pattern) e2e_fail("the 1 MiB read after the failure returned wrong data");
  printf("read of 1 MiB: CL_SUCCESS, data right\n");

  cl_mem big = clCreateBuffer(ctx, CL_MEM_READ_WRITE, (size_t)4 << 30, NULL, &err);
  printf("4 GiB buffer: %s\n", err == CL_SUCCESS ? "created" : "refused");
  if (big != NULL) clReleaseMemObject(big);

  cl_mem c = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 4096, NULL, &err);
  CHECK_ERR(err);
  cl_uint in[1024], out[1024];
  for (int i = 0; i < 1024; ++i) in[i] = (cl_uint)i * 7u;
  CHECK_ERR(clEnqueueWriteBuffer(q, c, CL_TRUE, 0, sizeof in, in, 0, NULL, NULL));
  CHECK_ERR(clEnqueueReadBuffer(q, c, CL_TRUE, 0, sizeof out, out, 0, NULL, NULL));
  if (memcmp(in, out, sizeof in) != 0) e2e_fail("the last round trip returned wrong data");
  printf("round trip after: CL_SUCCESS, data right\n");
  clReleaseMemObject(c);
  clReleaseMemObject(b);
  free(got);
  clReleaseCommandQueue(q);
  clReleaseContext(ctx);
  printf("PASS\n");
  return 0;
}
