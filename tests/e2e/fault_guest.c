// The guest side of the server-fault test (server_faults.sh): its server is killed while it waits
// in clFinish behind a long kernel. Usage: fault_guest READY_FILE SPIN_ITERATIONS
//
// It writes READY_FILE just before the clFinish, so the test kills the server mid-call. Then the
// pending call and every later one must fail with the transport error, CL_DEVICE_NOT_AVAILABLE,
// rather than hang or crash. Prints each result and "PASS" (exit 0), or "FAIL: ..." (exit 1).
#include "common.h"

#include <unistd.h>

static const char* kSrc =
    "__kernel void spin(__global uint* out, uint n) {\n"
    "  uint v = get_global_id(0);\n"
    "  for (uint i = 0; i < n; ++i) v = v * 1664525u + 1013904223u;\n"
    "  out[get_global_id(0)] = v;\n"
    "}\n";

int main(int argc, char** argv) {
  if (argc < 3) e2e_fail("usage: fault_guest READY_FILE SPIN_ITERATIONS");
  const cl_uint spin = (cl_uint)strtoul(argv[2], NULL, 10);
  cl_platform_id platform;
  cl_device_id dev;
  e2e_first_device(&platform, &dev);
  cl_context ctx = e2e_context(dev);
  cl_command_queue q = e2e_queue(ctx, dev, 0);
  cl_program prog = e2e_build(ctx, dev, kSrc, "");
  cl_kernel k = e2e_kernel(prog, "spin");
  cl_int err;
  cl_mem out = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 64 * sizeof(cl_uint), NULL, &err);
  CHECK_ERR(err);
  CHECK(clSetKernelArg(k, 0, sizeof out, &out));
  CHECK(clSetKernelArg(k, 1, sizeof spin, &spin));
  size_t gws = 64;
  CHECK(clEnqueueNDRangeKernel(q, k, 1, NULL, &gws, NULL, 0, NULL, NULL));

  FILE* f = fopen(argv[1], "w");
  if (f == NULL) e2e_fail("cannot write %s", argv[1]);
  fprintf(f, "%d\n", (int)getpid());
  fclose(f);

  // The server dies during this call.
  const cl_int finish = clFinish(q);
  printf("clFinish: %s\n", e2e_err_name(finish));
  if (finish != CL_DEVICE_NOT_AVAILABLE) e2e_fail("the pending clFinish returned %s", e2e_err_name(finish));

  // Every later call fails the same way, whether it would be sent at once or batched.
  cl_mem more = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 64, NULL, &err);
  printf("clCreateBuffer: %s\n", e2e_err_name(err));
  if (more != NULL || err != CL_DEVICE_NOT_AVAILABLE) e2e_fail("clCreateBuffer after the server died");
  cl_uint data[4] = {1, 2, 3, 4};
  err = clEnqueueWriteBuffer(q, out, CL_TRUE, 0, sizeof data, data, 0, NULL, NULL);
  printf("clEnqueueWriteBuffer: %s\n", e2e_err_name(err));
  if (err != CL_DEVICE_NOT_AVAILABLE) e2e_fail("clEnqueueWriteBuffer after the server died");
  err = clEnqueueNDRangeKernel(q, k, 1, NULL, &gws, NULL, 0, NULL, NULL);
  err = err != CL_SUCCESS ? err : clFinish(q);  // an enqueue may be batched: its error shows at the finish
  printf("clEnqueueNDRangeKernel+clFinish: %s\n", e2e_err_name(err));
  if (err != CL_DEVICE_NOT_AVAILABLE) e2e_fail("enqueue after the server died");
  // Releases must not crash or hang either (their result is the implementation's business).
  clReleaseMemObject(out);
  clReleaseKernel(k);
  clReleaseProgram(prog);
  clReleaseCommandQueue(q);
  clReleaseContext(ctx);
  printf("PASS\n");
  return 0;
}
