// One soak guest: a randomized but checked OpenCL workload, run for a number of rounds.
//
//   soak_guest SEED ROUNDS [STATS_FILE]
//
// Every round picks operations at random (from SEED, so a failing run is replayed with the same seed):
// buffers of random sizes, writes/reads (blocking and not), copies, fills, maps, sub-buffers, a kernel
// whose result is checked element by element, user events and event waits, and deliberate errors
// that must give the right CL error. Each result is compared with what the host computed. Objects are
// released at the end of each round, so the server's device memory of a finished guest returns to 0.
//
// Prints one line at the end: "soak_guest seed=S calls=N checks=M failures=F" and exits 0 when F == 0.
// With STATS_FILE the same numbers are appended there after every round (a guest killed by the driver
// still contributes what it did). The first failures are described on stderr.
#include "../e2e/common.h"

#include <fcntl.h>
#include <unistd.h>

static uint64_t rng_state;
static uint64_t next_rand(void) {
  // splitmix64: small, good enough, and the same on every machine.
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static size_t rand_below(size_t n) { return n == 0 ? 0 : (size_t)(next_rand() % n); }

static unsigned long long calls, checks, failures;
static uint64_t seed;

#define CALL(expr) (++calls, (expr))
static void check(int ok, const char* what, long long got, long long want) {
  ++checks;
  if (ok) return;
  if (++failures <= 20) fprintf(stderr, "soak_guest seed=%llu: %s: got %lld, want %lld\n", (unsigned long long)seed, what, got, want);
}
// A function, not a macro: its argument (often a CALL) is evaluated once.
static void expect_cl(cl_int got, cl_int want, const char* what) { check(got == want, what, got, want); }

static const char* kSource =
    "__kernel void axpb(__global const uint* x, __global uint* y, uint a, uint b) {\n"
    "  size_t i = get_global_id(0);\n"
    "  y[i] = x[i] * a + b;\n"
    "}\n";

static cl_context ctx;
static cl_command_queue queue;
static cl_device_id device;
static cl_kernel kernel;
static cl_program program;

static void fill_pattern(uint32_t* p, size_t n, uint32_t base) {
  for (size_t i = 0; i < n; ++i) p[i] = base + (uint32_t)i * 2654435761u;
}
static int same(const uint32_t* a, const uint32_t* b, size_t n) { return memcmp(a, b, n * sizeof(uint32_t)) == 0; }

// Sizes in uint32 elements: mostly small, sometimes up to 4 MiB.
static size_t random_count(void) {
  switch (rand_below(4)) {
    case 0: return 1 + rand_below(64);
    case 1: return 256 + rand_below(4096);
    case 2: return 65536 + rand_below(65536);
    default: return (1 + rand_below(4)) << 18;
  }
}

static void op_write_read(void) {
  const size_t n = random_count();
  uint32_t* src = malloc(n * 4);
  uint32_t* dst = calloc(n, 4);
  fill_pattern(src, n, (uint32_t)next_rand());
  cl_int err;
  cl_mem b = CALL(clCreateBuffer(ctx, CL_MEM_READ_WRITE, n * 4, NULL, &err));
  expect_cl(err, CL_SUCCESS, "clCreateBuffer");
  if (err == CL_SUCCESS) {
    const cl_bool blocking = (cl_bool)rand_below(2);
    expect_cl(CALL(clEnqueueWriteBuffer(queue, b, blocking, 0, n * 4, src, 0, NULL, NULL)), CL_SUCCESS, "write");
    cl_event ev = NULL;
    expect_cl(CALL(clEnqueueReadBuffer(queue, b, CL_FALSE, 0, n * 4, dst, 0, NULL, &ev)), CL_SUCCESS, "read");
    if (ev != NULL) {
      expect_cl(CALL(clWaitForEvents(1, &ev)), CL_SUCCESS, "wait read");
      cl_int status = -1;
      expect_cl(CALL(clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL)), CL_SUCCESS,
                "event info");
      expect_cl(status, CL_COMPLETE, "read event status");
      CALL(clReleaseEvent(ev));
    }
    check(same(src, dst, n), "write/read round trip", 0, 1);
    CALL(clReleaseMemObject(b));
  }
  free(src);
  free(dst);
}

