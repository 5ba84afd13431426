// Callbacks other than event callbacks: the context's pfn_notify (registration and user data; the
// platform decides whether it ever reports anything, so it is only checked if it runs), the
// clBuildProgram / clCompileProgram / clLinkProgram notify callbacks, memory-object destructor
// callbacks (several on one object run in reverse registration order), and the context destructor
// callback (OpenCL 3.0). Each checks that its user data came back and that it ran, waiting bounded:
// through a remoting layer callbacks arrive asynchronously.
#include "common.h"

typedef struct {
  int magic;
  atomic_int fired;
  atomic_int bad;  // set when the callback saw the wrong object or user data
  void* expected;  // the object the callback must get back
  atomic_int order[4];
  atomic_int norder;
} Data;

static void data_init(Data* d, void* expected) {
  memset(d, 0, sizeof *d);
  d->magic = 0xC0FFEE;
  d->expected = expected;
}

static void CL_CALLBACK ctx_notify(const char* errinfo, const void* private_info, size_t cb, void* user_data) {
  Data* d = user_data;
  if (d->magic != 0xC0FFEE || errinfo == NULL) atomic_store(&d->bad, 1);
  atomic_fetch_add(&d->fired, 1);
}

static void CL_CALLBACK build_notify(cl_program p, void* user_data) {
  Data* d = user_data;
  if (d->magic != 0xC0FFEE || (void*)p != d->expected) atomic_store(&d->bad, 1);
  atomic_fetch_add(&d->fired, 1);
}

typedef struct {
  Data* d;
  int tag;
} Tagged;

static void CL_CALLBACK mem_destructor(cl_mem m, void* user_data) {
  Tagged* t = user_data;
  if (t->d->magic != 0xC0FFEE || (void*)m != t->d->expected) atomic_store(&t->d->bad, 1);
  int slot = atomic_fetch_add(&t->d->norder, 1);
  if (slot < 4) atomic_store(&t->d->order[slot], t->tag);
  atomic_fetch_add(&t->d->fired, 1);
}

static void CL_CALLBACK ctx_destructor(cl_context c, void* user_data) {
  Data* d = user_data;
  if (d->magic != 0xC0FFEE || (void*)c != d->expected) atomic_store(&d->bad, 1);
  atomic_fetch_add(&d->fired, 1);
}

static const char* kSrc = "__kernel void k(__global int* p) { p[0] = 7; }\n";
static const char* kLib = "int seven(void) { return 7; }\n";
static const char* kMain = "int seven(void);\n__kernel void k(__global int* p) { p[0] = seven(); }\n";

