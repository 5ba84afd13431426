// Large blocking reads and writes (through remora on one host these take the direct path,
// apis/opencl/guest/transfer.cpp): whole buffers, offsets, sub-buffers, wait lists, ordering with
// kernels and non-blocking transfers, reads into mapped and freshly allocated memory, and the error
// codes of invalid ones (which the direct path must leave to the vendor).
#include "common.h"

#define BIG (4u << 20)  // bytes: above remora's direct-transfer threshold

static void fill(unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i) p[i] = (unsigned char)((i * 2654435761u) >> 13 ^ seed);
}

static void expect_fill(const unsigned char* p, size_t n, unsigned seed, size_t from, const char* what) {
  for (size_t i = 0; i < n; ++i) {
    unsigned char want = (unsigned char)(((i + from) * 2654435761u) >> 13 ^ seed);
    if (p[i] != want) e2e_fail("%s: byte %zu is %u, want %u", what, i, p[i], want);
  }
}

static const char* kSrc =
    "__kernel void add1(__global uchar* p) { size_t i = get_global_id(0); p[i] = (uchar)(p[i] + 1); }\n";

int main(void) {
  cl_platform_id platform;
  cl_device_id dev;
  e2e_first_device(&platform, &dev);
  cl_context ctx = e2e_context(dev);
  cl_command_queue q = e2e_queue(ctx, dev, 0);
  cl_int err;
  unsigned char* host = malloc(BIG);
  unsigned char* back = malloc(BIG);
  EXPECT(host && back, "out of memory");

  // Whole buffer, blocking both ways.
  cl_mem a = clCreateBuffer(ctx, CL_MEM_READ_WRITE, BIG, NULL, &err);
  CHECK_ERR(err);
  fill(host, BIG, 1);
  CHECK(clEnqueueWriteBuffer(q, a, CL_TRUE, 0, BIG, host, 0, NULL, NULL));
  memset(back, 0, BIG);
  CHECK(clEnqueueReadBuffer(q, a, CL_TRUE, 0, BIG, back, 0, NULL, NULL));
  expect_fill(back, BIG, 1, 0, "whole");
  printf("whole: crc32=%08x\n", e2e_crc32(back, BIG));

  // At an offset, into memory never touched before (the reader's pages fault in during the read).
  const size_t off = 12345, len = BIG / 2;
  fill(host, len, 2);
  CHECK(clEnqueueWriteBuffer(q, a, CL_TRUE, off, len, host, 0, NULL, NULL));
  unsigned char* fresh = malloc(BIG);
  EXPECT(fresh != NULL, "out of memory");
  CHECK(clEnqueueReadBuffer(q, a, CL_TRUE, 0, BIG, fresh, 0, NULL, NULL));
  expect_fill(fresh + off, len, 2, 0, "offset write");
  expect_fill(fresh, off, 1, 0, "before the offset write");
  expect_fill(fresh + off + len, BIG - off - len, 1, off + len, "after the offset write");
  printf("offset: crc32=%08x\n", e2e_crc32(fresh, BIG));
  free(fresh);

  // A sub-buffer (origin aligned as the device wants).
  cl_uint align_bits = 0;
  CHECK(clGetDeviceInfo(dev, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits, NULL));
  cl_buffer_region region = {(align_bits / 8) * 16, BIG / 2};
  cl_mem sub = clCreateSubBuffer(a, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region, &err);
  CHECK_ERR(err);
  fill(host, region.size, 3);
  CHECK(clEnqueueWriteBuffer(q, sub, CL_TRUE, 0, region.size, host, 0, NULL, NULL));
  CHECK(clEnqueueReadBuffer(q, a, CL_TRUE, region.origin, region.size, back, 0, NULL, NULL));
  expect_fill(back, region.size, 3, 0, "sub-buffer write");
  CHECK(clEnqueueReadBuffer(q, sub, CL_TRUE, 0, region.size, back, 0, NULL, NULL));
  expect_fill(back, region.size, 3, 0, "sub-buffer read");
  printf("sub-buffer: crc32=%08x\n", e2e_crc32(back, region.size));

  // Ordering with a kernel and with non-blocking transfers on the same queue.
  cl_program prog = e2e_build(ctx, dev, kSrc, "");
  cl_kernel k = e2e_kernel(prog, "add1");
  fill(host, BIG, 4);
  CHECK(clEnqueueWriteBuffer(q, a, CL_FALSE, 0, BIG, host, 0, NULL, NULL));
  CHECK(clSetKernelArg(k, 0, sizeof a, &a));
  size_t gsize = BIG;
  CHECK(clEnqueueNDRangeKernel(q, k, 1, NULL, &gsize, NULL, 0, NULL, NULL));
  CHECK(clEnqueueReadBuffer(q, a, CL_TRUE, 0, BIG, back, 0, NULL, NULL));
  for (size_t i = 0; i < BIG; ++i) host[i] = (unsigned char)(host[i] + 1);
  EXPECT(memcmp(back, host, BIG) == 0, "kernel then blocking read: wrong data");
  fill(host, BIG, 5);
  CHECK(clEnqueueWriteBuffer(q, a, CL_TRUE, 0, BIG, host, 0, NULL, NULL));
  CHECK(clEnqueueNDRangeKernel(q, k, 1, NULL, &gsize, NULL, 0, NULL, NULL));
  memset(back, 0, BIG);
  cl_event nb;
  CHECK(clEnqueueReadBuffer(q, a, CL_FALSE, 0, BIG, back, 0, NULL, &nb));
  CHECK(clWaitForEvents(1, &nb));
  CHECK(clReleaseEvent(nb));
  for (size_t i = 0; i < BIG; ++i) host[i] = (unsigned char)(host[i] + 1);
  EXPECT(memcmp(back, host, BIG) == 0, "blocking write, kernel, non-blocking read: wrong data");
  printf("ordering: crc32=%08x\n", e2e_crc32(back, BIG));

  // A wait list (a completed user event and a marker).
  cl_event ue = clCreateUserEvent(ctx, &err);
  CHECK_ERR(err);
  CHECK(clSetUserEventStatus(ue, CL_COMPLETE));
  cl_event marker;
  CHECK(clEnqueueMarkerWithWaitList(q, 0, NULL, &marker));
  cl_event waits[2] = {ue, marker};
  fill(host, BIG, 6);
  CHECK(clEnqueueWriteBuffer(q, a, CL_TRUE, 0, BIG, host, 2, waits, NULL));
  CHECK(clEnqueueReadBuffer(q, a, CL_TRUE, 0, BIG, back, 2, waits, NULL));
  expect_fill(back, BIG, 6, 0, "with a wait list");
  printf("wait list: crc32=%08x\n", e2e_crc32(back, BIG));

  // A blocking write that asks for its event: the event is the write's.
  cl_event we;
  CHECK(clEnqueueWriteBuffer(q, a, CL_TRUE, 0, BIG, host, 0, NULL, &we));
  cl_command_type type = 0;
  CHECK(clGetEventInfo(we, CL_EVENT_COMMAND_TYPE, sizeof type, &type, NULL));
  EXPECT(type == CL_COMMAND_WRITE_BUFFER, "write event: command type %u", type);
  printf("write event type: %u\n", type);
  CHECK(clReleaseEvent(we));

  // Reading into memory the application mapped from another buffer (guest memory either way).
  cl_mem m = clCreateBuffer(ctx, CL_MEM_READ_WRITE, BIG, NULL, &err);
  CHECK_ERR(err);
  void* mapped = clEnqueueMapBuffer(q, m, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, 0, BIG, 0, NULL, NULL, &err);
  CHECK_ERR(err);
  CHECK(clEnqueueReadBuffer(q, a, CL_TRUE, 0, BIG, mapped, 0, NULL, NULL));
  CHECK(clEnqueueUnmapMemObject(q, m, mapped, 0, NULL, NULL));
  CHECK(clEnqueueReadBuffer(q, m, CL_TRUE, 0, BIG, back, 0, NULL, NULL));
  expect_fill(back, BIG, 6, 0, "read into a mapping, then unmapped");
  printf("through a mapping: crc32=%08x\n", e2e_crc32(back, BIG));

  // Non-blocking transfers behind a command that waits on a user event the application sets only
  // afterwards: they return at once (remora may complete a non-blocking transfer early only when the
  // queue lets it) and still run in order.
  cl_event gate = clCreateUserEvent(ctx, &err);
  CHECK_ERR(err);
  CHECK(clEnqueueMarkerWithWaitList(q, 1, &gate, NULL));
  fill(host, BIG, 7);
  CHECK(clEnqueueWriteBuffer(q, a, CL_FALSE, 0, BIG, host, 0, NULL, NULL));
  CHECK(clEnqueueNDRangeKernel(q, k, 1, NULL, &gsize, NULL, 0, NULL, NULL));
  memset(back, 0, BIG);
  CHECK(clEnqueueReadBuffer(q, a, CL_FALSE, 0, BIG, back, 0, NULL, NULL));
  EXPECT(back[0] == 0, "a non-blocking read behind a closed gate completed");
  CHECK(clSetUserEventStatus(gate, CL_COMPLETE));
  CHECK(clFinish(q));
  CHECK(clReleaseEvent(gate));
  for (size_t i = 0; i < BIG; ++i) host[i] = (unsigned char)(host[i] + 1);
  EXPECT(memcmp(back, host, BIG) == 0, "gated non-blocking write, kernel, non-blocking read: wrong data");
  printf("gated: crc32=%08x\n", e2e_crc32(back, BIG));
  fill(host, BIG, 6);  // what the error cases below expect the buffer to hold
  CHECK(clEnqueueWriteBuffer(q, a, CL_TRUE, 0, BIG, host, 0, NULL, NULL));

  // Errors: each must be the vendor's own.
  EXPECT_CODE("write past the end", clEnqueueWriteBuffer(q, a, CL_TRUE, 1, BIG, host, 0, NULL, NULL),
              CL_INVALID_VALUE);
  EXPECT_CODE("read past the end", clEnqueueReadBuffer(q, a, CL_TRUE, BIG / 2, BIG, back, 0, NULL, NULL),
              CL_INVALID_VALUE);
  EXPECT_CODE("write from NULL", clEnqueueWriteBuffer(q, a, CL_TRUE, 0, BIG, NULL, 0, NULL, NULL),
              CL_INVALID_VALUE);
  EXPECT_FAILURE("write with a NULL wait list", clEnqueueWriteBuffer(q, a, CL_TRUE, 0, BIG, host, 1, NULL, NULL));
  cl_mem ro = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_HOST_READ_ONLY, BIG, NULL, &err);
  CHECK_ERR(err);
  EXPECT_CODE("write to HOST_READ_ONLY", clEnqueueWriteBuffer(q, ro, CL_TRUE, 0, BIG, host, 0, NULL, NULL),
              CL_INVALID_OPERATION);
  CHECK(clEnqueueReadBuffer(q, ro, CL_TRUE, 0, BIG, back, 0, NULL, NULL));
  cl_mem wo = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_HOST_WRITE_ONLY, BIG, NULL, &err);
  CHECK_ERR(err);
  CHECK(clEnqueueWriteBuffer(q, wo, CL_TRUE, 0, BIG, host, 0, NULL, NULL));
  EXPECT_CODE("read from HOST_WRITE_ONLY", clEnqueueReadBuffer(q, wo, CL_TRUE, 0, BIG, back, 0, NULL, NULL),
              CL_INVALID_OPERATION);
  // The data of the last successful write is still there.
  CHECK(clEnqueueReadBuffer(q, a, CL_TRUE, 0, BIG, back, 0, NULL, NULL));
  expect_fill(back, BIG, 6, 0, "after the failed writes");

  clReleaseEvent(ue);
  clReleaseEvent(marker);
  clReleaseMemObject(wo);
  clReleaseMemObject(ro);
  clReleaseMemObject(m);
  clReleaseKernel(k);
  clReleaseProgram(prog);
  clReleaseMemObject(sub);
  clReleaseMemObject(a);
  clReleaseCommandQueue(q);
  clReleaseContext(ctx);
  free(host);
  free(back);
  e2e_pass();
  return 0;
}