static void op_copy_fill_sub(void) {
  const size_t n = 1024 + rand_below(1 << 16);
  uint32_t* src = malloc(n * 4);
  uint32_t* dst = calloc(n, 4);
  fill_pattern(src, n, (uint32_t)next_rand());
  cl_int err;
  cl_mem a = CALL(clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, n * 4, src, &err));
  expect_cl(err, CL_SUCCESS, "create copy_host_ptr");
  cl_mem b = CALL(clCreateBuffer(ctx, CL_MEM_READ_WRITE, n * 4, NULL, &err));
  expect_cl(err, CL_SUCCESS, "create");
  if (a != NULL && b != NULL) {
    expect_cl(CALL(clEnqueueCopyBuffer(queue, a, b, 0, 0, n * 4, 0, NULL, NULL)), CL_SUCCESS, "copy");
    // A fill over a random aligned range of b, mirrored on the host.
    cl_uint align = 0;
    CALL(clGetDeviceInfo(device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align, &align, NULL));
    const size_t align_elems = align >= 32 ? align / 32 : 1;  // bits -> uint32 elements
    const size_t off = (rand_below(n / 2) / align_elems) * align_elems;
    const size_t len = 1 + rand_below(n - off);
    const uint32_t pattern = (uint32_t)next_rand();
    expect_cl(CALL(clEnqueueFillBuffer(queue, b, &pattern, 4, off * 4, len * 4, 0, NULL, NULL)), CL_SUCCESS, "fill");
    for (size_t i = off; i < off + len; ++i) src[i] = pattern;
    // A sub-buffer over the filled range, read back alone.
    cl_buffer_region region = {off * 4, len * 4};
    cl_mem sub = CALL(clCreateSubBuffer(b, CL_MEM_READ_ONLY, CL_BUFFER_CREATE_TYPE_REGION, &region, &err));
    expect_cl(err, CL_SUCCESS, "sub-buffer");
    if (sub != NULL) {
      expect_cl(CALL(clEnqueueReadBuffer(queue, sub, CL_TRUE, 0, len * 4, dst, 0, NULL, NULL)), CL_SUCCESS, "read sub");
      check(same(dst, src + off, len), "sub-buffer contents", 0, 1);
      CALL(clReleaseMemObject(sub));
    }
    // The whole of b through a map.
    uint32_t* m = CALL(clEnqueueMapBuffer(queue, b, CL_TRUE, CL_MAP_READ, 0, n * 4, 0, NULL, NULL, &err));
    expect_cl(err, CL_SUCCESS, "map");
    if (m != NULL) {
      check(same(m, src, n), "mapped contents", 0, 1);
      expect_cl(CALL(clEnqueueUnmapMemObject(queue, b, m, 0, NULL, NULL)), CL_SUCCESS, "unmap");
    }
  }
  if (a != NULL) CALL(clReleaseMemObject(a));
  if (b != NULL) CALL(clReleaseMemObject(b));
  expect_cl(CALL(clFinish(queue)), CL_SUCCESS, "finish");
  free(src);
  free(dst);
}

static void op_map_write(void) {
  const size_t n = 16 + rand_below(1 << 15);
  uint32_t* want = malloc(n * 4);
  uint32_t* got = calloc(n, 4);
  fill_pattern(want, n, (uint32_t)next_rand());
  cl_int err;
  cl_mem b = CALL(clCreateBuffer(ctx, CL_MEM_READ_WRITE, n * 4, NULL, &err));
  expect_cl(err, CL_SUCCESS, "create");
  if (b != NULL) {
    uint32_t* m = CALL(clEnqueueMapBuffer(queue, b, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, 0, n * 4, 0, NULL, NULL, &err));
    expect_cl(err, CL_SUCCESS, "map for writing");
    if (m != NULL) {
      memcpy(m, want, n * 4);
      expect_cl(CALL(clEnqueueUnmapMemObject(queue, b, m, 0, NULL, NULL)), CL_SUCCESS, "unmap");
      expect_cl(CALL(clEnqueueReadBuffer(queue, b, CL_TRUE, 0, n * 4, got, 0, NULL, NULL)), CL_SUCCESS, "read");
      check(same(want, got, n), "map-written contents", 0, 1);
    }
    CALL(clReleaseMemObject(b));
  }
  free(want);
  free(got);
}

