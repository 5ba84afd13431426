// Kernel and argument introspection: clGetKernelInfo (name, arg count, attributes, program,
// context), clGetKernelArgInfo with -cl-kernel-arg-info (address/access qualifiers, type names and
// qualifiers, argument names), clGetKernelWorkGroupInfo (work-group size, compile work-group size
// from reqd_work_group_size, local memory, preferred multiple, private memory).
#include "common.h"

static const char* kSrc =
    "typedef struct { int x; float y; } pair_t;\n"
    "__kernel __attribute__((reqd_work_group_size(8, 2, 1)))\n"
    "void fancy(__global const float* restrict in, __global volatile int* out, __local uint* scratch,\n"
    "           __constant pair_t* table, int count, __read_only image2d_t img, sampler_t smp) {\n"
    "  scratch[get_local_id(0)] = count;\n"
    "  barrier(CLK_LOCAL_MEM_FENCE);\n"
    "  out[get_global_id(0)] = (int)in[0] + scratch[0] + table[0].x + (int)read_imagef(img, smp, (int2)(0, 0)).x;\n"
    "}\n"
    "__kernel void plain(__global int* p) {\n"
    "  __local int tile[64];\n"
    "  tile[get_local_id(0) % 64] = 1;\n"
    "  barrier(CLK_LOCAL_MEM_FENCE);\n"
    "  p[get_global_id(0)] = tile[0];\n"
    "}\n";

static void print_kernel_str(cl_kernel k, cl_kernel_info what, const char* label) {
  char s[1024] = {0};
  size_t n = 0;
  CHECK(clGetKernelInfo(k, what, sizeof s - 1, s, &n));
  EXPECT(n == strlen(s) + 1, "%s: size_ret %zu for a string of %zu", label, n, strlen(s));
  printf("  %s: '%s'\n", label, s);
}

static void print_arg_info(cl_kernel k, cl_uint i) {
  cl_kernel_arg_address_qualifier aq;
  cl_kernel_arg_access_qualifier acq;
  cl_kernel_arg_type_qualifier tq;
  char type[256] = {0}, name[256] = {0};
  CHECK(clGetKernelArgInfo(k, i, CL_KERNEL_ARG_ADDRESS_QUALIFIER, sizeof aq, &aq, NULL));
  CHECK(clGetKernelArgInfo(k, i, CL_KERNEL_ARG_ACCESS_QUALIFIER, sizeof acq, &acq, NULL));
  CHECK(clGetKernelArgInfo(k, i, CL_KERNEL_ARG_TYPE_QUALIFIER, sizeof tq, &tq, NULL));
  CHECK(clGetKernelArgInfo(k, i, CL_KERNEL_ARG_TYPE_NAME, sizeof type - 1, type, NULL));
  CHECK(clGetKernelArgInfo(k, i, CL_KERNEL_ARG_NAME, sizeof name - 1, name, NULL));
  printf("  arg %u: name=%s type=%s address=0x%x access=0x%x type_qualifier=0x%llx\n", i, name, type, aq, acq,
         (unsigned long long)tq);
}

