// Prints platform and device information deterministically: what an application sees must be the
// same natively and through remora (strings, numbers, version lists).
#include "common.h"

static void print_str_p(cl_platform_id p, cl_platform_info what, const char* label) {
  size_t n = 0;
  CHECK(clGetPlatformInfo(p, what, 0, NULL, &n));
  char* s = malloc(n + 1);
  CHECK(clGetPlatformInfo(p, what, n, s, NULL));
  s[n] = 0;
  EXPECT(n == strlen(s) + 1, "%s: size %zu does not match string length %zu", label, n, strlen(s));
  printf("platform %s: %s\n", label, s);
  free(s);
}

static void print_str_d(cl_device_id d, cl_device_info what, const char* label) {
  size_t n = 0;
  CHECK(clGetDeviceInfo(d, what, 0, NULL, &n));
  char* s = malloc(n + 1);
  CHECK(clGetDeviceInfo(d, what, n, s, NULL));
  s[n] = 0;
  printf("device %s: %s\n", label, s);
  free(s);
}

#define PRINT_D(type, what, fmt)                                  \
  do {                                                            \
    type v_;                                                      \
    size_t n_ = 0;                                                \
    CHECK(clGetDeviceInfo(d, what, sizeof v_, &v_, &n_));          \
    EXPECT(n_ == sizeof v_, #what ": size_ret %zu", n_);           \
    printf("device " #what ": " fmt "\n", (unsigned long long)v_);                  \
  } while (0)

int main(void) {
  cl_uint np = 0;
  CHECK(clGetPlatformIDs(0, NULL, &np));
  printf("platforms: %u\n", np);
  EXPECT(np > 0 && np <= 8, "platform count %u", np);
  cl_platform_id ps[8];
  CHECK(clGetPlatformIDs(np, ps, NULL));
  for (cl_uint pi = 0; pi < np; ++pi) {
    cl_platform_id p = ps[pi];
    print_str_p(p, CL_PLATFORM_NAME, "name");
    print_str_p(p, CL_PLATFORM_VENDOR, "vendor");
    print_str_p(p, CL_PLATFORM_VERSION, "version");
    print_str_p(p, CL_PLATFORM_PROFILE, "profile");
    cl_version pv = 0;
    CHECK(clGetPlatformInfo(p, CL_PLATFORM_NUMERIC_VERSION, sizeof pv, &pv, NULL));
    printf("platform numeric version: %u.%u.%u\n", CL_VERSION_MAJOR(pv), CL_VERSION_MINOR(pv), CL_VERSION_PATCH(pv));

    cl_uint nd = 0;
    CHECK(clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, NULL, &nd));
    printf("devices: %u\n", nd);
    EXPECT(nd > 0 && nd <= 8, "device count %u", nd);
    cl_device_id ds[8];
    CHECK(clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, nd, ds, NULL));
    // The same query twice must give the same handles (a remoting layer must not mint new ones).
    cl_device_id again[8];
    CHECK(clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, nd, again, NULL));
    EXPECT(memcmp(ds, again, nd * sizeof ds[0]) == 0, "clGetDeviceIDs returned different handles");
    cl_uint ncpu = 0;
    cl_int e = clGetDeviceIDs(p, CL_DEVICE_TYPE_CPU, 0, NULL, &ncpu);
    printf("cpu devices: %u (%s)\n", ncpu, e2e_err_name(e));

    for (cl_uint di = 0; di < nd; ++di) {
      cl_device_id d = ds[di];
      cl_platform_id owner;
      CHECK(clGetDeviceInfo(d, CL_DEVICE_PLATFORM, sizeof owner, &owner, NULL));
      EXPECT(owner == p, "CL_DEVICE_PLATFORM is not the platform the device came from");
      print_str_d(d, CL_DEVICE_NAME, "name");
      print_str_d(d, CL_DEVICE_VENDOR, "vendor");
      print_str_d(d, CL_DEVICE_VERSION, "version");
      print_str_d(d, CL_DRIVER_VERSION, "driver version");
      print_str_d(d, CL_DEVICE_OPENCL_C_VERSION, "opencl c version");
      print_str_d(d, CL_DEVICE_PROFILE, "profile");
      print_str_d(d, CL_DEVICE_EXTENSIONS, "extensions");
      print_str_d(d, CL_DEVICE_BUILT_IN_KERNELS, "built-in kernels");
      PRINT_D(cl_device_type, CL_DEVICE_TYPE, "%llu");
      PRINT_D(cl_uint, CL_DEVICE_VENDOR_ID, "0x%llx");
      PRINT_D(cl_uint, CL_DEVICE_MAX_COMPUTE_UNITS, "%llu");
      PRINT_D(cl_uint, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, "%llu");
      PRINT_D(size_t, CL_DEVICE_MAX_WORK_GROUP_SIZE, "%llu");
      PRINT_D(cl_ulong, CL_DEVICE_GLOBAL_MEM_SIZE, "%llu");
      PRINT_D(cl_ulong, CL_DEVICE_MAX_MEM_ALLOC_SIZE, "%llu");
      PRINT_D(cl_ulong, CL_DEVICE_LOCAL_MEM_SIZE, "%llu");
      PRINT_D(cl_uint, CL_DEVICE_MEM_BASE_ADDR_ALIGN, "%llu");
      PRINT_D(cl_bool, CL_DEVICE_IMAGE_SUPPORT, "%llu");
      PRINT_D(size_t, CL_DEVICE_IMAGE2D_MAX_WIDTH, "%llu");
      PRINT_D(cl_bool, CL_DEVICE_AVAILABLE, "%llu");
      PRINT_D(cl_bool, CL_DEVICE_COMPILER_AVAILABLE, "%llu");
      PRINT_D(cl_bool, CL_DEVICE_LINKER_AVAILABLE, "%llu");
      PRINT_D(cl_bool, CL_DEVICE_ENDIAN_LITTLE, "%llu");
      PRINT_D(cl_uint, CL_DEVICE_ADDRESS_BITS, "%llu");
      PRINT_D(size_t, CL_DEVICE_PROFILING_TIMER_RESOLUTION, "%llu");
      PRINT_D(cl_command_queue_properties, CL_DEVICE_QUEUE_PROPERTIES, "%llu");
      PRINT_D(cl_device_fp_config, CL_DEVICE_SINGLE_FP_CONFIG, "%llu");
      PRINT_D(cl_uint, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, "%llu");
      // SVM capabilities are printed by svm.c, which can tell "unsupported" from "wrong".

      size_t wis[3] = {0};
      CHECK(clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof wis, wis, NULL));
      printf("device max work item sizes: %zu %zu %zu\n", wis[0], wis[1], wis[2]);

      // An array of structs: the extensions with their versions.
      size_t n = 0;
      CHECK(clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS_WITH_VERSION, 0, NULL, &n));
      EXPECT(n % sizeof(cl_name_version) == 0, "extensions-with-version size %zu", n);
      cl_name_version* nv = malloc(n ? n : 1);
      CHECK(clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS_WITH_VERSION, n, nv, NULL));
      for (size_t i = 0; i < n / sizeof(cl_name_version); ++i)
        printf("device extension: %s %u.%u.%u\n", nv[i].name, CL_VERSION_MAJOR(nv[i].version),
               CL_VERSION_MINOR(nv[i].version), CL_VERSION_PATCH(nv[i].version));
      free(nv);

      // A too-small buffer must be refused with CL_INVALID_VALUE.
      char tiny[2];
      EXPECT_CODE("name into 2 bytes", clGetDeviceInfo(d, CL_DEVICE_NAME, sizeof tiny, tiny, NULL), CL_INVALID_VALUE);
      // Size-only query.
      size_t name_len = 0;
      CHECK(clGetDeviceInfo(d, CL_DEVICE_NAME, 0, NULL, &name_len));
      EXPECT(name_len > 1, "name length %zu", name_len);

      // Retain/release of a root device are no-ops that must succeed.
      CHECK(clRetainDevice(d));
      CHECK(clReleaseDevice(d));
    }
  }
  EXPECT_CODE("invalid param", clGetPlatformInfo(ps[0], 0xFFFF, 0, NULL, NULL), CL_INVALID_VALUE);
  e2e_pass();
}
