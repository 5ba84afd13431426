// Programs: from source with build options (-D, -cl-std, -cl-fast-relaxed-math; options read back),
// a kernel with a compile error (prints the build status and the build log verbatim: the log must be
// the same natively and through remora), clCompileProgram with an embedded header + clLinkProgram
// (a library and an executable), a program from binary (CL_PROGRAM_BINARIES, recreated with
// clCreateProgramWithBinary, built and run), clCreateKernelsInProgram, and program info.
#include "common.h"

static const char* kOptsSrc =
    "__kernel void scale(__global int* p) { p[get_global_id(0)] = (int)get_global_id(0) * FACTOR + OFFSET; }\n";

// The error is on line 3, column 15: an undeclared identifier.
static const char* kBadSrc =
    "__kernel void broken(__global int* p) {\n"
    "  int x = 1;\n"
    "  p[0] = x + undeclared_thing;\n"
    "}\n";

static const char* kHeader = "#define MAGIC 41\nint helper(int v);\n";
static const char* kUsesHeader =
    "#include \"magic.h\"\n"
    "__kernel void use(__global int* p) { p[get_global_id(0)] = helper(MAGIC); }\n";
static const char* kHelper = "int helper(int v) { return v + 1; }\n";

static const char* kMulti =
    "__kernel void first(__global int* p) { p[0] = 1; }\n"
    "__kernel void second(__global int* p) { p[1] = 2; }\n"
    "__kernel void third(__global int* p) { p[2] = 3; }\n";

// PoCL compiles from a mkstemp() file, so its build log names "tempfile_<6 random chars>.cl": the
// only part of the log that differs from one build to the next. Masked in place (same length);
// everything else is printed verbatim.
static void mask_temp_names(char* log) {
  for (char* t = strstr(log, "tempfile_"); t; t = strstr(t, "tempfile_")) {
    t += strlen("tempfile_");
    for (int i = 0; i < 6 && t[i] && t[i] != '.'; ++i) t[i] = 'X';
  }
}

static void run1(cl_command_queue q, cl_context ctx, cl_kernel k, size_t n, cl_int* out) {
  cl_int err;
  cl_mem b = clCreateBuffer(ctx, CL_MEM_READ_WRITE, n * sizeof(cl_int), NULL, &err);
  CHECK_ERR(err);
  cl_int zero = 0;
  CHECK(clEnqueueFillBuffer(q, b, &zero, sizeof zero, 0, n * sizeof(cl_int), 0, NULL, NULL));
  CHECK(clSetKernelArg(k, 0, sizeof b, &b));
  CHECK(clEnqueueNDRangeKernel(q, k, 1, NULL, &n, NULL, 0, NULL, NULL));
  CHECK(clEnqueueReadBuffer(q, b, CL_TRUE, 0, n * sizeof(cl_int), out, 0, NULL, NULL));
  CHECK(clReleaseMemObject(b));
}

