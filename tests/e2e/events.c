// Events: profiling info on a CL_QUEUE_PROFILING_ENABLE queue (ordering only), user events gating
// commands (and a failed user event), clSetEventCallback with user data, event status and info,
// markers and barriers with wait lists, and the deprecated clEnqueueMarker / clEnqueueBarrier.
#include "common.h"

static const char* kSrc =
    "__kernel void inc(__global int* p) { p[get_global_id(0)] += 1; }\n"
    "__kernel void spin(__global uint* p, int n) {\n"
    "  uint acc = p[get_global_id(0)];\n"
    "  for (int i = 0; i < n; ++i) acc = acc * 1103515245u + 12345u;\n"
    "  p[get_global_id(0)] = acc;\n"
    "}\n";

typedef struct {
  atomic_int fired;
  atomic_int status;
  cl_event expected_event;
  int magic;
} CallbackData;

static void CL_CALLBACK on_event(cl_event ev, cl_int status, void* user_data) {
  CallbackData* d = user_data;
  // The callback must get back exactly the event and user data it was registered with.
  if (d->magic != 0x5EED || ev != d->expected_event) {
    atomic_store(&d->status, -12345);
  } else {
    atomic_store(&d->status, status);
  }
  atomic_fetch_add(&d->fired, 1);
}

static cl_int status_of(cl_event ev) {
  cl_int st = 0;
  CHECK(clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL));
  return st;
}