int main(void) {
  cl_platform_id platform;
  cl_device_id dev;
  e2e_first_device(&platform, &dev);
  cl_int err;

  // Context notify: registered with user data; the context works.
  Data notify;
  data_init(&notify, NULL);
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};
  cl_context ctx = clCreateContext(props, 1, &dev, ctx_notify, &notify, &err);
  CHECK_ERR(err);
  printf("context with notify callback: created\n");
  cl_command_queue q = e2e_queue(ctx, dev, 0);

  // Build callback: must run once, with the program and the user data.
  cl_program p = clCreateProgramWithSource(ctx, 1, &kSrc, NULL, &err);
  CHECK_ERR(err);
  Data build;
  data_init(&build, p);
  err = clBuildProgram(p, 1, &dev, "", build_notify, &build);
  EXPECT(err == CL_SUCCESS, "clBuildProgram with a callback: %s", e2e_err_name(err));
  EXPECT(e2e_wait_flag(&build.fired, 30000), "build callback did not run within 30 s");
  // The build is done by the time the callback runs.
  cl_build_status bs;
  CHECK(clGetProgramBuildInfo(p, dev, CL_PROGRAM_BUILD_STATUS, sizeof bs, &bs, NULL));
  e2e_sleep_ms(20);
  EXPECT(!atomic_load(&build.bad) && atomic_load(&build.fired) == 1, "build callback: wrong program/user data or ran %d times",
         atomic_load(&build.fired));
  printf("build callback: ran once, status %d\n", bs);

  // Compile and link callbacks.
  cl_program lib = clCreateProgramWithSource(ctx, 1, &kLib, NULL, &err);
  CHECK_ERR(err);
  cl_program mainp = clCreateProgramWithSource(ctx, 1, &kMain, NULL, &err);
  CHECK_ERR(err);
  Data comp;
  data_init(&comp, lib);
  CHECK(clCompileProgram(lib, 1, &dev, "", 0, NULL, NULL, build_notify, &comp));
  EXPECT(e2e_wait_flag(&comp.fired, 30000) && !atomic_load(&comp.bad), "compile callback did not run correctly");
  CHECK(clCompileProgram(mainp, 1, &dev, "", 0, NULL, NULL, NULL, NULL));
  Data link;
  data_init(&link, NULL);  // the linked program is not known until clLinkProgram returns
  cl_program both[2] = {mainp, lib};
  cl_program linked = clLinkProgram(ctx, 1, &dev, "", 2, both, build_notify, &link, &err);
  CHECK_ERR(err);
  EXPECT(e2e_wait_flag(&link.fired, 30000), "link callback did not run within 30 s");
  printf("compile + link callbacks: ran\n");
  cl_kernel k = e2e_kernel(linked, "k");
  cl_mem out = clCreateBuffer(ctx, CL_MEM_READ_WRITE, sizeof(cl_int), NULL, &err);
  CHECK_ERR(err);
  CHECK(clSetKernelArg(k, 0, sizeof out, &out));
  size_t one = 1;
  CHECK(clEnqueueNDRangeKernel(q, k, 1, NULL, &one, NULL, 0, NULL, NULL));
  cl_int seven = 0;
  CHECK(clEnqueueReadBuffer(q, out, CL_TRUE, 0, sizeof seven, &seven, 0, NULL, NULL));
  EXPECT(seven == 7, "linked kernel wrote %d", seven);

  // Memory-object destructor callbacks: none before release, all after, in reverse order.
  cl_mem m = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 4096, NULL, &err);
  CHECK_ERR(err);
  Data mem;
  data_init(&mem, m);
  Tagged t1 = {&mem, 1}, t2 = {&mem, 2};
  CHECK(clSetMemObjectDestructorCallback(m, mem_destructor, &t1));
  CHECK(clSetMemObjectDestructorCallback(m, mem_destructor, &t2));
  CHECK(clRetainMemObject(m));
  CHECK(clReleaseMemObject(m));
  e2e_sleep_ms(50);
  EXPECT(atomic_load(&mem.fired) == 0, "destructor callback ran while the object was alive");
  CHECK(clReleaseMemObject(m));
  for (int waited = 0; waited < 10000 && atomic_load(&mem.fired) < 2; waited += 5) e2e_sleep_ms(5);
  EXPECT(atomic_load(&mem.fired) == 2, "mem destructor callbacks: %d of 2 ran", atomic_load(&mem.fired));
  EXPECT(!atomic_load(&mem.bad), "mem destructor callback: wrong object or user data");
  printf("mem destructor callbacks: order %d %d\n", atomic_load(&mem.order[0]), atomic_load(&mem.order[1]));
  EXPECT(atomic_load(&mem.order[0]) == 2 && atomic_load(&mem.order[1]) == 1, "destructor callbacks not in reverse order");

  // Release everything; the context destructor callback runs when the context goes.
  CHECK(clReleaseMemObject(out));
  CHECK(clReleaseKernel(k));
  CHECK(clReleaseProgram(linked));
  CHECK(clReleaseProgram(mainp));
  CHECK(clReleaseProgram(lib));
  CHECK(clReleaseProgram(p));
  CHECK(clFinish(q));
  CHECK(clReleaseCommandQueue(q));
  Data cdtor;
  data_init(&cdtor, ctx);
  err = clSetContextDestructorCallback(ctx, ctx_destructor, &cdtor);
  printf("clSetContextDestructorCallback: %s\n", e2e_err_name(err));
  CHECK(err);
  CHECK(clReleaseContext(ctx));
  EXPECT(e2e_wait_flag(&cdtor.fired, 10000), "context destructor callback did not run within 10 s");
  EXPECT(!atomic_load(&cdtor.bad), "context destructor callback: wrong context or user data");
  printf("context destructor callback: ran\n");

  // The notify callback is only for errors the platform chooses to report: if it ran, its user
  // data must have been right. Not printed, since whether it runs is up to the platform.
  EXPECT(!atomic_load(&notify.bad), "context notify callback: wrong user data or NULL errinfo");
  e2e_pass();
}