static void op_kernel(void) {
  const size_t n = 64 * (1 + rand_below(2048));
  uint32_t* x = malloc(n * 4);
  uint32_t* y = calloc(n, 4);
  fill_pattern(x, n, (uint32_t)next_rand());
  const cl_uint a = (cl_uint)next_rand(), bconst = (cl_uint)next_rand();
  cl_int err;
  cl_mem bx = CALL(clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, n * 4, x, &err));
  expect_cl(err, CL_SUCCESS, "create x");
  cl_mem by = CALL(clCreateBuffer(ctx, CL_MEM_WRITE_ONLY, n * 4, NULL, &err));
  expect_cl(err, CL_SUCCESS, "create y");
  // A user event gates the kernel: it must not run before the event completes.
  cl_event gate = CALL(clCreateUserEvent(ctx, &err));
  expect_cl(err, CL_SUCCESS, "user event");
  if (bx != NULL && by != NULL && gate != NULL) {
    expect_cl(CALL(clSetKernelArg(kernel, 0, sizeof bx, &bx)), CL_SUCCESS, "arg 0");
    expect_cl(CALL(clSetKernelArg(kernel, 1, sizeof by, &by)), CL_SUCCESS, "arg 1");
    expect_cl(CALL(clSetKernelArg(kernel, 2, sizeof a, &a)), CL_SUCCESS, "arg 2");
    expect_cl(CALL(clSetKernelArg(kernel, 3, sizeof bconst, &bconst)), CL_SUCCESS, "arg 3");
    cl_event done = NULL;
    expect_cl(CALL(clEnqueueNDRangeKernel(queue, kernel, 1, NULL, &n, NULL, 1, &gate, &done)), CL_SUCCESS, "ndrange");
    CALL(clFlush(queue));
    cl_int status = -1;
    if (done != NULL) {
      CALL(clGetEventInfo(done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL));
      check(status != CL_COMPLETE, "kernel ran before its gate opened", status, CL_QUEUED);
    }
    expect_cl(CALL(clSetUserEventStatus(gate, CL_COMPLETE)), CL_SUCCESS, "open the gate");
    expect_cl(CALL(clEnqueueReadBuffer(queue, by, CL_TRUE, 0, n * 4, y, done != NULL, &done, NULL)), CL_SUCCESS,
              "read y");
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) bad += y[i] != x[i] * a + bconst;
    check(bad == 0, "kernel results (wrong elements)", (long long)bad, 0);
    if (done != NULL) CALL(clReleaseEvent(done));
  }
  if (gate != NULL) CALL(clReleaseEvent(gate));
  if (bx != NULL) CALL(clReleaseMemObject(bx));
  if (by != NULL) CALL(clReleaseMemObject(by));
  free(x);
  free(y);
}

