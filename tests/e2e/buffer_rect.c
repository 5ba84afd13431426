// Rectangular transfers (clEnqueueReadBufferRect / WriteBufferRect / CopyBufferRect with row and
// slice pitches on both sides) and sub-buffers (creation, info, reads and writes through them, a
// kernel on a sub-buffer, an invalid sub-buffer region).
#include "common.h"

// A 3D box of bytes: W x H x D, with the buffer side's pitches larger than the box.
#define W 24
#define H 10
#define D 3
#define BROW 32            // buffer row pitch
#define BSLICE (BROW * 12)  // buffer slice pitch
#define BSIZE (BSLICE * 4)

static const char* kSrc =
    "__kernel void add(__global int* p, int v) { p[get_global_id(0)] += v; }\n";

int main(void) {
  cl_platform_id platform;
  cl_device_id dev;
  e2e_first_device(&platform, &dev);
  cl_context ctx = e2e_context(dev);
  cl_command_queue q = e2e_queue(ctx, dev, 0);
  cl_int err;

  // Host side of the box: tightly packed except for a host row pitch of W+3.
  enum { HROW = W + 3, HSLICE = HROW * H };
  static unsigned char host[HSLICE * D], back[HSLICE * D], whole[BSIZE];
  for (size_t i = 0; i < sizeof host; ++i) host[i] = (unsigned char)(i * 7 + 3);

  cl_mem buf = clCreateBuffer(ctx, CL_MEM_READ_WRITE, BSIZE, NULL, &err);
  CHECK_ERR(err);
  unsigned char zero = 0xEE;
  CHECK(clEnqueueFillBuffer(q, buf, &zero, 1, 0, BSIZE, 0, NULL, NULL));

  size_t buf_origin[3] = {4, 1, 1}, host_origin[3] = {0, 0, 0}, region[3] = {W, H, D};
  CHECK(clEnqueueWriteBufferRect(q, buf, CL_TRUE, buf_origin, host_origin, region, BROW, BSLICE, HROW, HSLICE, host, 0,
                                 NULL, NULL));
  CHECK(clEnqueueReadBuffer(q, buf, CL_TRUE, 0, BSIZE, whole, 0, NULL, NULL));
  // Check every byte: inside the box it is the host byte, outside it is the fill value.
  for (size_t z = 0; z < 4; ++z)
    for (size_t y = 0; y < 12; ++y)
      for (size_t x = 0; x < BROW; ++x) {
        unsigned char got = whole[z * BSLICE + y * BROW + x];
        int inside = x >= 4 && x < 4 + W && y >= 1 && y < 1 + H && z >= 1 && z < 1 + D;
        unsigned char want = inside ? host[(z - 1) * HSLICE + (y - 1) * HROW + (x - 4)] : 0xEE;
        EXPECT(got == want, "write rect: byte (%zu,%zu,%zu) is %u, want %u", x, y, z, got, want);
      }
  printf("write rect: crc32=%08x\n", e2e_crc32(whole, sizeof whole));

  // Read the box back into a different host origin.
  memset(back, 0, sizeof back);
  size_t host_origin2[3] = {1, 0, 0};
  size_t region2[3] = {W - 1, H, D};
  CHECK(clEnqueueReadBufferRect(q, buf, CL_TRUE, buf_origin, host_origin2, region2, BROW, BSLICE, HROW, HSLICE, back, 0,
                                NULL, NULL));
  for (size_t z = 0; z < D; ++z)
    for (size_t y = 0; y < H; ++y)
      for (size_t x = 0; x < HROW; ++x) {
        unsigned char got = back[z * HSLICE + y * HROW + x];
        unsigned char want = (x >= 1 && x < W) ? host[z * HSLICE + y * HROW + x - 1] : 0;
        EXPECT(got == want, "read rect: byte (%zu,%zu,%zu) is %u, want %u", x, y, z, got, want);
      }
  printf("read rect: crc32=%08x\n", e2e_crc32(back, sizeof back));

  // Read rect with zero pitches (meaning: tightly packed) on the host side.
  static unsigned char packed[W * H * D];
  CHECK(clEnqueueReadBufferRect(q, buf, CL_TRUE, buf_origin, host_origin, region, BROW, BSLICE, 0, 0, packed, 0, NULL,
                                NULL));
  for (size_t z = 0; z < D; ++z)
    for (size_t y = 0; y < H; ++y)
      EXPECT(memcmp(packed + (z * H + y) * W, host + z * HSLICE + y * HROW, W) == 0, "packed read rect row %zu,%zu", y, z);
  printf("read rect packed: crc32=%08x\n", e2e_crc32(packed, sizeof packed));

  // Copy rect inside the device: the box to another buffer with different pitches, 2D region.
  cl_mem dst = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 64 * 16, NULL, &err);
  CHECK_ERR(err);
  unsigned char ff = 0x11;
  CHECK(clEnqueueFillBuffer(q, dst, &ff, 1, 0, 64 * 16, 0, NULL, NULL));
  size_t src_origin[3] = {4, 1, 2}, dst_origin[3] = {8, 2, 0}, cregion[3] = {W, H, 1};
  CHECK(clEnqueueCopyBufferRect(q, buf, dst, src_origin, dst_origin, cregion, BROW, BSLICE, 64, 64 * 16, 0, NULL, NULL));
  static unsigned char dback[64 * 16];
  CHECK(clEnqueueReadBuffer(q, dst, CL_TRUE, 0, sizeof dback, dback, 0, NULL, NULL));
  for (size_t y = 0; y < 16; ++y)
    for (size_t x = 0; x < 64; ++x) {
      int inside = x >= 8 && x < 8 + W && y >= 2 && y < 2 + H;
      unsigned char want = inside ? host[1 * HSLICE + (y - 2) * HROW + (x - 8)] : 0x11;
      EXPECT(dback[y * 64 + x] == want, "copy rect: byte (%zu,%zu)", x, y);
    }
  printf("copy rect: crc32=%08x\n", e2e_crc32(dback, sizeof dback));

  // Sub-buffers. The origin must be aligned to CL_DEVICE_MEM_BASE_ADDR_ALIGN (bits).
  cl_uint align_bits = 0;
  CHECK(clGetDeviceInfo(dev, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits, NULL));
  size_t align = align_bits / 8;
  size_t nints = 4 * align / sizeof(int);
  int* ints = calloc(nints, sizeof(int));
  for (size_t i = 0; i < nints; ++i) ints[i] = (int)i;
  cl_mem parent = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, nints * sizeof(int), ints, &err);
  CHECK_ERR(err);
  cl_buffer_region r = {align, align};
  cl_mem sub = clCreateSubBuffer(parent, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &r, &err);
  CHECK_ERR(err);
  size_t off = 0, sz = 0;
  cl_mem assoc = NULL;
  CHECK(clGetMemObjectInfo(sub, CL_MEM_OFFSET, sizeof off, &off, NULL));
  CHECK(clGetMemObjectInfo(sub, CL_MEM_SIZE, sizeof sz, &sz, NULL));
  CHECK(clGetMemObjectInfo(sub, CL_MEM_ASSOCIATED_MEMOBJECT, sizeof assoc, &assoc, NULL));
  EXPECT(off == align && sz == align && assoc == parent, "sub-buffer info: offset %zu size %zu parent %d", off, sz,
         assoc == parent);
  printf("sub-buffer info: offset=align size=align parent=ok\n");

  int first = -1;
  CHECK(clEnqueueReadBuffer(q, sub, CL_TRUE, 0, sizeof first, &first, 0, NULL, NULL));
  EXPECT(first == (int)(align / sizeof(int)), "sub-buffer read: first element %d", first);
  int forty = 40;
  CHECK(clEnqueueWriteBuffer(q, sub, CL_TRUE, sizeof(int), sizeof forty, &forty, 0, NULL, NULL));

  // A kernel on the sub-buffer only touches its range.
  cl_program prog = e2e_build(ctx, dev, kSrc, "");
  cl_kernel k = e2e_kernel(prog, "add");
  int v = 1000;
  CHECK(clSetKernelArg(k, 0, sizeof sub, &sub));
  CHECK(clSetKernelArg(k, 1, sizeof v, &v));
  size_t gws = align / sizeof(int);
  CHECK(clEnqueueNDRangeKernel(q, k, 1, NULL, &gws, NULL, 0, NULL, NULL));
  CHECK(clEnqueueReadBuffer(q, parent, CL_TRUE, 0, nints * sizeof(int), ints, 0, NULL, NULL));
  size_t lo = align / sizeof(int), hi = 2 * align / sizeof(int);
  for (size_t i = 0; i < nints; ++i) {
    int want = (int)i;
    if (i == lo + 1) want = 40;
    if (i >= lo && i < hi) want += 1000;
    EXPECT(ints[i] == want, "sub-buffer kernel: parent element %zu is %d, want %d", i, ints[i], want);
  }
  printf("sub-buffer kernel: crc32=%08x\n", e2e_crc32(ints, nints * sizeof(int)));

  // Errors: a region past the parent's end, and a misaligned origin.
  cl_buffer_region bad = {0, nints * sizeof(int) + 4};
  cl_mem none = clCreateSubBuffer(parent, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &bad, &err);
  printf("sub-buffer past end: %s\n", e2e_err_name(err));
  EXPECT(none == NULL && err == CL_INVALID_VALUE, "sub-buffer past end accepted");
  cl_buffer_region mis = {4, 16};
  none = clCreateSubBuffer(parent, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &mis, &err);
  printf("sub-buffer misaligned: %s\n", e2e_err_name(err));
  EXPECT(none == NULL && err == CL_MISALIGNED_SUB_BUFFER_OFFSET, "misaligned sub-buffer accepted");

  // Releasing the parent first: the sub-buffer keeps it alive.
  CHECK(clReleaseMemObject(parent));
  CHECK(clEnqueueReadBuffer(q, sub, CL_TRUE, sizeof(int), sizeof first, &first, 0, NULL, NULL));
  EXPECT(first == 1040, "sub-buffer after parent release: %d", first);
  printf("sub-buffer outlives parent handle: ok\n");

  free(ints);
  CHECK(clReleaseMemObject(sub));
  CHECK(clReleaseKernel(k));
  CHECK(clReleaseProgram(prog));
  CHECK(clReleaseMemObject(dst));
  CHECK(clReleaseMemObject(buf));
  CHECK(clReleaseCommandQueue(q));
  CHECK(clReleaseContext(ctx));
  e2e_pass();
}