int main(void) {
  cl_platform_id platform;
  cl_device_id dev;
  e2e_first_device(&platform, &dev);
  cl_context ctx = e2e_context(dev);
  cl_command_queue q = e2e_queue(ctx, dev, 0);
  cl_int err;
  cl_int out[16];

  // Build options.
  const char* opts = "-DFACTOR=3 -D OFFSET=100 -cl-std=CL1.2 -cl-fast-relaxed-math -Werror";
  cl_program p = e2e_build(ctx, dev, kOptsSrc, opts);
  char got_opts[256] = {0};
  CHECK(clGetProgramBuildInfo(p, dev, CL_PROGRAM_BUILD_OPTIONS, sizeof got_opts - 1, got_opts, NULL));
  printf("build options read back: %s\n", got_opts);
  EXPECT(strcmp(got_opts, opts) == 0, "build options differ");
  cl_kernel k = e2e_kernel(p, "scale");
  run1(q, ctx, k, 16, out);
  for (int i = 0; i < 16; ++i) EXPECT(out[i] == i * 3 + 100, "options kernel: element %d is %d", i, out[i]);
  printf("options kernel: ok\n");
  // The program's source comes back verbatim.
  size_t srclen = 0;
  CHECK(clGetProgramInfo(p, CL_PROGRAM_SOURCE, 0, NULL, &srclen));
  char* src = malloc(srclen);
  CHECK(clGetProgramInfo(p, CL_PROGRAM_SOURCE, srclen, src, NULL));
  EXPECT(srclen == strlen(kOptsSrc) + 1 && strcmp(src, kOptsSrc) == 0, "CL_PROGRAM_SOURCE differs");
  free(src);
  cl_uint ndev = 0;
  cl_context pctx;
  CHECK(clGetProgramInfo(p, CL_PROGRAM_NUM_DEVICES, sizeof ndev, &ndev, NULL));
  CHECK(clGetProgramInfo(p, CL_PROGRAM_CONTEXT, sizeof pctx, &pctx, NULL));
  EXPECT(ndev == 1 && pctx == ctx, "program info: %u devices, context ok %d", ndev, pctx == ctx);
  CHECK(clReleaseKernel(k));

  // Invalid build options.
  cl_program p_bad_opts = clCreateProgramWithSource(ctx, 1, &kOptsSrc, NULL, &err);
  CHECK_ERR(err);
  err = clBuildProgram(p_bad_opts, 1, &dev, "-cl-no-such-option-at-all", NULL, NULL);
  printf("unknown build option: %s\n", e2e_err_name(err));
  EXPECT(err != CL_SUCCESS, "an unknown build option was accepted");
  CHECK(clReleaseProgram(p_bad_opts));

  // A compile error: status, and the log verbatim.
  cl_program bad = clCreateProgramWithSource(ctx, 1, &kBadSrc, NULL, &err);
  CHECK_ERR(err);
  err = clBuildProgram(bad, 1, &dev, "", NULL, NULL);
  printf("broken build: %s\n", e2e_err_name(err));
  EXPECT(err == CL_BUILD_PROGRAM_FAILURE, "a broken kernel built");
  cl_build_status bs;
  CHECK(clGetProgramBuildInfo(bad, dev, CL_PROGRAM_BUILD_STATUS, sizeof bs, &bs, NULL));
  printf("build status: %d\n", bs);
  EXPECT(bs == CL_BUILD_ERROR, "build status %d", bs);
  size_t loglen = 0;
  CHECK(clGetProgramBuildInfo(bad, dev, CL_PROGRAM_BUILD_LOG, 0, NULL, &loglen));
  char* log = malloc(loglen + 1);
  CHECK(clGetProgramBuildInfo(bad, dev, CL_PROGRAM_BUILD_LOG, loglen, log, NULL));
  log[loglen] = 0;
  mask_temp_names(log);
  printf("build log (%zu bytes):\n%s\n-- end of build log\n", loglen, log);
  EXPECT(strstr(log, "undeclared_thing") != NULL, "the build log does not name the undeclared identifier");
  free(log);
  cl_kernel none = clCreateKernel(bad, "broken", &err);
  printf("kernel from a failed build: %s\n", e2e_err_name(err));
  EXPECT(none == NULL && err == CL_INVALID_PROGRAM_EXECUTABLE, "kernel from a failed build");
  CHECK(clReleaseProgram(bad));

  // Separate compilation: compile with an embedded header, then link two objects.
  cl_program hdr = clCreateProgramWithSource(ctx, 1, &kHeader, NULL, &err);
  CHECK_ERR(err);
  cl_program uses = clCreateProgramWithSource(ctx, 1, &kUsesHeader, NULL, &err);
  CHECK_ERR(err);
  cl_program helper = clCreateProgramWithSource(ctx, 1, &kHelper, NULL, &err);
  CHECK_ERR(err);
  const char* header_names[1] = {"magic.h"};
  CHECK(clCompileProgram(uses, 1, &dev, "", 1, &hdr, header_names, NULL, NULL));
  CHECK(clCompileProgram(helper, 1, &dev, "", 0, NULL, NULL, NULL, NULL));
  cl_program_binary_type bt;
  CHECK(clGetProgramBuildInfo(uses, dev, CL_PROGRAM_BINARY_TYPE, sizeof bt, &bt, NULL));
  printf("compiled binary type: 0x%x\n", bt);
  // Link the helper into a library first, then the executable against it.
  cl_program libp = clLinkProgram(ctx, 1, &dev, "-create-library", 1, &helper, NULL, NULL, &err);
  CHECK_ERR(err);
  CHECK(clGetProgramBuildInfo(libp, dev, CL_PROGRAM_BINARY_TYPE, sizeof bt, &bt, NULL));
  printf("library binary type: 0x%x\n", bt);
  cl_program objs[2] = {uses, libp};
  cl_program exe = clLinkProgram(ctx, 1, &dev, "", 2, objs, NULL, NULL, &err);
  CHECK_ERR(err);
  CHECK(clGetProgramBuildInfo(exe, dev, CL_PROGRAM_BINARY_TYPE, sizeof bt, &bt, NULL));
  printf("executable binary type: 0x%x\n", bt);
  k = e2e_kernel(exe, "use");
  run1(q, ctx, k, 4, out);
  for (int i = 0; i < 4; ++i) EXPECT(out[i] == 42, "linked kernel: element %d is %d", i, out[i]);
  printf("compile + link: ok\n");
  CHECK(clReleaseKernel(k));

  // Program from binary: fetch the executable's binary and rebuild from it.
  size_t binsize = 0;
  CHECK(clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof binsize, &binsize, NULL));
  EXPECT(binsize > 0, "binary size 0");
  unsigned char* bin = malloc(binsize);
  unsigned char* bins[1] = {bin};
  CHECK(clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL));
  const unsigned char* cbins[1] = {bin};
  cl_int bin_status = -1;
  cl_program fromb = clCreateProgramWithBinary(ctx, 1, &dev, &binsize, cbins, &bin_status, &err);
  CHECK_ERR(err);
  printf("binary status: %s\n", e2e_err_name(bin_status));
  CHECK(bin_status);
  CHECK(clBuildProgram(fromb, 1, &dev, NULL, NULL, NULL));
  k = e2e_kernel(fromb, "scale");
  run1(q, ctx, k, 16, out);
  for (int i = 0; i < 16; ++i) EXPECT(out[i] == i * 3 + 100, "kernel from binary: element %d is %d", i, out[i]);
  printf("program from binary: ok\n");
  CHECK(clReleaseKernel(k));
  // A corrupt binary is refused.
  memset(bin, 0x5A, binsize < 64 ? binsize : 64);
  cl_program junk = clCreateProgramWithBinary(ctx, 1, &dev, &binsize, cbins, &bin_status, &err);
  if (junk && err == CL_SUCCESS) err = clBuildProgram(junk, 1, &dev, NULL, NULL, NULL);
  printf("corrupt binary: %s\n", err == CL_SUCCESS ? "accepted" : "refused");
  EXPECT(err != CL_SUCCESS, "a corrupt binary was accepted");
  if (junk) CHECK(clReleaseProgram(junk));
  free(bin);

  // clCreateKernelsInProgram: all kernels, in some order; names checked as a set.
  cl_program multi = e2e_build(ctx, dev, kMulti, "");
  cl_uint nk = 0;
  CHECK(clCreateKernelsInProgram(multi, 0, NULL, &nk));
  printf("kernels in program: %u\n", nk);
  EXPECT(nk == 3, "kernel count %u", nk);
  cl_kernel ks[3];
  CHECK(clCreateKernelsInProgram(multi, 3, ks, NULL));
  int seen = 0;
  cl_int res[3];
  cl_mem rb = clCreateBuffer(ctx, CL_MEM_READ_WRITE, sizeof res, NULL, &err);
  CHECK_ERR(err);
  for (int i = 0; i < 3; ++i) {
    char name[32] = {0};
    CHECK(clGetKernelInfo(ks[i], CL_KERNEL_FUNCTION_NAME, sizeof name - 1, name, NULL));
    if (!strcmp(name, "first")) seen |= 1;
    if (!strcmp(name, "second")) seen |= 2;
    if (!strcmp(name, "third")) seen |= 4;
    CHECK(clSetKernelArg(ks[i], 0, sizeof rb, &rb));
    size_t one = 1;
    CHECK(clEnqueueNDRangeKernel(q, ks[i], 1, NULL, &one, NULL, 0, NULL, NULL));
  }
  CHECK(clEnqueueReadBuffer(q, rb, CL_TRUE, 0, sizeof res, res, 0, NULL, NULL));
  EXPECT(seen == 7 && res[0] == 1 && res[1] == 2 && res[2] == 3, "kernels in program: names %d results %d %d %d",
         seen, res[0], res[1], res[2]);
  printf("kernels in program: all three ran\n");
  for (int i = 0; i < 3; ++i) CHECK(clReleaseKernel(ks[i]));
  CHECK(clReleaseMemObject(rb));

  CHECK(clReleaseProgram(multi));
  CHECK(clReleaseProgram(fromb));
  CHECK(clReleaseProgram(exe));
  CHECK(clReleaseProgram(libp));
  CHECK(clReleaseProgram(helper));
  CHECK(clReleaseProgram(uses));
  CHECK(clReleaseProgram(hdr));
  CHECK(clReleaseProgram(p));
  CHECK(clReleaseCommandQueue(q));
  CHECK(clReleaseContext(ctx));
  e2e_pass();
}