// Deliberate errors: each must give exactly the API's error, and the session must go on.
static void op_errors(void) {
  cl_int err = CL_SUCCESS;
  switch (rand_below(5)) {
    case 0: {
      cl_mem b = CALL(clCreateBuffer(ctx, CL_MEM_READ_WRITE, 0, NULL, &err));
      expect_cl(err, CL_INVALID_BUFFER_SIZE, "zero-sized buffer");
      check(b == NULL, "zero-sized buffer handle", b != NULL, 0);
      break;
    }
    case 1: {
      cl_mem b = CALL(clCreateBuffer(ctx, CL_MEM_READ_WRITE, 256, NULL, &err));
      uint32_t tmp[128];
      expect_cl(CALL(clEnqueueReadBuffer(queue, b, CL_TRUE, 128, sizeof tmp, tmp, 0, NULL, NULL)), CL_INVALID_VALUE,
                "read past the end");
      CALL(clReleaseMemObject(b));
      break;
    }
    case 2: {
      cl_mem b = CALL(clCreateBuffer(ctx, CL_MEM_READ_WRITE, 256, NULL, &err));
      cl_buffer_region region = {128, 256};
      cl_mem sub = CALL(clCreateSubBuffer(b, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region, &err));
      expect_cl(err, CL_INVALID_VALUE, "sub-buffer past the end");
      if (sub != NULL) CALL(clReleaseMemObject(sub));
      CALL(clReleaseMemObject(b));
      break;
    }
    case 3:
      expect_cl(CALL(clSetKernelArg(kernel, 9, sizeof(cl_uint), &err)), CL_INVALID_ARG_INDEX, "bad argument index");
      break;
    default: {
      cl_event e = NULL;
      expect_cl(CALL(clWaitForEvents(0, &e)), CL_INVALID_VALUE, "wait for no events");
      break;
    }
  }
}

// Appends "calls checks failures" since the previous line, and starts counting afresh.
static unsigned long long reported_failures;
static void write_stats(const char* path) {
  if (path == NULL) return;
  char line[160];
  const int n = snprintf(line, sizeof line, "%llu %llu %llu\n", calls, checks, failures - reported_failures);
  calls = checks = 0;
  reported_failures = failures;
  const int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (write(fd, line, (size_t)n) != n) fprintf(stderr, "soak_guest: short write to %s\n", path);
  close(fd);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s SEED ROUNDS [STATS_FILE]\n", argv[0]);
    return 2;
  }
  seed = strtoull(argv[1], NULL, 0);
  rng_state = seed;
  const long rounds = strtol(argv[2], NULL, 0);
  const char* stats = argc > 3 ? argv[3] : NULL;

  cl_platform_id platform;
  cl_uint np = 0;
  cl_int err = CALL(clGetPlatformIDs(1, &platform, &np));
  if (err != CL_SUCCESS || np == 0) {
    fprintf(stderr, "soak_guest: no platform (%s)\n", e2e_err_name(err));
    return 1;
  }
  CALL(clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL));
  ctx = CALL(clCreateContext(NULL, 1, &device, NULL, NULL, &err));
  expect_cl(err, CL_SUCCESS, "context");
  queue = CALL(clCreateCommandQueueWithProperties(ctx, device, NULL, &err));
  expect_cl(err, CL_SUCCESS, "queue");
  program = CALL(clCreateProgramWithSource(ctx, 1, &kSource, NULL, &err));
  expect_cl(CALL(clBuildProgram(program, 1, &device, "", NULL, NULL)), CL_SUCCESS, "build");
  kernel = CALL(clCreateKernel(program, "axpb", &err));
  expect_cl(err, CL_SUCCESS, "kernel");
  write_stats(stats);
  if (failures != 0) {
    printf("soak_guest seed=%llu calls=%llu checks=%llu failures=%llu\n", (unsigned long long)seed, calls, checks, failures);
    return 1;
  }

  for (long r = 0; r < rounds; ++r) {
    switch (rand_below(6)) {
      case 0: op_write_read(); break;
      case 1: op_copy_fill_sub(); break;
      case 2: op_map_write(); break;
      case 3: case 4: op_kernel(); break;
      default: op_errors(); break;
    }
    expect_cl(CALL(clFinish(queue)), CL_SUCCESS, "finish");
    write_stats(stats);
  }
  CALL(clReleaseKernel(kernel));
  CALL(clReleaseProgram(program));
  CALL(clReleaseCommandQueue(queue));
  CALL(clReleaseContext(ctx));
  write_stats(stats);
  printf("soak_guest seed=%llu rounds=%ld failures=%llu\n", (unsigned long long)seed, rounds, failures);
  return failures == 0 ? 0 : 1;
}
