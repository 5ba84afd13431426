// Shared helpers for the end-to-end OpenCL programs.
//
// Every program prints deterministic lines (no pointers, no timings, nothing that differs between a
// native run and a run through remora) and ends with "PASS" (exit 0) or "FAIL: <reason>" (exit 1).
// run_compare.sh diffs the native and remoted stdout, so anything printed here is part of the
// contract: print values that the application would see, never addresses or durations.
#pragma once

// nanosleep, pthreads, setenv under -std=c11.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#define CL_TARGET_OPENCL_VERSION 300
#define CL_USE_DEPRECATED_OPENCL_1_0_APIS
#define CL_USE_DEPRECATED_OPENCL_1_1_APIS
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#define CL_USE_DEPRECATED_OPENCL_2_0_APIS
#include <CL/cl.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// Line-buffered stdout even into a pipe, so that a crash still leaves every line printed so far
// for the harness's diff.
__attribute__((constructor)) static void e2e_line_buffered_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }

static inline const char* e2e_err_name(cl_int e) {
  switch (e) {
#define E2E_ERR(x) \
  case x:          \
    return #x;
    E2E_ERR(CL_SUCCESS)
    E2E_ERR(CL_DEVICE_NOT_FOUND)
    E2E_ERR(CL_DEVICE_NOT_AVAILABLE)
    E2E_ERR(CL_COMPILER_NOT_AVAILABLE)
    E2E_ERR(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    E2E_ERR(CL_OUT_OF_RESOURCES)
    E2E_ERR(CL_OUT_OF_HOST_MEMORY)
    E2E_ERR(CL_PROFILING_INFO_NOT_AVAILABLE)
    E2E_ERR(CL_MEM_COPY_OVERLAP)
    E2E_ERR(CL_IMAGE_FORMAT_MISMATCH)
    E2E_ERR(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    E2E_ERR(CL_BUILD_PROGRAM_FAILURE)
    E2E_ERR(CL_MAP_FAILURE)
    E2E_ERR(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    E2E_ERR(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    E2E_ERR(CL_COMPILE_PROGRAM_FAILURE)
    E2E_ERR(CL_LINKER_NOT_AVAILABLE)
    E2E_ERR(CL_LINK_PROGRAM_FAILURE)
    E2E_ERR(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    E2E_ERR(CL_INVALID_VALUE)
    E2E_ERR(CL_INVALID_DEVICE_TYPE)
    E2E_ERR(CL_INVALID_PLATFORM)
    E2E_ERR(CL_INVALID_DEVICE)
    E2E_ERR(CL_INVALID_CONTEXT)
    E2E_ERR(CL_INVALID_QUEUE_PROPERTIES)
    E2E_ERR(CL_INVALID_COMMAND_QUEUE)
    E2E_ERR(CL_INVALID_HOST_PTR)
    E2E_ERR(CL_INVALID_MEM_OBJECT)
    E2E_ERR(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    E2E_ERR(CL_INVALID_IMAGE_SIZE)
    E2E_ERR(CL_INVALID_SAMPLER)
    E2E_ERR(CL_INVALID_BINARY)
    E2E_ERR(CL_INVALID_BUILD_OPTIONS)
    E2E_ERR(CL_INVALID_PROGRAM)
    E2E_ERR(CL_INVALID_PROGRAM_EXECUTABLE)
    E2E_ERR(CL_INVALID_KERNEL_NAME)
    E2E_ERR(CL_INVALID_KERNEL_DEFINITION)
    E2E_ERR(CL_INVALID_KERNEL)
    E2E_ERR(CL_INVALID_ARG_INDEX)
    E2E_ERR(CL_INVALID_ARG_VALUE)
    E2E_ERR(CL_INVALID_ARG_SIZE)
    E2E_ERR(CL_INVALID_KERNEL_ARGS)
    E2E_ERR(CL_INVALID_WORK_DIMENSION)
    E2E_ERR(CL_INVALID_WORK_GROUP_SIZE)
    E2E_ERR(CL_INVALID_WORK_ITEM_SIZE)
    E2E_ERR(CL_INVALID_GLOBAL_OFFSET)
    E2E_ERR(CL_INVALID_EVENT_WAIT_LIST)
    E2E_ERR(CL_INVALID_EVENT)
    E2E_ERR(CL_INVALID_OPERATION)
    E2E_ERR(CL_INVALID_BUFFER_SIZE)
    E2E_ERR(CL_INVALID_GLOBAL_WORK_SIZE)
    E2E_ERR(CL_INVALID_PROPERTY)
    E2E_ERR(CL_INVALID_IMAGE_DESCRIPTOR)
    E2E_ERR(CL_INVALID_COMPILER_OPTIONS)
    E2E_ERR(CL_INVALID_LINKER_OPTIONS)
#undef E2E_ERR
    default:
      return "CL_<unknown>";
  }
}

static inline void e2e_fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("FAIL: ", stdout);
  vprintf(fmt, ap);
  fputc('\n', stdout);
  va_end(ap);
  fflush(stdout);
  exit(1);
}

static inline void e2e_pass(void) {
  puts("PASS");
  fflush(stdout);
  exit(0);
}

// CHECK(call): the call must return CL_SUCCESS.
#define CHECK(call)                                                                         \
  do {                                                                                      \
    cl_int check_err_ = (call);                                                             \
    if (check_err_ != CL_SUCCESS)                                                           \
      e2e_fail("line %d: %s -> %s (%d)", __LINE__, #call, e2e_err_name(check_err_), check_err_); \
  } while (0)

// CHECK_ERR(err): an errcode_ret filled by a create call must be CL_SUCCESS.
#define CHECK_ERR(err) CHECK(err)

// EXPECT(cond, fmt, ...): a value check; the message says what was wrong.
#define EXPECT(cond, ...)                 \
  do {                                    \
    if (!(cond)) e2e_fail(__VA_ARGS__);   \
  } while (0)

// EXPECT_CODE(call, code): the call must return exactly `code`; prints "label: CODE_NAME".
#define EXPECT_CODE(label, call, code)                                                      \
  do {                                                                                      \
    cl_int got_ = (call);                                                                   \
    printf("%s: %s\n", label, e2e_err_name(got_));                                          \
    if (got_ != (code))                                                                     \
      e2e_fail("%s: expected %s, got %s (%d)", label, e2e_err_name(code), e2e_err_name(got_), got_); \
  } while (0)

// EXPECT_FAILURE(label, call): the call must fail; prints "label: CODE_NAME" (the exact code is
// the platform's choice where the spec and implementations disagree).
#define EXPECT_FAILURE(label, call)                                \
  do {                                                             \
    cl_int got_ = (call);                                          \
    printf("%s: %s\n", label, e2e_err_name(got_));                 \
    if (got_ == CL_SUCCESS) e2e_fail("%s: succeeded", label);      \
  } while (0)

// The first device of the first platform that has one. Through remora, remora's platform is the only one.
static inline void e2e_first_device(cl_platform_id* platform, cl_device_id* device) {
  cl_uint n = 0;
  CHECK(clGetPlatformIDs(0, NULL, &n));
  EXPECT(n > 0, "no OpenCL platform");
  cl_platform_id ps[16];
  if (n > 16) n = 16;
  CHECK(clGetPlatformIDs(n, ps, NULL));
  for (cl_uint i = 0; i < n; ++i) {
    if (clGetDeviceIDs(ps[i], CL_DEVICE_TYPE_ALL, 1, device, NULL) == CL_SUCCESS) {
      *platform = ps[i];
      return;
    }
  }
  e2e_fail("no OpenCL device on any platform");
}

// A context, and an in-order queue with `props` (0 or CL_QUEUE_PROFILING_ENABLE ...).
static inline cl_context e2e_context(cl_device_id device) {
  cl_int err;
  cl_context ctx = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
  CHECK_ERR(err);
  return ctx;
}

static inline cl_command_queue e2e_queue(cl_context ctx, cl_device_id device, cl_command_queue_properties props) {
  cl_int err;
  cl_queue_properties qp[] = {CL_QUEUE_PROPERTIES, props, 0};
  cl_command_queue q = clCreateCommandQueueWithProperties(ctx, device, props ? qp : NULL, &err);
  CHECK_ERR(err);
  return q;
}

// Builds `src` with `options`; on failure prints the log and fails.
static inline cl_program e2e_build(cl_context ctx, cl_device_id device, const char* src, const char* options) {
  cl_int err;
  cl_program p = clCreateProgramWithSource(ctx, 1, &src, NULL, &err);
  CHECK_ERR(err);
  err = clBuildProgram(p, 1, &device, options, NULL, NULL);
  if (err != CL_SUCCESS) {
    char log[8192] = {0};
    clGetProgramBuildInfo(p, device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
    printf("build log:\n%s\n", log);
    e2e_fail("clBuildProgram -> %s (%d)", e2e_err_name(err), err);
  }
  return p;
}

static inline cl_kernel e2e_kernel(cl_program p, const char* name) {
  cl_int err;
  cl_kernel k = clCreateKernel(p, name, &err);
  if (err != CL_SUCCESS) e2e_fail("clCreateKernel(%s) -> %s (%d)", name, e2e_err_name(err), err);
  return k;
}

static inline void e2e_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

// Waits until *flag becomes nonzero, at most `ms` milliseconds. Callbacks through remora arrive
// asynchronously (a callback message from the server), so every callback check waits bounded.
static inline int e2e_wait_flag(atomic_int* flag, long ms) {
  for (long waited = 0; waited < ms; waited += 5) {
    if (atomic_load(flag)) return 1;
    e2e_sleep_ms(5);
  }
  return atomic_load(flag) != 0;
}

// Standard CRC-32 (IEEE, reflected, as zlib): used to compare buffer contents compactly.
static inline uint32_t e2e_crc32(const void* data, size_t n) {
  const unsigned char* p = (const unsigned char*)data;
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}
