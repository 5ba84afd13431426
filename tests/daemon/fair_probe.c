/* An OpenCL guest for fair_e2e.py, run through `remora run` as some tenant.
 *
 *   fair_probe load STOPFILE    kernel-heavy loop: batches of 8 launches of a ~4 ms kernel, then
 *                               clFinish, until STOPFILE exists. Prints READY after the first batch
 *                               and then DONE <kernels>.
 *   fair_probe devices N        clGetDeviceIDs shows N devices (0: CL_DEVICE_NOT_FOUND, and
 *                               clCreateContextFromType too); with N > 0, clGetEventProfilingInfo
 *                               answers only on a queue that asked for profiling.
 * Prints PASS, or FAIL: reason. */
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond, ...)          \
  do {                            \
    if (!(cond)) {                \
      printf("FAIL: ");           \
      printf(__VA_ARGS__);        \
      printf("\n");               \
      fflush(stdout);             \
      return 1;                   \
    }                             \
  } while (0)

static const char* kSource =
    "__kernel void spin(__global float* out, int iters) {\n"
    "  size_t i = get_global_id(0);\n"
    "  float x = (float)i;\n"
    "  for (int k = 0; k < iters; ++k) x = x * 0.9999f + 0.25f;\n"
    "  out[i] = x;\n"
    "}\n";

enum { kItems = 256, kBatch = 8 };

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run_kernels(cl_command_queue q, cl_kernel k, int n) {
  size_t global = kItems;
  for (int i = 0; i < n; ++i) {
    cl_int err = clEnqueueNDRangeKernel(q, k, 1, NULL, &global, NULL, 0, NULL, NULL);
    if (err != CL_SUCCESS) return err;
  }
  return clFinish(q);
}

static int load(cl_context ctx, cl_device_id device, const char* stop_file) {
  cl_int err;
  cl_command_queue q = clCreateCommandQueueWithProperties(ctx, device, NULL, &err);
  CHECK(err == CL_SUCCESS, "queue: %d", err);
  cl_program prog = clCreateProgramWithSource(ctx, 1, &kSource, NULL, &err);
  CHECK(err == CL_SUCCESS, "program: %d", err);
  err = clBuildProgram(prog, 1, &device, NULL, NULL, NULL);
  CHECK(err == CL_SUCCESS, "build: %d", err);
  cl_kernel k = clCreateKernel(prog, "spin", &err);
  CHECK(err == CL_SUCCESS, "kernel: %d", err);
  cl_mem out = clCreateBuffer(ctx, CL_MEM_WRITE_ONLY, kItems * sizeof(float), NULL, &err);
  CHECK(err == CL_SUCCESS, "buffer: %d", err);
  CHECK(clSetKernelArg(k, 0, sizeof out, &out) == CL_SUCCESS, "arg 0");

  /* Calibrate the kernel to about 4 ms on its own. */
  int iters = 20000;
  for (int round = 0; round < 4; ++round) {
    CHECK(clSetKernelArg(k, 1, sizeof iters, &iters) == CL_SUCCESS, "arg 1");
    const double t0 = now_s();
    CHECK(run_kernels(q, k, 2) == CL_SUCCESS, "calibration");
    const double each = (now_s() - t0) / 2;
    double scaled = iters * (0.004 / (each > 1e-6 ? each : 1e-6));
    if (scaled < 1000) scaled = 1000;
    if (scaled > 5e7) scaled = 5e7;
    iters = (int)scaled;
  }
  CHECK(clSetKernelArg(k, 1, sizeof iters, &iters) == CL_SUCCESS, "arg 1");
  CHECK(run_kernels(q, k, kBatch) == CL_SUCCESS, "first batch");
  printf("READY iters=%d\n", iters);
  fflush(stdout);
  long kernels = kBatch;
  while (access(stop_file, F_OK) != 0) {
    err = run_kernels(q, k, kBatch);
    CHECK(err == CL_SUCCESS, "batch: %d", err);
    kernels += kBatch;
  }
  printf("DONE %ld\n", kernels);
  clReleaseMemObject(out);
  clReleaseKernel(k);
  clReleaseProgram(prog);
  clReleaseCommandQueue(q);
  printf("PASS\n");
  return 0;
}

