// Kernel arguments of every kind: global buffers (in, out, __constant), scalars of 1, 2, 4 and 8
// bytes (signed and unsigned, float, double when the device has fp64), a vector (float4), a struct
// by value, __local memory given by size (clSetKernelArg with NULL), a NULL buffer argument, an
// image and a sampler. Also: arguments are captured at enqueue time (changing one between two
// enqueues), clCloneKernel keeps argument values, and work-group barriers with local memory.
// SVM pointer arguments are tested by svm.c.
#include "common.h"

typedef struct {
  cl_int a;
  cl_float b;
  cl_long c;
  cl_char d[4];
  cl_int e;
} Pod;  // 24 bytes, the same layout in OpenCL C (long is 8-aligned on both sides)

static const char* kSrc =
    "#ifdef HAS_FP64\n"
    "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
    "typedef double real_t;\n"
    "#else\n"
    "typedef float real_t;\n"
    "#endif\n"
    "typedef struct { int a; float b; long c; char d[4]; int e; } Pod;\n"
    "__kernel void scalars(__global long* out, char c, uchar uc, short s, ushort us, int i, uint ui,\n"
    "                      long l, ulong ul, float f, real_t d, float4 v, Pod st) {\n"
    "  out[0] = c; out[1] = uc; out[2] = s; out[3] = us; out[4] = i; out[5] = ui; out[6] = l;\n"
    "  out[7] = (long)ul; out[8] = (long)(f * 1000.0f); out[9] = (long)(d * 1000000.0);\n"
    "  out[10] = (long)(v.x + v.y * 10.0f + v.z * 100.0f + v.w * 1000.0f);\n"
    "  out[11] = st.a; out[12] = (long)(st.b * 100.0f); out[13] = st.c;\n"
    "  out[14] = st.d[0] + st.d[1] * 256 + st.d[2] * 65536 + st.d[3] * 16777216; out[15] = st.e;\n"
    "}\n"
    "__kernel void local_mem(__global const int* in, __constant int* k4, __local int* a,\n"
    "                        __local long* b, __global int* out) {\n"
    "  size_t l = get_local_id(0), n = get_local_size(0);\n"
    "  a[l] = in[get_global_id(0)];\n"
    "  b[l] = (long)in[get_global_id(0)] * 3;\n"
    "  barrier(CLK_LOCAL_MEM_FENCE);\n"
    "  out[get_global_id(0)] = a[n - 1 - l] + (int)b[(l + 1) % n] + k4[l % 4];\n"
    "}\n"
    "__kernel void null_arg(__global int* maybe, __global int* out) {\n"
    "  out[0] = maybe == 0 ? 1 : 2;\n"
    "}\n"
    "__kernel void add_const(__global int* p, int v) { p[get_global_id(0)] += v; }\n"
    "__kernel void sample(__read_only image2d_t img, sampler_t s, __global float4* out) {\n"
    "  int x = get_global_id(0);\n"
    "  out[x] = read_imagef(img, s, (int2)(x, 0));\n"
    "}\n";

