// Drives a fixed sequence of calls meant to reach remora's recording dummy vendor library, and
// prints, for each call, what the dummy must have recorded: one line per call,
//
//   expect FUNCTION PARAM=KIND:VALUE ...
//
// with KIND one of  int:N (a scalar, decimal), str:HEX (a string, hex-encoded so it has no spaces),
// in:N:CRC (an IN buffer of N bytes whose CRC-32 is CRC, hex), handle: (a non-NULL handle),
// null: (NULL). check_dummy_log.py reads these lines and the dummy's log. The dummy answers with
// made-up data, so nothing the calls return is checked beyond their status.
#include "common.h"

static void hex(const char* s) {
  for (; *s; ++s) printf("%02x", (unsigned char)*s);
}

#define OK(call)                                                                         \
  do {                                                                                   \
    cl_int ok_err_ = (call);                                                             \
    if (ok_err_ != CL_SUCCESS) e2e_fail("%s -> %s (%d)", #call, e2e_err_name(ok_err_), ok_err_); \
  } while (0)

int main(void) {
  cl_int err;
  cl_platform_id platform;
  cl_uint nplat = 0;
  OK(clGetPlatformIDs(1, &platform, &nplat));
  // TODO(e2e): the ICD loader reaches remora through clIcdGetPlatformIDsKHR; whether the server
  // forwards that as clGetPlatformIDs or clIcdGetPlatformIDsKHR is not settled, so only "some
  // platform query happened" is checked (the checker accepts either name).
  printf("expect clGetPlatformIDs\n");

  cl_device_id dev;
  cl_uint ndev = 0;
  OK(clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &dev, &ndev));
  printf("expect clGetDeviceIDs platform=handle: device_type=int:%llu num_entries=int:1\n",
         (unsigned long long)CL_DEVICE_TYPE_ALL);

  char name[64];
  OK(clGetDeviceInfo(dev, CL_DEVICE_NAME, sizeof name, name, NULL));
  // param_value_size_ret is not checked: remora's server always gives the vendor storage for a
  // length it needs to bound the reply, even when the application passed NULL.
  printf("expect clGetDeviceInfo device=handle: param_name=int:%u param_value_size=int:%zu\n",
         CL_DEVICE_NAME, sizeof name);
  cl_uint cus = 0;
  size_t cus_ret = 0;
  OK(clGetDeviceInfo(dev, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cus, &cus, &cus_ret));
  printf("expect clGetDeviceInfo device=handle: param_name=int:%u param_value_size=int:%zu\n",
         CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cus);

  cl_context ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
  OK(err);
  printf("expect clCreateContext num_devices=int:1 pfn_notify=null:\n");

  cl_command_queue q = clCreateCommandQueueWithProperties(ctx, dev, NULL, &err);
  OK(err);
  // No properties check: the server adds CL_QUEUE_PROFILING_ENABLE to every queue to measure device
  // time (apis/opencl/server/fair_share.cpp), so the vendor sees [CL_QUEUE_PROPERTIES, 2, 0].
  printf("expect clCreateCommandQueueWithProperties context=handle: device=handle:\n");

  // A buffer created from host data: an odd size, so a wrong length shows.
  unsigned char data[1000];
  for (int i = 0; i < 1000; ++i) data[i] = (unsigned char)(i * 31 + 7);
  cl_mem buf = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof data, data, &err);
  OK(err);
  printf("expect clCreateBuffer context=handle: flags=int:%llu size=int:%zu host_ptr=in:%zu:%08x\n",
         (unsigned long long)(CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR), sizeof data, sizeof data,
         e2e_crc32(data, sizeof data));
  cl_mem plain = clCreateBuffer(ctx, CL_MEM_READ_ONLY, 12345, NULL, &err);
  OK(err);
  printf("expect clCreateBuffer context=handle: flags=int:%llu size=int:12345 host_ptr=null:\n",
         (unsigned long long)CL_MEM_READ_ONLY);

  // A program: the source string and the build options must arrive verbatim.
  const char* src = "__kernel void k(__global int* p, int v, __local int* t) { t[0] = v; p[0] = t[0]; }";
  cl_program prog = clCreateProgramWithSource(ctx, 1, &src, NULL, &err);
  OK(err);
  printf("expect clCreateProgramWithSource context=handle: count=int:1 strings=str:");
  hex(src);
  printf("\n");
  const char* opts = "-DVALUE=3 -cl-fast-relaxed-math  -DAFTER_TWO_SPACES";
  OK(clBuildProgram(prog, 1, &dev, opts, NULL, NULL));
  printf("expect clBuildProgram program=handle: num_devices=int:1 options=str:");
  hex(opts);
  printf(" pfn_notify=null:\n");

  cl_kernel k = clCreateKernel(prog, "k", &err);
  OK(err);
  printf("expect clCreateKernel program=handle: kernel_name=str:");
  hex("k");
  printf("\n");

  // Kernel arguments: a buffer (its value is a translated handle, so only index and size are
  // checked), a scalar (its bytes), and __local memory (size, NULL value).
  OK(clSetKernelArg(k, 0, sizeof buf, &buf));
  printf("expect clSetKernelArg kernel=handle: arg_index=int:0 arg_size=int:%zu\n", sizeof buf);
  cl_int v = -123456;
  OK(clSetKernelArg(k, 1, sizeof v, &v));
  printf("expect clSetKernelArg kernel=handle: arg_index=int:1 arg_size=int:4 arg_value=in:4:%08x\n",
         e2e_crc32(&v, sizeof v));
  OK(clSetKernelArg(k, 2, 256, NULL));
  printf("expect clSetKernelArg kernel=handle: arg_index=int:2 arg_size=int:256 arg_value=null:\n");

  // A blocking write at an offset and a 2D launch.
  unsigned char patch[77];
  for (int i = 0; i < 77; ++i) patch[i] = (unsigned char)(255 - i);
  OK(clEnqueueWriteBuffer(q, buf, CL_TRUE, 100, sizeof patch, patch, 0, NULL, NULL));
  printf("expect clEnqueueWriteBuffer command_queue=handle: buffer=handle: blocking_write=int:1 offset=int:100 "
         "size=int:77 ptr=in:77:%08x num_events_in_wait_list=int:0\n",
         e2e_crc32(patch, sizeof patch));
  size_t gws[2] = {64, 3}, lws[2] = {8, 1};
  OK(clEnqueueNDRangeKernel(q, k, 2, NULL, gws, lws, 0, NULL, NULL));
  printf("expect clEnqueueNDRangeKernel command_queue=handle: kernel=handle: work_dim=int:2 global_work_offset=null: "
         "global_work_size=in:%zu:%08x local_work_size=in:%zu:%08x\n",
         sizeof gws, e2e_crc32(gws, sizeof gws), sizeof lws, e2e_crc32(lws, sizeof lws));
  OK(clFinish(q));
  printf("expect clFinish command_queue=handle:\n");

  OK(clReleaseKernel(k));
  printf("expect clReleaseKernel kernel=handle:\n");
  OK(clReleaseProgram(prog));
  OK(clReleaseMemObject(plain));
  OK(clReleaseMemObject(buf));
  printf("expect clReleaseMemObject memobj=handle:\n");
  OK(clReleaseCommandQueue(q));
  OK(clReleaseContext(ctx));
  printf("expect clReleaseContext context=handle:\n");
  e2e_pass();
}
