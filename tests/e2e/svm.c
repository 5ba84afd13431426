// Shared virtual memory, only where the device reports SVM capabilities. Prints
// "svm: not supported by platform" (and passes) when CL_DEVICE_SVM_CAPABILITIES is 0 or the query
// fails. Kept apart from kernel_args.c because a remoting layer may legitimately report no SVM
// (host pointers of two processes cannot be shared): then only this program's comparison differs.
#include "common.h"

static const char* kSrc =
    "__kernel void twice(__global int* p, __global int* q) { size_t i = get_global_id(0); q[i] = p[i] * 2; }\n";

int main(void) {
  cl_platform_id platform;
  cl_device_id dev;
  e2e_first_device(&platform, &dev);
  cl_device_svm_capabilities caps = 0;
  cl_int e = clGetDeviceInfo(dev, CL_DEVICE_SVM_CAPABILITIES, sizeof caps, &caps, NULL);
  if (e != CL_SUCCESS || !(caps & CL_DEVICE_SVM_COARSE_GRAIN_BUFFER)) {
    printf("svm: not supported by platform\n");
    e2e_pass();
  }
  printf("svm: coarse-grain buffer supported\n");
  cl_context ctx = e2e_context(dev);
  cl_command_queue q = e2e_queue(ctx, dev, 0);
  enum { N = 1024 };
  int* a = clSVMAlloc(ctx, CL_MEM_READ_WRITE, N * sizeof(int), 0);
  int* b = clSVMAlloc(ctx, CL_MEM_READ_WRITE, N * sizeof(int), 0);
  EXPECT(a && b, "clSVMAlloc returned NULL");

  // Fill through a map, run a kernel on SVM pointers, read the result through a map.
  CHECK(clEnqueueSVMMap(q, CL_TRUE, CL_MAP_WRITE, a, N * sizeof(int), 0, NULL, NULL));
  for (int i = 0; i < N; ++i) a[i] = i - 300;
  CHECK(clEnqueueSVMUnmap(q, a, 0, NULL, NULL));
  int pattern = 5;
  CHECK(clEnqueueSVMMemFill(q, b, &pattern, sizeof pattern, N * sizeof(int), 0, NULL, NULL));

  cl_program prog = e2e_build(ctx, dev, kSrc, "");
  cl_kernel k = e2e_kernel(prog, "twice");
  CHECK(clSetKernelArgSVMPointer(k, 0, a));
  CHECK(clSetKernelArgSVMPointer(k, 1, b + 0));
  size_t gws = N / 2;  // only the first half: the second must keep the fill value
  CHECK(clEnqueueNDRangeKernel(q, k, 1, NULL, &gws, NULL, 0, NULL, NULL));
  int host[N];
  CHECK(clEnqueueSVMMemcpy(q, CL_TRUE, host, b, sizeof host, 0, NULL, NULL));
  for (int i = 0; i < N; ++i) {
    int want = i < N / 2 ? (i - 300) * 2 : 5;
    EXPECT(host[i] == want, "svm kernel: element %d is %d want %d", i, host[i], want);
  }
  CHECK(clEnqueueSVMMap(q, CL_TRUE, CL_MAP_READ, b, N * sizeof(int), 0, NULL, NULL));
  EXPECT(b[10] == -580 && b[N - 1] == 5, "svm map read: %d %d", b[10], b[N - 1]);
  CHECK(clEnqueueSVMUnmap(q, b, 0, NULL, NULL));
  printf("svm kernel: crc32=%08x\n", e2e_crc32(host, sizeof host));

  CHECK(clFinish(q));
  clSVMFree(ctx, a);
  clSVMFree(ctx, b);
  CHECK(clReleaseKernel(k));
  CHECK(clReleaseProgram(prog));
  CHECK(clReleaseCommandQueue(q));
  CHECK(clReleaseContext(ctx));
  e2e_pass();
}