int main(void) {
  cl_platform_id platform;
  cl_device_id dev;
  e2e_first_device(&platform, &dev);
  cl_context ctx = e2e_context(dev);
  cl_program prog = e2e_build(ctx, dev, kSrc, "-cl-kernel-arg-info");

  cl_int err;
  cl_kernel k = e2e_kernel(prog, "fancy");
  printf("kernel fancy:\n");
  print_kernel_str(k, CL_KERNEL_FUNCTION_NAME, "function name");
  print_kernel_str(k, CL_KERNEL_ATTRIBUTES, "attributes");
  cl_uint nargs = 0, refs = 0;
  CHECK(clGetKernelInfo(k, CL_KERNEL_NUM_ARGS, sizeof nargs, &nargs, NULL));
  CHECK(clGetKernelInfo(k, CL_KERNEL_REFERENCE_COUNT, sizeof refs, &refs, NULL));
  printf("  num args: %u, reference count: %u\n", nargs, refs);
  EXPECT(nargs == 7, "num args %u", nargs);
  cl_program kp;
  cl_context kc;
  CHECK(clGetKernelInfo(k, CL_KERNEL_PROGRAM, sizeof kp, &kp, NULL));
  CHECK(clGetKernelInfo(k, CL_KERNEL_CONTEXT, sizeof kc, &kc, NULL));
  EXPECT(kp == prog && kc == ctx, "CL_KERNEL_PROGRAM/CONTEXT are not the objects the kernel came from");
  for (cl_uint i = 0; i < nargs; ++i) print_arg_info(k, i);
  char tn[64];
  EXPECT_CODE("arg info past the last arg",
              clGetKernelArgInfo(k, nargs, CL_KERNEL_ARG_TYPE_NAME, sizeof tn, tn, NULL), CL_INVALID_ARG_INDEX);

  size_t wg = 0, cwg[3] = {0}, pref = 0;
  cl_ulong lmem = 0, pmem = 0;
  CHECK(clGetKernelWorkGroupInfo(k, dev, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL));
  CHECK(clGetKernelWorkGroupInfo(k, dev, CL_KERNEL_COMPILE_WORK_GROUP_SIZE, sizeof cwg, cwg, NULL));
  CHECK(clGetKernelWorkGroupInfo(k, dev, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE, sizeof pref, &pref, NULL));
  CHECK(clGetKernelWorkGroupInfo(k, dev, CL_KERNEL_LOCAL_MEM_SIZE, sizeof lmem, &lmem, NULL));
  CHECK(clGetKernelWorkGroupInfo(k, dev, CL_KERNEL_PRIVATE_MEM_SIZE, sizeof pmem, &pmem, NULL));
  printf("  work-group: size=%zu compile=%zux%zux%zu preferred_multiple=%zu local_mem=%llu private_mem=%llu\n", wg,
         cwg[0], cwg[1], cwg[2], pref, (unsigned long long)lmem, (unsigned long long)pmem);
  EXPECT(cwg[0] == 8 && cwg[1] == 2 && cwg[2] == 1, "compile work-group size");

  // After setting the __local argument, the kernel's local memory size includes it.
  CHECK(clSetKernelArg(k, 2, 256 * sizeof(cl_uint), NULL));
  cl_ulong lmem2 = 0;
  CHECK(clGetKernelWorkGroupInfo(k, dev, CL_KERNEL_LOCAL_MEM_SIZE, sizeof lmem2, &lmem2, NULL));
  printf("  local mem after setting a 1024-byte __local arg: grew=%d\n", lmem2 >= lmem + 1024);

  cl_kernel kp2 = e2e_kernel(prog, "plain");
  printf("kernel plain:\n");
  print_kernel_str(kp2, CL_KERNEL_FUNCTION_NAME, "function name");
  print_kernel_str(kp2, CL_KERNEL_ATTRIBUTES, "attributes");
  CHECK(clGetKernelInfo(kp2, CL_KERNEL_NUM_ARGS, sizeof nargs, &nargs, NULL));
  printf("  num args: %u\n", nargs);
  print_arg_info(kp2, 0);
  CHECK(clGetKernelWorkGroupInfo(kp2, dev, CL_KERNEL_LOCAL_MEM_SIZE, sizeof lmem, &lmem, NULL));
  CHECK(clGetKernelWorkGroupInfo(kp2, dev, CL_KERNEL_COMPILE_WORK_GROUP_SIZE, sizeof cwg, cwg, NULL));
  printf("  work-group: compile=%zux%zux%zu local_mem=%llu\n", cwg[0], cwg[1], cwg[2], (unsigned long long)lmem);

  // Program-level kernel info.
  size_t nk = 0;
  char names[256] = {0};
  CHECK(clGetProgramInfo(prog, CL_PROGRAM_NUM_KERNELS, sizeof nk, &nk, NULL));
  CHECK(clGetProgramInfo(prog, CL_PROGRAM_KERNEL_NAMES, sizeof names - 1, names, NULL));
  printf("program: %zu kernels: %s\n", nk, names);

  // Retain bumps the reference count.
  CHECK(clRetainKernel(kp2));
  CHECK(clGetKernelInfo(kp2, CL_KERNEL_REFERENCE_COUNT, sizeof refs, &refs, NULL));
  printf("plain reference count after retain: %u\n", refs);
  EXPECT(refs == 2, "reference count %u", refs);
  CHECK(clReleaseKernel(kp2));

  // Without -cl-kernel-arg-info the names may be unavailable; print what the platform says.
  const char* src2 = "__kernel void k2(__global int* named_arg) { named_arg[0] = 1; }\n";
  cl_program p2 = e2e_build(ctx, dev, src2, "");
  cl_kernel k2 = e2e_kernel(p2, "k2");
  char argname[64] = {0};
  err = clGetKernelArgInfo(k2, 0, CL_KERNEL_ARG_NAME, sizeof argname, argname, NULL);
  printf("arg name without -cl-kernel-arg-info: %s%s%s\n", e2e_err_name(err), err == CL_SUCCESS ? " " : "",
         err == CL_SUCCESS ? argname : "");
  EXPECT(err == CL_SUCCESS || err == CL_KERNEL_ARG_INFO_NOT_AVAILABLE, "unexpected %s", e2e_err_name(err));

  CHECK(clReleaseKernel(k2));
  CHECK(clReleaseProgram(p2));
  CHECK(clReleaseKernel(kp2));
  CHECK(clReleaseKernel(k));
  CHECK(clReleaseProgram(prog));
  CHECK(clReleaseContext(ctx));
  e2e_pass();
}
