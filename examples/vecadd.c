/* vecadd: a small, real OpenCL program. Lists the platform and device, builds a kernel, adds two
 * vectors of 1M floats on the device, checks every element on the host, and prints the device name,
 * a checksum and PASS. Output is deterministic, so runs through different transports can be
 * compared line by line (scripts/demo.sh). */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N (1 << 20)

static const char* kSource =
    "__kernel void vecadd(__global const float* a, __global const float* b, __global float* c) {\n"
    "  size_t i = get_global_id(0);\n"
    "  c[i] = a[i] + b[i];\n"
    "}\n";

#define CHECK(call)                                                              \
  do {                                                                           \
    cl_int err_ = (call);                                                        \
    if (err_ != CL_SUCCESS) {                                                    \
      fprintf(stderr, "vecadd: %s failed: %d\n", #call, err_);                   \
      return 1;                                                                  \
    }                                                                            \
  } while (0)

int main(void) {
  cl_platform_id platform;
  cl_uint num_platforms = 0;
  CHECK(clGetPlatformIDs(1, &platform, &num_platforms));
  if (num_platforms == 0) {
    fprintf(stderr, "vecadd: no OpenCL platform\n");
    return 1;
  }
  char platform_name[256] = {0};
  CHECK(clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof platform_name - 1, platform_name, NULL));

  cl_device_id device;
  CHECK(clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL));
  char device_name[256] = {0};
  cl_uint compute_units = 0;
  CHECK(clGetDeviceInfo(device, CL_DEVICE_NAME, sizeof device_name - 1, device_name, NULL));
  CHECK(clGetDeviceInfo(device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof compute_units, &compute_units, NULL));
  printf("platform: %s\n", platform_name);
  printf("device: %s\n", device_name);
  printf("compute units: %u\n", compute_units);

  cl_int err;
  cl_context ctx = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
  CHECK(err);
  cl_command_queue queue = clCreateCommandQueue(ctx, device, 0, &err);
  CHECK(err);
  cl_program program = clCreateProgramWithSource(ctx, 1, &kSource, NULL, &err);
  CHECK(err);
  if (clBuildProgram(program, 1, &device, "", NULL, NULL) != CL_SUCCESS) {
    char log[4096] = {0};
    clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
    fprintf(stderr, "vecadd: build failed:\n%s\n", log);
    return 1;
  }
  cl_kernel kernel = clCreateKernel(program, "vecadd", &err);
  CHECK(err);

  float* a = malloc(N * sizeof(float));
  float* b = malloc(N * sizeof(float));
  float* c = malloc(N * sizeof(float));
  if (!a || !b || !c) {
    fprintf(stderr, "vecadd: out of memory\n");
    return 1;
  }
  for (int i = 0; i < N; ++i) {
    a[i] = (float)(i % 1000) * 0.5f;
    b[i] = (float)(i % 77) * 2.0f;
  }
  const size_t bytes = N * sizeof(float);
  cl_mem da = clCreateBuffer(ctx, CL_MEM_READ_ONLY, bytes, NULL, &err);
  CHECK(err);
  cl_mem db = clCreateBuffer(ctx, CL_MEM_READ_ONLY, bytes, NULL, &err);
  CHECK(err);
  cl_mem dc = clCreateBuffer(ctx, CL_MEM_WRITE_ONLY, bytes, NULL, &err);
  CHECK(err);
  CHECK(clEnqueueWriteBuffer(queue, da, CL_FALSE, 0, bytes, a, 0, NULL, NULL));
  CHECK(clEnqueueWriteBuffer(queue, db, CL_FALSE, 0, bytes, b, 0, NULL, NULL));
  CHECK(clSetKernelArg(kernel, 0, sizeof da, &da));
  CHECK(clSetKernelArg(kernel, 1, sizeof db, &db));
  CHECK(clSetKernelArg(kernel, 2, sizeof dc, &dc));
  const size_t global = N;
  CHECK(clEnqueueNDRangeKernel(queue, kernel, 1, NULL, &global, NULL, 0, NULL, NULL));
  CHECK(clEnqueueReadBuffer(queue, dc, CL_TRUE, 0, bytes, c, 0, NULL, NULL));
  CHECK(clFinish(queue));

  /* Every element is exact in float (small integers and halves), so equality is the right test. */
  int bad = 0;
  double checksum = 0.0;
  for (int i = 0; i < N; ++i) {
    if (c[i] != a[i] + b[i]) {
      if (bad < 5) fprintf(stderr, "vecadd: c[%d] = %g, expected %g\n", i, c[i], a[i] + b[i]);
      ++bad;
    }
    checksum += c[i];
  }
  printf("elements: %d\n", N);
  printf("checksum: %.1f\n", checksum);

  clReleaseMemObject(da);
  clReleaseMemObject(db);
  clReleaseMemObject(dc);
  clReleaseKernel(kernel);
  clReleaseProgram(program);
  clReleaseCommandQueue(queue);
  clReleaseContext(ctx);
  free(a);
  free(b);
  free(c);
  if (bad != 0) {
    printf("FAIL (%d wrong elements)\n", bad);
    return 1;
  }
  printf("PASS\n");
  return 0;
}