int main(void) {
  cl_platform_id platform;
  cl_device_id dev;
  e2e_first_device(&platform, &dev);
  cl_context ctx = e2e_context(dev);
  cl_command_queue q = e2e_queue(ctx, dev, 0);
  cl_int err;

  cl_device_fp_config dfp = 0;
  clGetDeviceInfo(dev, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof dfp, &dfp, NULL);
  int fp64 = dfp != 0;
  printf("fp64: %s\n", fp64 ? "yes" : "no");
  cl_program prog = e2e_build(ctx, dev, kSrc, fp64 ? "-DHAS_FP64" : "");

  // Scalars, a vector and a struct by value.
  cl_kernel ks = e2e_kernel(prog, "scalars");
  cl_mem out = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 16 * sizeof(cl_long), NULL, &err);
  CHECK_ERR(err);
  cl_char c = -5;
  cl_uchar uc = 250;
  cl_short s = -30000;
  cl_ushort us = 60000;
  cl_int i = -2000000000;
  cl_uint ui = 4000000000u;
  cl_long l = -9000000000000000000LL;
  cl_ulong ul = 0x7FFFFFFFFFFFFFF0ULL;
  cl_float f = 3.25f;
  cl_double d = 2.718281;
  cl_float fd = 2.718281f;
  cl_float4 v = {{1, 2, 3, 4}};
  Pod pod = {-7, 1.5f, 1234567890123LL, {1, 2, 3, 4}, 99};
  CHECK(clSetKernelArg(ks, 0, sizeof out, &out));
  CHECK(clSetKernelArg(ks, 1, sizeof c, &c));
  CHECK(clSetKernelArg(ks, 2, sizeof uc, &uc));
  CHECK(clSetKernelArg(ks, 3, sizeof s, &s));
  CHECK(clSetKernelArg(ks, 4, sizeof us, &us));
  CHECK(clSetKernelArg(ks, 5, sizeof i, &i));
  CHECK(clSetKernelArg(ks, 6, sizeof ui, &ui));
  CHECK(clSetKernelArg(ks, 7, sizeof l, &l));
  CHECK(clSetKernelArg(ks, 8, sizeof ul, &ul));
  CHECK(clSetKernelArg(ks, 9, sizeof f, &f));
  if (fp64)
    CHECK(clSetKernelArg(ks, 10, sizeof d, &d));
  else
    CHECK(clSetKernelArg(ks, 10, sizeof fd, &fd));
  CHECK(clSetKernelArg(ks, 11, sizeof v, &v));
  CHECK(clSetKernelArg(ks, 12, sizeof pod, &pod));
  size_t one = 1;
  CHECK(clEnqueueNDRangeKernel(q, ks, 1, NULL, &one, NULL, 0, NULL, NULL));
  cl_long r[16];
  CHECK(clEnqueueReadBuffer(q, out, CL_TRUE, 0, sizeof r, r, 0, NULL, NULL));
  printf("scalars:");
  for (int j = 0; j < 16; ++j) printf(" %lld", (long long)r[j]);
  printf("\n");
  cl_long want[16] = {-5, 250, -30000, 60000, -2000000000, 4000000000LL, l, (cl_long)ul, 3250, 2718281, 4321,
                      -7, 150, 1234567890123LL, 1 + 2 * 256 + 3 * 65536 + 4 * 16777216, 99};
  if (!fp64) want[9] = r[9];  // float precision: printed, not compared
  for (int j = 0; j < 16; ++j)
    EXPECT(r[j] == want[j], "scalar arg %d: got %lld want %lld", j, (long long)r[j], (long long)want[j]);

  // Local memory by size, a __constant buffer, and a work-group barrier.
  enum { N = 256, WG = 64 };
  cl_int in[N], k4[4] = {1000, 2000, 3000, 4000}, res[N];
  for (int j = 0; j < N; ++j) in[j] = j * 5 - 100;
  cl_mem bin = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof in, in, &err);
  CHECK_ERR(err);
  cl_mem bk4 = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof k4, k4, &err);
  CHECK_ERR(err);
  cl_mem bres = clCreateBuffer(ctx, CL_MEM_WRITE_ONLY, sizeof res, NULL, &err);
  CHECK_ERR(err);
  cl_kernel kl = e2e_kernel(prog, "local_mem");
  CHECK(clSetKernelArg(kl, 0, sizeof bin, &bin));
  CHECK(clSetKernelArg(kl, 1, sizeof bk4, &bk4));
  CHECK(clSetKernelArg(kl, 2, WG * sizeof(cl_int), NULL));
  CHECK(clSetKernelArg(kl, 3, WG * sizeof(cl_long), NULL));
  CHECK(clSetKernelArg(kl, 4, sizeof bres, &bres));
  size_t gws = N, lws = WG;
  CHECK(clEnqueueNDRangeKernel(q, kl, 1, NULL, &gws, &lws, 0, NULL, NULL));
  CHECK(clEnqueueReadBuffer(q, bres, CL_TRUE, 0, sizeof res, res, 0, NULL, NULL));
  for (int j = 0; j < N; ++j) {
    int g = j / WG, lid = j % WG;
    int w = in[g * WG + WG - 1 - lid] + in[g * WG + (lid + 1) % WG] * 3 + k4[lid % 4];
    EXPECT(res[j] == w, "local memory: element %d is %d want %d", j, res[j], w);
  }
  printf("local memory: crc32=%08x\n", e2e_crc32(res, sizeof res));

  // A NULL buffer argument (both forms the spec allows: a NULL arg_value and a pointer to NULL).
  cl_kernel kn = e2e_kernel(prog, "null_arg");
  cl_int flag = 0;
  CHECK(clSetKernelArg(kn, 0, sizeof(cl_mem), NULL));
  CHECK(clSetKernelArg(kn, 1, sizeof bres, &bres));
  CHECK(clEnqueueNDRangeKernel(q, kn, 1, NULL, &one, NULL, 0, NULL, NULL));
  CHECK(clEnqueueReadBuffer(q, bres, CL_TRUE, 0, sizeof flag, &flag, 0, NULL, NULL));
  EXPECT(flag == 1, "NULL arg_value: kernel saw a non-NULL pointer (%d)", flag);
  cl_mem nullmem = NULL;
  CHECK(clSetKernelArg(kn, 0, sizeof nullmem, &nullmem));
  CHECK(clEnqueueNDRangeKernel(q, kn, 1, NULL, &one, NULL, 0, NULL, NULL));
  CHECK(clEnqueueReadBuffer(q, bres, CL_TRUE, 0, sizeof flag, &flag, 0, NULL, NULL));
  EXPECT(flag == 1, "pointer to NULL: kernel saw a non-NULL pointer (%d)", flag);
  CHECK(clSetKernelArg(kn, 0, sizeof bin, &bin));
  CHECK(clEnqueueNDRangeKernel(q, kn, 1, NULL, &one, NULL, 0, NULL, NULL));
  CHECK(clEnqueueReadBuffer(q, bres, CL_TRUE, 0, sizeof flag, &flag, 0, NULL, NULL));
  EXPECT(flag == 2, "real buffer: kernel saw NULL (%d)", flag);
  printf("null buffer arg: ok\n");

  // Arguments are captured at enqueue: two enqueues with different values, no wait in between.
  cl_kernel ka = e2e_kernel(prog, "add_const");
  cl_int zeros[N] = {0};
  cl_mem acc = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof zeros, zeros, &err);
  CHECK_ERR(err);
  CHECK(clSetKernelArg(ka, 0, sizeof acc, &acc));
  for (cl_int k = 1; k <= 5; ++k) {
    CHECK(clSetKernelArg(ka, 1, sizeof k, &k));
    CHECK(clEnqueueNDRangeKernel(q, ka, 1, NULL, &gws, NULL, 0, NULL, NULL));
  }
  // A clone keeps the argument values set so far (OpenCL 2.1).
  cl_kernel clone = clCloneKernel(ka, &err);
  CHECK_ERR(err);
  CHECK(clEnqueueNDRangeKernel(q, clone, 1, NULL, &gws, NULL, 0, NULL, NULL));
  CHECK(clEnqueueReadBuffer(q, acc, CL_TRUE, 0, sizeof res, res, 0, NULL, NULL));
  for (int j = 0; j < N; ++j) EXPECT(res[j] == 20, "captured args: element %d is %d want 20", j, res[j]);
  printf("args captured at enqueue + clone: ok\n");

  // An image and a sampler as arguments.
  cl_bool has_images = CL_FALSE;
  CHECK(clGetDeviceInfo(dev, CL_DEVICE_IMAGE_SUPPORT, sizeof has_images, &has_images, NULL));
  if (has_images) {
    cl_image_format fmt = {CL_RGBA, CL_FLOAT};
    cl_image_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.image_type = CL_MEM_OBJECT_IMAGE2D;
    desc.image_width = 8;
    desc.image_height = 1;
    cl_float pixels[8 * 4];
    for (int j = 0; j < 32; ++j) pixels[j] = (float)j * 0.5f;
    cl_mem img = clCreateImage(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, &fmt, &desc, pixels, &err);
    CHECK_ERR(err);
    cl_sampler smp = clCreateSampler(ctx, CL_FALSE, CL_ADDRESS_NONE, CL_FILTER_NEAREST, &err);
    CHECK_ERR(err);
    cl_mem fout = clCreateBuffer(ctx, CL_MEM_WRITE_ONLY, sizeof pixels, NULL, &err);
    CHECK_ERR(err);
    cl_kernel ki = e2e_kernel(prog, "sample");
    CHECK(clSetKernelArg(ki, 0, sizeof img, &img));
    CHECK(clSetKernelArg(ki, 1, sizeof smp, &smp));
    CHECK(clSetKernelArg(ki, 2, sizeof fout, &fout));
    size_t eight = 8;
    CHECK(clEnqueueNDRangeKernel(q, ki, 1, NULL, &eight, NULL, 0, NULL, NULL));
    cl_float got[32];
    CHECK(clEnqueueReadBuffer(q, fout, CL_TRUE, 0, sizeof got, got, 0, NULL, NULL));
    EXPECT(memcmp(got, pixels, sizeof got) == 0, "image+sampler args: wrong pixels");
    printf("image + sampler args: ok\n");
    CHECK(clReleaseKernel(ki));
    CHECK(clReleaseMemObject(fout));
    CHECK(clReleaseSampler(smp));
    CHECK(clReleaseMemObject(img));
  } else {
    printf("image + sampler args: images not supported by device\n");
  }

  CHECK(clReleaseKernel(clone));
  CHECK(clReleaseKernel(ka));
  CHECK(clReleaseKernel(kn));
  CHECK(clReleaseKernel(kl));
  CHECK(clReleaseKernel(ks));
  CHECK(clReleaseMemObject(acc));
  CHECK(clReleaseMemObject(bin));
  CHECK(clReleaseMemObject(bk4));
  CHECK(clReleaseMemObject(bres));
  CHECK(clReleaseMemObject(out));
  CHECK(clReleaseProgram(prog));
  CHECK(clReleaseCommandQueue(q));
  CHECK(clReleaseContext(ctx));
  e2e_pass();
}