static int devices(cl_platform_id platform, int expected) {
  cl_uint n = 99;
  cl_device_id device = NULL;
  cl_int err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, &n);
  if (expected == 0) {
    CHECK(err == CL_DEVICE_NOT_FOUND, "clGetDeviceIDs on a tenant with devices = []: %d, %u device(s)", err, n);
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};
    cl_context ctx = clCreateContextFromType(props, CL_DEVICE_TYPE_ALL, NULL, NULL, &err);
    CHECK(ctx == NULL && err == CL_DEVICE_NOT_FOUND, "clCreateContextFromType with devices = []: %d", err);
    printf("PASS\n");
    return 0;
  }
  CHECK(err == CL_SUCCESS && (int)n == expected, "clGetDeviceIDs: %d, %u device(s), wanted %d", err, n, expected);
  cl_context ctx = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
  CHECK(err == CL_SUCCESS, "clCreateContext: %d", err);
  cl_device_id in_ctx = NULL;
  CHECK(clGetContextInfo(ctx, CL_CONTEXT_DEVICES, sizeof in_ctx, &in_ctx, NULL) == CL_SUCCESS && in_ctx == device,
        "clGetContextInfo(CL_CONTEXT_DEVICES)");

  /* Profiling stays the guest's choice although the server profiles every queue. */
  cl_command_queue plain = clCreateCommandQueueWithProperties(ctx, device, NULL, &err);
  CHECK(err == CL_SUCCESS, "plain queue: %d", err);
  cl_queue_properties with[] = {CL_QUEUE_PROPERTIES, CL_QUEUE_PROFILING_ENABLE, 0};
  cl_command_queue profiled = clCreateCommandQueueWithProperties(ctx, device, with, &err);
  CHECK(err == CL_SUCCESS, "profiled queue: %d", err);
  cl_command_queue_properties qp = 0;
  CHECK(clGetCommandQueueInfo(plain, CL_QUEUE_PROPERTIES, sizeof qp, &qp, NULL) == CL_SUCCESS &&
            (qp & CL_QUEUE_PROFILING_ENABLE) == 0,
        "a plain queue reports CL_QUEUE_PROFILING_ENABLE");
  CHECK(clGetCommandQueueInfo(profiled, CL_QUEUE_PROPERTIES, sizeof qp, &qp, NULL) == CL_SUCCESS &&
            (qp & CL_QUEUE_PROFILING_ENABLE) != 0,
        "a profiled queue lost CL_QUEUE_PROFILING_ENABLE");
  cl_program prog = clCreateProgramWithSource(ctx, 1, &kSource, NULL, &err);
  CHECK(err == CL_SUCCESS && clBuildProgram(prog, 1, &device, NULL, NULL, NULL) == CL_SUCCESS, "build");
  cl_kernel k = clCreateKernel(prog, "spin", &err);
  cl_mem out = clCreateBuffer(ctx, CL_MEM_WRITE_ONLY, kItems * sizeof(float), NULL, &err);
  int iters = 10;
  CHECK(clSetKernelArg(k, 0, sizeof out, &out) == CL_SUCCESS && clSetKernelArg(k, 1, sizeof iters, &iters) == CL_SUCCESS,
        "args");
  size_t global = kItems;
  cl_event e1, e2;
  CHECK(clEnqueueNDRangeKernel(plain, k, 1, NULL, &global, NULL, 0, NULL, &e1) == CL_SUCCESS, "launch 1");
  CHECK(clEnqueueNDRangeKernel(profiled, k, 1, NULL, &global, NULL, 0, NULL, &e2) == CL_SUCCESS, "launch 2");
  CHECK(clWaitForEvents(1, &e1) == CL_SUCCESS && clWaitForEvents(1, &e2) == CL_SUCCESS, "wait");
  cl_ulong t = 0;
  err = clGetEventProfilingInfo(e1, CL_PROFILING_COMMAND_END, sizeof t, &t, NULL);
  CHECK(err == CL_PROFILING_INFO_NOT_AVAILABLE, "profiling info on a queue without profiling: %d", err);
  err = clGetEventProfilingInfo(e2, CL_PROFILING_COMMAND_END, sizeof t, &t, NULL);
  CHECK(err == CL_SUCCESS && t != 0, "profiling info on a profiled queue: %d", err);
  clReleaseEvent(e1);
  clReleaseEvent(e2);
  clReleaseMemObject(out);
  clReleaseKernel(k);
  clReleaseProgram(prog);
  clReleaseCommandQueue(plain);
  clReleaseCommandQueue(profiled);
  clReleaseContext(ctx);
  printf("PASS\n");
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  CHECK(argc == 3, "usage: fair_probe load STOPFILE | fair_probe devices N");
  cl_platform_id platform;
  cl_int err = clGetPlatformIDs(1, &platform, NULL);
  CHECK(err == CL_SUCCESS, "clGetPlatformIDs: %d", err);
  if (strcmp(argv[1], "devices") == 0) return devices(platform, atoi(argv[2]));
  cl_device_id device;
  err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL);
  CHECK(err == CL_SUCCESS, "clGetDeviceIDs: %d", err);
  cl_context ctx = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
  CHECK(err == CL_SUCCESS, "clCreateContext: %d", err);
  const int rc = load(ctx, device, argv[2]);
  clReleaseContext(ctx);
  return rc;
}
