// OpenCL micro-benchmarks: the per-call costs that API remoting adds. The same binary runs natively
// and under `remora run`; bench/run.py runs it both ways and compares. It uses the first platform's
// first device, whatever that is (PoCL natively, remora's ICD under `remora run`).
//
// Besides the Google Benchmark suite, two modes serve bench/run.py:
//   --probe                      print the platform and device name, exit 0 (is OpenCL usable at all?)
//   --round-trips=SECONDS        set up, print "ready", wait for a line on stdin, then make uncacheable
//                                sync round trips for SECONDS; print {"calls":N,"seconds":S} (the
//                                driver starts several, and says "go" once all are ready)
//   --idle=SECONDS               connect (platform, device, context, queue), print "ready", sleep
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

// The benchmarks measure, they do not recover: any OpenCL error ends the program with its name.
void check(cl_int err, const char* what) {
  if (err != CL_SUCCESS) {
    std::fprintf(stderr, "opencl_micro: %s failed: %d\n", what, err);
    std::exit(1);
  }
}

constexpr const char* kKernels = R"CLC(
__kernel void empty(int unused) {}
__kernel void scalar_args(int a, int b, float c, __global int* out) {}
)CLC";

// The OpenCL objects every benchmark shares. Built once in main and passed to each benchmark by
// reference (no globals).
struct Env {
  cl_platform_id platform = nullptr;
  cl_device_id device = nullptr;
  cl_context context = nullptr;
  cl_command_queue queue = nullptr;
  cl_program program = nullptr;
  cl_kernel empty = nullptr;
  cl_kernel scalar_args = nullptr;
  cl_mem small = nullptr;  // 4 bytes, for the blocking small write

  void connect() {
    check(clGetPlatformIDs(1, &platform, nullptr), "clGetPlatformIDs");
    check(clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, nullptr), "clGetDeviceIDs");
    cl_int err = CL_SUCCESS;
    context = clCreateContext(nullptr, 1, &device, nullptr, nullptr, &err);
    check(err, "clCreateContext");
    queue = clCreateCommandQueueWithProperties(context, device, nullptr, &err);
    check(err, "clCreateCommandQueueWithProperties");
  }

  void build() {
    cl_int err = CL_SUCCESS;
    const char* source = kKernels;
    program = clCreateProgramWithSource(context, 1, &source, nullptr, &err);
    check(err, "clCreateProgramWithSource");
    check(clBuildProgram(program, 1, &device, "", nullptr, nullptr), "clBuildProgram");
    empty = clCreateKernel(program, "empty", &err);
    check(err, "clCreateKernel(empty)");
    scalar_args = clCreateKernel(program, "scalar_args", &err);
    check(err, "clCreateKernel(scalar_args)");
    small = clCreateBuffer(context, CL_MEM_READ_WRITE, 4, nullptr, &err);
    check(err, "clCreateBuffer(small)");
    int zero = 0;
    check(clSetKernelArg(empty, 0, sizeof zero, &zero), "clSetKernelArg");
    check(clSetKernelArg(scalar_args, 3, sizeof small, &small), "clSetKernelArg");
  }

  ~Env() {
    if (small) clReleaseMemObject(small);
    if (scalar_args) clReleaseKernel(scalar_args);
    if (empty) clReleaseKernel(empty);
    if (program) clReleaseProgram(program);
    if (queue) clReleaseCommandQueue(queue);
    if (context) clReleaseContext(context);
  }
};

// A user event's status can be changed at any time by clSetUserEventStatus (from any thread, or
// another process holding the same server-side object), so no remoting layer may answer this query
// from a cache: every call is a real round trip to the server.
cl_event new_user_event(const Env& env) {
  cl_int err = CL_SUCCESS;
  cl_event event = clCreateUserEvent(env.context, &err);
  check(err, "clCreateUserEvent");
  return event;
}

cl_int event_status(cl_event event) {
  cl_int status = 0;
  check(clGetEventInfo(event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, nullptr),
        "clGetEventInfo");
  return status;
}

