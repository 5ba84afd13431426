/* Run through `remora run` as a tenant whose device_memory limit is 1 MiB: a 512 KiB buffer fits, a
 * further 768 KiB one does not (CL_MEM_OBJECT_ALLOCATION_FAILURE from the tenant's quota), and after
 * the first is released it does. Prints PASS or FAIL: reason. */
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <stdio.h>

#define CHECK(cond, ...)          \
  do {                            \
    if (!(cond)) {                \
      printf("FAIL: ");           \
      printf(__VA_ARGS__);        \
      printf("\n");               \
      return 1;                   \
    }                             \
  } while (0)

int main(void) {
  cl_platform_id platform;
  cl_device_id device;
  cl_int err = clGetPlatformIDs(1, &platform, NULL);
  CHECK(err == CL_SUCCESS, "clGetPlatformIDs: %d", err);
  err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL);
  CHECK(err == CL_SUCCESS, "clGetDeviceIDs: %d", err);
  cl_context ctx = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
  CHECK(err == CL_SUCCESS, "clCreateContext: %d", err);

  cl_mem a = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 512 * 1024, NULL, &err);
  CHECK(err == CL_SUCCESS && a != NULL, "512 KiB buffer: %d", err);
  cl_mem b = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 768 * 1024, NULL, &err);
  CHECK(err == CL_MEM_OBJECT_ALLOCATION_FAILURE && b == NULL,
        "768 KiB more should be over the 1 MiB quota: got %d", err);
  CHECK(clReleaseMemObject(a) == CL_SUCCESS, "release");
  b = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 768 * 1024, NULL, &err);
  CHECK(err == CL_SUCCESS && b != NULL, "768 KiB after the release: %d", err);
  clReleaseMemObject(b);
  clReleaseContext(ctx);
  printf("PASS\n");
  return 0;
}