int main(void) {
  cl_platform_id platform;
  cl_device_id dev;
  e2e_first_device(&platform, &dev);
  cl_context ctx = e2e_context(dev);
  cl_command_queue q = e2e_queue(ctx, dev, CL_QUEUE_PROFILING_ENABLE);
  cl_int err;
  cl_program prog = e2e_build(ctx, dev, kSrc, "");
  cl_kernel inc = e2e_kernel(prog, "inc");
  cl_kernel spin = e2e_kernel(prog, "spin");
  enum { N = 1024 };
  cl_int zeros[N] = {0}, out[N];
  cl_mem buf = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof zeros, zeros, &err);
  CHECK_ERR(err);
  CHECK(clSetKernelArg(inc, 0, sizeof buf, &buf));
  CHECK(clSetKernelArg(spin, 0, sizeof buf, &buf));
  size_t gws = N;

  // Profiling: queued <= submit <= start <= end, and two consecutive kernels do not overlap on an
  // in-order queue.
  cl_event k1, k2;
  cl_int iters = 2000;
  CHECK(clSetKernelArg(spin, 1, sizeof iters, &iters));
  CHECK(clEnqueueNDRangeKernel(q, spin, 1, NULL, &gws, NULL, 0, NULL, &k1));
  CHECK(clEnqueueNDRangeKernel(q, inc, 1, NULL, &gws, NULL, 0, NULL, &k2));
  CHECK(clWaitForEvents(1, &k2));
  cl_ulong t1[4], t2[4];
  const cl_profiling_info which[4] = {CL_PROFILING_COMMAND_QUEUED, CL_PROFILING_COMMAND_SUBMIT,
                                      CL_PROFILING_COMMAND_START, CL_PROFILING_COMMAND_END};
  for (int i = 0; i < 4; ++i) {
    CHECK(clGetEventProfilingInfo(k1, which[i], sizeof t1[i], &t1[i], NULL));
    CHECK(clGetEventProfilingInfo(k2, which[i], sizeof t2[i], &t2[i], NULL));
  }
  EXPECT(t1[0] <= t1[1] && t1[1] <= t1[2] && t1[2] <= t1[3], "profiling order of kernel 1");
  EXPECT(t2[0] <= t2[1] && t2[1] <= t2[2] && t2[2] <= t2[3], "profiling order of kernel 2");
  EXPECT(t1[3] <= t2[2], "in-order queue: kernel 2 started before kernel 1 ended");
  EXPECT(t1[3] > t1[2], "kernel 1 took no time");
  cl_ulong complete = 0;
  err = clGetEventProfilingInfo(k1, CL_PROFILING_COMMAND_COMPLETE, sizeof complete, &complete, NULL);
  EXPECT(err != CL_SUCCESS || complete >= t1[3], "CL_PROFILING_COMMAND_COMPLETE before END");
  printf("profiling: ordered\n");
  CHECK(clReleaseEvent(k1));
  CHECK(clReleaseEvent(k2));

  // Profiling info on a queue without profiling: CL_PROFILING_INFO_NOT_AVAILABLE.
  cl_command_queue q2 = e2e_queue(ctx, dev, 0);
  cl_event np;
  CHECK(clEnqueueNDRangeKernel(q2, inc, 1, NULL, &gws, NULL, 0, NULL, &np));
  CHECK(clWaitForEvents(1, &np));
  cl_ulong dummy;
  EXPECT_CODE("profiling without the queue property",
              clGetEventProfilingInfo(np, CL_PROFILING_COMMAND_START, sizeof dummy, &dummy, NULL),
              CL_PROFILING_INFO_NOT_AVAILABLE);
  CHECK(clReleaseEvent(np));
  CHECK(clFinish(q2));

  // Event info.
  cl_event w;
  CHECK(clEnqueueWriteBuffer(q, buf, CL_FALSE, 0, sizeof zeros, zeros, 0, NULL, &w));
  CHECK(clWaitForEvents(1, &w));
  cl_command_queue eq;
  cl_context ec;
  cl_command_type ct;
  cl_uint rc;
  CHECK(clGetEventInfo(w, CL_EVENT_COMMAND_QUEUE, sizeof eq, &eq, NULL));
  CHECK(clGetEventInfo(w, CL_EVENT_CONTEXT, sizeof ec, &ec, NULL));
  CHECK(clGetEventInfo(w, CL_EVENT_COMMAND_TYPE, sizeof ct, &ct, NULL));
  CHECK(clRetainEvent(w));
  CHECK(clGetEventInfo(w, CL_EVENT_REFERENCE_COUNT, sizeof rc, &rc, NULL));
  // The reference count is not printed: the implementation may hold its own references for a while.
  printf("event info: queue_ok=%d context_ok=%d type=0x%x status=%d\n", eq == q, ec == ctx, ct, status_of(w));
  EXPECT(eq == q && ec == ctx && ct == CL_COMMAND_WRITE_BUFFER && rc >= 2, "event info mismatch");
  CHECK(clReleaseEvent(w));
  CHECK(clReleaseEvent(w));

  // A user event gates a kernel and a read; nothing runs until it completes.
  cl_event user = clCreateUserEvent(ctx, &err);
  CHECK_ERR(err);
  printf("user event initial status: %d\n", status_of(user));
  EXPECT(status_of(user) == CL_SUBMITTED, "user event starts as %d", status_of(user));
  cl_event gated, read_ev;
  CHECK(clEnqueueNDRangeKernel(q, inc, 1, NULL, &gws, NULL, 1, &user, &gated));
  memset(out, 0xAB, sizeof out);
  CHECK(clEnqueueReadBuffer(q, buf, CL_FALSE, 0, sizeof out, out, 0, NULL, &read_ev));
  e2e_sleep_ms(100);
  EXPECT(status_of(gated) > CL_COMPLETE, "gated kernel ran before its user event completed (status %d)",
         status_of(gated));
  EXPECT(status_of(read_ev) > CL_COMPLETE, "read behind the gated kernel completed early");
  printf("gated kernel before user event: not complete\n");

  CallbackData cbd = {0};
  cbd.magic = 0x5EED;
  cbd.expected_event = read_ev;
  CHECK(clSetEventCallback(read_ev, CL_COMPLETE, on_event, &cbd));
  CallbackData ucb = {0};
  ucb.magic = 0x5EED;
  ucb.expected_event = user;
  CHECK(clSetEventCallback(user, CL_COMPLETE, on_event, &ucb));
  EXPECT(atomic_load(&cbd.fired) == 0, "callback fired before its command completed");

  CHECK(clSetUserEventStatus(user, CL_COMPLETE));
  CHECK(clWaitForEvents(1, &read_ev));
  for (int i = 0; i < N; ++i) EXPECT(out[i] == 1, "gated kernel result: element %d is %d", i, out[i]);
  printf("gated kernel after user event: ok\n");
  EXPECT(e2e_wait_flag(&cbd.fired, 10000), "event callback did not run within 10 s");
  EXPECT(e2e_wait_flag(&ucb.fired, 10000), "user event callback did not run within 10 s");
  EXPECT(atomic_load(&cbd.status) == CL_COMPLETE, "read callback status %d", atomic_load(&cbd.status));
  EXPECT(atomic_load(&ucb.status) == CL_COMPLETE, "user event callback status %d", atomic_load(&ucb.status));
  e2e_sleep_ms(50);
  EXPECT(atomic_load(&cbd.fired) == 1 && atomic_load(&ucb.fired) == 1, "a callback fired more than once");
  printf("event callbacks: fired once with their user data\n");
  // A callback registered on an already complete event still fires.
  CallbackData late = {0};
  late.magic = 0x5EED;
  late.expected_event = read_ev;
  CHECK(clSetEventCallback(read_ev, CL_COMPLETE, on_event, &late));
  EXPECT(e2e_wait_flag(&late.fired, 10000), "callback on a complete event did not run");
  printf("callback on a complete event: fired\n");
  CHECK(clReleaseEvent(gated));
  CHECK(clReleaseEvent(read_ev));
  CHECK(clReleaseEvent(user));

  // A user event set to an error: the gated command does not run successfully.
  cl_event bad = clCreateUserEvent(ctx, &err);
  CHECK_ERR(err);
  cl_event dep;
  CHECK(clEnqueueNDRangeKernel(q2, inc, 1, NULL, &gws, NULL, 1, &bad, &dep));
  CHECK(clSetUserEventStatus(bad, -1));
  err = clWaitForEvents(1, &dep);
  printf("wait on a command behind a failed user event: %s, status negative: %d\n", e2e_err_name(err),
         status_of(dep) < 0);
  EXPECT_CODE("setting a user event's status twice", clSetUserEventStatus(bad, CL_COMPLETE), CL_INVALID_OPERATION);
  CHECK(clReleaseEvent(dep));
  CHECK(clReleaseEvent(bad));

  // Markers and barriers with wait lists, across two queues.
  cl_event a_done, marker, barrier;
  CHECK(clEnqueueNDRangeKernel(q2, inc, 1, NULL, &gws, NULL, 0, NULL, &a_done));
  CHECK(clEnqueueMarkerWithWaitList(q, 1, &a_done, &marker));
  CHECK(clEnqueueBarrierWithWaitList(q, 0, NULL, &barrier));
  CHECK(clEnqueueNDRangeKernel(q, inc, 1, NULL, &gws, NULL, 0, NULL, NULL));
  CHECK(clEnqueueReadBuffer(q, buf, CL_TRUE, 0, sizeof out, out, 0, NULL, NULL));
  EXPECT(status_of(marker) == CL_COMPLETE && status_of(barrier) == CL_COMPLETE, "marker/barrier not complete");
  CHECK(clGetEventInfo(marker, CL_EVENT_COMMAND_TYPE, sizeof ct, &ct, NULL));
  printf("marker type: 0x%x\n", ct);
  CHECK(clGetEventInfo(barrier, CL_EVENT_COMMAND_TYPE, sizeof ct, &ct, NULL));
  printf("barrier type: 0x%x\n", ct);
  for (int i = 0; i < N; ++i) EXPECT(out[i] == 3, "marker/barrier: element %d is %d want 3", i, out[i]);
  printf("marker + barrier with wait list: ok\n");
  CHECK(clReleaseEvent(a_done));
  CHECK(clReleaseEvent(marker));
  CHECK(clReleaseEvent(barrier));

  // Deprecated 1.1 forms: clEnqueueMarker and clEnqueueBarrier. (Not clEnqueueWaitForEvents:
  // PoCL 3.1 aborts the process in it, "unimplemented".)
  cl_event old_marker, k3;
  CHECK(clEnqueueNDRangeKernel(q, inc, 1, NULL, &gws, NULL, 0, NULL, &k3));
  CHECK(clEnqueueBarrier(q));
  CHECK(clEnqueueNDRangeKernel(q, inc, 1, NULL, &gws, NULL, 0, NULL, NULL));
  CHECK(clEnqueueMarker(q, &old_marker));
  CHECK(clWaitForEvents(1, &old_marker));
  CHECK(clEnqueueReadBuffer(q, buf, CL_TRUE, 0, sizeof out, out, 0, NULL, NULL));
  for (int i = 0; i < N; ++i) EXPECT(out[i] == 5, "deprecated marker/barrier: element %d is %d want 5", i, out[i]);
  printf("deprecated marker/barrier: ok\n");
  CHECK(clReleaseEvent(k3));
  CHECK(clReleaseEvent(old_marker));

  // clFlush then clFinish; an empty wait list error.
  CHECK(clFlush(q));
  CHECK(clFinish(q));
  EXPECT_CODE("clWaitForEvents with no events", clWaitForEvents(0, NULL), CL_INVALID_VALUE);

  CHECK(clReleaseMemObject(buf));
  CHECK(clReleaseKernel(inc));
  CHECK(clReleaseKernel(spin));
  CHECK(clReleaseProgram(prog));
  CHECK(clReleaseCommandQueue(q2));
  CHECK(clReleaseCommandQueue(q));
  CHECK(clReleaseContext(ctx));
  e2e_pass();
}