void sync_round_trip(benchmark::State& state, const Env& env) {
  cl_event event = new_user_event(env);
  for (auto _ : state) benchmark::DoNotOptimize(event_status(event));
  state.SetItemsProcessed(state.iterations());
  clSetUserEventStatus(event, CL_COMPLETE);
  clReleaseEvent(event);
}

void cached_query(benchmark::State& state, const Env& env) {
  char name[256];
  for (auto _ : state) {
    check(clGetDeviceInfo(env.device, CL_DEVICE_NAME, sizeof name, name, nullptr), "clGetDeviceInfo");
    benchmark::DoNotOptimize(name);
  }
  state.SetItemsProcessed(state.iterations());
}

// N asynchronous calls then one synchronous call that must wait for all of them (clFinish), so
// batched calls are counted only once they have been executed.
void async_set_kernel_arg(benchmark::State& state, const Env& env) {
  const int64_t batch = state.range(0);
  for (auto _ : state) {
    for (int64_t i = 0; i < batch; ++i) {
      const int value = static_cast<int>(i);
      clSetKernelArg(env.scalar_args, 0, sizeof value, &value);
    }
    check(clFinish(env.queue), "clFinish");
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void kernel_launch(benchmark::State& state, const Env& env) {
  const size_t global = 1;
  for (auto _ : state) {
    check(clEnqueueNDRangeKernel(env.queue, env.empty, 1, nullptr, &global, nullptr, 0, nullptr, nullptr),
          "clEnqueueNDRangeKernel");
    check(clFinish(env.queue), "clFinish");
  }
  state.SetItemsProcessed(state.iterations());
}

void small_write(benchmark::State& state, const Env& env) {
  int value = 0;
  for (auto _ : state) {
    ++value;
    check(clEnqueueWriteBuffer(env.queue, env.small, CL_TRUE, 0, sizeof value, &value, 0, nullptr, nullptr),
          "clEnqueueWriteBuffer");
  }
  state.SetItemsProcessed(state.iterations());
}

enum class Transfer { kWrite, kRead, kMap };

// Host memory is touched before timing so that page faults are not measured.
void bandwidth(benchmark::State& state, const Env& env, Transfer kind) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  cl_int err = CL_SUCCESS;
  cl_mem buffer = clCreateBuffer(env.context, CL_MEM_READ_WRITE, bytes, nullptr, &err);
  check(err, "clCreateBuffer");
  std::vector<unsigned char> host(bytes, 1);
  // Give the buffer its storage (and the server its copy) before timing.
  check(clEnqueueWriteBuffer(env.queue, buffer, CL_TRUE, 0, bytes, host.data(), 0, nullptr, nullptr),
        "clEnqueueWriteBuffer");
  for (auto _ : state) {
    switch (kind) {
      case Transfer::kWrite:
        check(clEnqueueWriteBuffer(env.queue, buffer, CL_TRUE, 0, bytes, host.data(), 0, nullptr, nullptr),
              "clEnqueueWriteBuffer");
        break;
      case Transfer::kRead:
        check(clEnqueueReadBuffer(env.queue, buffer, CL_TRUE, 0, bytes, host.data(), 0, nullptr, nullptr),
              "clEnqueueReadBuffer");
        break;
      case Transfer::kMap: {
        // Map for reading and touch every page, so that a layer that copies lazily pays for it too.
        void* p = clEnqueueMapBuffer(env.queue, buffer, CL_TRUE, CL_MAP_READ, 0, bytes, 0, nullptr, nullptr, &err);
        check(err, "clEnqueueMapBuffer");
        const auto* bytes_in = static_cast<const volatile unsigned char*>(p);
        unsigned sum = 0;
        for (size_t i = 0; i < bytes; i += 4096) sum += bytes_in[i];
        benchmark::DoNotOptimize(sum);
        check(clEnqueueUnmapMemObject(env.queue, buffer, p, 0, nullptr, nullptr), "clEnqueueUnmapMemObject");
        check(clFinish(env.queue), "clFinish");
        break;
      }
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
  clReleaseMemObject(buffer);
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

// Median comes with Google Benchmark; the quartiles and extremes give the spread.
benchmark::internal::Benchmark* with_spread(benchmark::internal::Benchmark* b) {
  return b->ComputeStatistics("p25", [](const std::vector<double>& v) { return quantile(v, 0.25); })
      ->ComputeStatistics("p75", [](const std::vector<double>& v) { return quantile(v, 0.75); })
      ->ComputeStatistics("min", [](const std::vector<double>& v) { return quantile(v, 0.0); })
      ->ComputeStatistics("max", [](const std::vector<double>& v) { return quantile(v, 1.0); });
}

void register_all(Env& env) {
  // Seconds per repetition: the whole suite runs in a minute or two, even through remora.
  constexpr double kMinTime = 0.05;
  auto add = [](const char* name, auto fn) {
    return with_spread(benchmark::RegisterBenchmark(name, fn))->MinTime(kMinTime)->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  };
  add("SyncRoundTrip", [&env](benchmark::State& s) { sync_round_trip(s, env); });
  add("CachedQuery", [&env](benchmark::State& s) { cached_query(s, env); });
  add("AsyncSetKernelArg", [&env](benchmark::State& s) { async_set_kernel_arg(s, env); })->Arg(1000);
  add("KernelLaunchFinish", [&env](benchmark::State& s) { kernel_launch(s, env); });
  add("BlockingWrite4B", [&env](benchmark::State& s) { small_write(s, env); });
  const struct {
    const char* name;
    Transfer kind;
  } transfers[] = {{"WriteBandwidth", Transfer::kWrite}, {"ReadBandwidth", Transfer::kRead}, {"MapBandwidth", Transfer::kMap}};
  for (const auto& t : transfers) {
    add(t.name, [&env, kind = t.kind](benchmark::State& s) { bandwidth(s, env, kind); })
        ->RangeMultiplier(4)
        ->Range(4 << 10, 256 << 20);
  }
  // Several application threads at once, each with its own user event. items_per_second is the total
  // over all threads; per-call latency is threads / items_per_second.
  add("ThreadedRoundTrip", [&env](benchmark::State& s) { sync_round_trip(s, env); })
      ->Threads(1)
      ->Threads(2)
      ->Threads(8);
}

int probe() {
  Env env;
  env.connect();
  char platform[256] = {}, device[256] = {};
  check(clGetPlatformInfo(env.platform, CL_PLATFORM_NAME, sizeof platform, platform, nullptr), "clGetPlatformInfo");
  check(clGetDeviceInfo(env.device, CL_DEVICE_NAME, sizeof device, device, nullptr), "clGetDeviceInfo");
  std::printf("%s | %s\n", platform, device);
  return 0;
}

int round_trips(double seconds) {
  Env env;
  env.connect();
  cl_event event = new_user_event(env);
  event_status(event);  // warm up
  std::printf("ready\n");
  std::fflush(stdout);
  char go[16];
  if (!std::fgets(go, sizeof go, stdin)) return 1;  // the driver went away
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  long long calls = 0;
  // Check the clock every 64 calls: a clock read costs about as much as a native call.
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 64; ++i) event_status(event);
    calls += 64;
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"calls\": %lld, \"seconds\": %.6f}\n", calls, elapsed);
  clSetUserEventStatus(event, CL_COMPLETE);
  clReleaseEvent(event);
  return 0;
}

int idle(double seconds) {
  Env env;
  env.connect();
  event_status(new_user_event(env));  // one real round trip: the connection is up and used
  std::printf("ready\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  return 0;
}

bool take_flag(const char* arg, const char* name, double* value) {
  const size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *value = std::strtod(arg + n + 1, nullptr);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0;
  bool want_round_trips = false, want_idle = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--probe") == 0) return probe();
    if (take_flag(argv[i], "--round-trips", &seconds)) want_round_trips = true;
    if (take_flag(argv[i], "--idle", &seconds)) want_idle = true;
  }
  if (want_round_trips) return round_trips(seconds);
  if (want_idle) return idle(seconds);

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  Env env;
  env.connect();
  env.build();
  register_all(env);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
