// Images and samplers: clGetSupportedImageFormats, 2D image write/read (with a row pitch), image
// info, clEnqueueFillImage, copy image <-> buffer, copy image -> image, map image, a kernel reading
// with a sampler (nearest, clamp-to-edge, unnormalized coordinates) and writing an image, sampler info.
#include "common.h"

#define IW 16
#define IH 8

static const char* kSrc =
    "__kernel void shift(__read_only image2d_t src, sampler_t s, __write_only image2d_t dst) {\n"
    "  int2 p = (int2)(get_global_id(0), get_global_id(1));\n"
    "  // One pixel to the left; clamp-to-edge repeats column 0 at x = -1.\n"
    "  uint4 v = read_imageui(src, s, (float2)(p.x - 1 + 0.5f, p.y + 0.5f));\n"
    "  write_imageui(dst, p, v + (uint4)(1, 2, 3, 4));\n"
    "}\n";

static unsigned char px(int x, int y, int c) { return (unsigned char)(x * 13 + y * 29 + c * 7); }

int main(void) {
  cl_platform_id platform;
  cl_device_id dev;
  e2e_first_device(&platform, &dev);
  cl_bool has_images = CL_FALSE;
  CHECK(clGetDeviceInfo(dev, CL_DEVICE_IMAGE_SUPPORT, sizeof has_images, &has_images, NULL));
  if (!has_images) {
    printf("images: not supported by device\n");
    e2e_pass();
  }
  cl_context ctx = e2e_context(dev);
  cl_command_queue q = e2e_queue(ctx, dev, 0);
  cl_int err;

  cl_uint nfmt = 0;
  CHECK(clGetSupportedImageFormats(ctx, CL_MEM_READ_WRITE, CL_MEM_OBJECT_IMAGE2D, 0, NULL, &nfmt));
  EXPECT(nfmt > 0, "no 2D image formats");
  cl_image_format* fmts = calloc(nfmt, sizeof *fmts);
  cl_uint nfmt2 = 0;
  CHECK(clGetSupportedImageFormats(ctx, CL_MEM_READ_WRITE, CL_MEM_OBJECT_IMAGE2D, nfmt, fmts, &nfmt2));
  EXPECT(nfmt2 == nfmt, "format count changed: %u then %u", nfmt, nfmt2);
  printf("2D read-write formats: %u\n", nfmt);
  int have_rgba8 = 0;
  for (cl_uint i = 0; i < nfmt; ++i) {
    printf("  format order=0x%x type=0x%x\n", fmts[i].image_channel_order, fmts[i].image_channel_data_type);
    if (fmts[i].image_channel_order == CL_RGBA && fmts[i].image_channel_data_type == CL_UNSIGNED_INT8) have_rgba8 = 1;
  }
  free(fmts);
  EXPECT(have_rgba8, "CL_RGBA/CL_UNSIGNED_INT8 is not supported");

  cl_image_format fmt = {CL_RGBA, CL_UNSIGNED_INT8};
  cl_image_desc desc;
  memset(&desc, 0, sizeof desc);
  desc.image_type = CL_MEM_OBJECT_IMAGE2D;
  desc.image_width = IW;
  desc.image_height = IH;
  cl_mem img = clCreateImage(ctx, CL_MEM_READ_WRITE, &fmt, &desc, NULL, &err);
  CHECK_ERR(err);

  // Image info.
  size_t w, h, elem, row;
  cl_image_format got_fmt;
  CHECK(clGetImageInfo(img, CL_IMAGE_WIDTH, sizeof w, &w, NULL));
  CHECK(clGetImageInfo(img, CL_IMAGE_HEIGHT, sizeof h, &h, NULL));
  CHECK(clGetImageInfo(img, CL_IMAGE_ELEMENT_SIZE, sizeof elem, &elem, NULL));
  CHECK(clGetImageInfo(img, CL_IMAGE_ROW_PITCH, sizeof row, &row, NULL));
  CHECK(clGetImageInfo(img, CL_IMAGE_FORMAT, sizeof got_fmt, &got_fmt, NULL));
  printf("image info: %zux%zu element=%zu order=0x%x type=0x%x row_pitch_ok=%d\n", w, h, elem,
         got_fmt.image_channel_order, got_fmt.image_channel_data_type, row >= IW * 4);
  EXPECT(w == IW && h == IH && elem == 4, "image info mismatch");
  cl_mem_object_type mt;
  CHECK(clGetMemObjectInfo(img, CL_MEM_TYPE, sizeof mt, &mt, NULL));
  EXPECT(mt == CL_MEM_OBJECT_IMAGE2D, "CL_MEM_TYPE 0x%x", mt);

  // Write with an input row pitch larger than the row, read back tightly packed.
  enum { PITCH = IW * 4 + 12 };
  static unsigned char src[PITCH * IH], back[IW * IH * 4];
  for (int y = 0; y < IH; ++y)
    for (int x = 0; x < IW; ++x)
      for (int c = 0; c < 4; ++c) src[y * PITCH + x * 4 + c] = px(x, y, c);
  size_t origin[3] = {0, 0, 0}, region[3] = {IW, IH, 1};
  CHECK(clEnqueueWriteImage(q, img, CL_TRUE, origin, region, PITCH, 0, src, 0, NULL, NULL));
  CHECK(clEnqueueReadImage(q, img, CL_TRUE, origin, region, 0, 0, back, 0, NULL, NULL));
  for (int y = 0; y < IH; ++y)
    for (int x = 0; x < IW; ++x)
      for (int c = 0; c < 4; ++c)
        EXPECT(back[(y * IW + x) * 4 + c] == px(x, y, c), "write/read image: pixel (%d,%d) channel %d", x, y, c);
  printf("write/read image: crc32=%08x\n", e2e_crc32(back, sizeof back));

  // Partial read of a 4x2 region at (3,5).
  unsigned char part[4 * 2 * 4];
  size_t porigin[3] = {3, 5, 0}, pregion[3] = {4, 2, 1};
  CHECK(clEnqueueReadImage(q, img, CL_TRUE, porigin, pregion, 0, 0, part, 0, NULL, NULL));
  EXPECT(part[0] == px(3, 5, 0) && part[4 * 4 * 2 - 1] == px(6, 6, 3), "partial image read");
  printf("partial read: crc32=%08x\n", e2e_crc32(part, sizeof part));

  // Image -> buffer -> image.
  cl_mem buf = clCreateBuffer(ctx, CL_MEM_READ_WRITE, IW * IH * 4, NULL, &err);
  CHECK_ERR(err);
  CHECK(clEnqueueCopyImageToBuffer(q, img, buf, origin, region, 0, 0, NULL, NULL));
  static unsigned char bb[IW * IH * 4];
  CHECK(clEnqueueReadBuffer(q, buf, CL_TRUE, 0, sizeof bb, bb, 0, NULL, NULL));
  EXPECT(memcmp(bb, back, sizeof bb) == 0, "copy image to buffer differs");
  cl_mem img2 = clCreateImage(ctx, CL_MEM_READ_WRITE, &fmt, &desc, NULL, &err);
  CHECK_ERR(err);
  CHECK(clEnqueueCopyBufferToImage(q, buf, img2, 0, origin, region, 0, NULL, NULL));
  memset(bb, 0, sizeof bb);
  CHECK(clEnqueueReadImage(q, img2, CL_TRUE, origin, region, 0, 0, bb, 0, NULL, NULL));
  EXPECT(memcmp(bb, back, sizeof bb) == 0, "copy buffer to image differs");
  printf("image<->buffer: ok\n");

  // Fill a 5x3 region of img2 with one colour, then copy a 2x2 block from img into img2.
  cl_uint4 colour = {{9, 8, 7, 6}};
  size_t forigin[3] = {1, 1, 0}, fregion[3] = {5, 3, 1};
  CHECK(clEnqueueFillImage(q, img2, &colour, forigin, fregion, 0, NULL, NULL));
  size_t corigin_src[3] = {10, 6, 0}, corigin_dst[3] = {0, 0, 0}, cregion[3] = {2, 2, 1};
  CHECK(clEnqueueCopyImage(q, img, img2, corigin_src, corigin_dst, cregion, 0, NULL, NULL));
  CHECK(clEnqueueReadImage(q, img2, CL_TRUE, origin, region, 0, 0, bb, 0, NULL, NULL));
  for (int y = 0; y < IH; ++y)
    for (int x = 0; x < IW; ++x)
      for (int c = 0; c < 4; ++c) {
        unsigned char want = px(x, y, c);
        if (x < 2 && y < 2) want = px(10 + x, 6 + y, c);
        else if (x >= 1 && x < 6 && y >= 1 && y < 4) want = (unsigned char)(9 - c);
        EXPECT(bb[(y * IW + x) * 4 + c] == want, "fill/copy image: pixel (%d,%d) channel %d is %u want %u", x, y, c,
               bb[(y * IW + x) * 4 + c], want);
      }
  printf("fill+copy image: crc32=%08x\n", e2e_crc32(bb, sizeof bb));

  // Map an image region for reading.
  size_t map_row = 0;
  unsigned char* m = clEnqueueMapImage(q, img, CL_TRUE, CL_MAP_READ, porigin, pregion, &map_row, NULL, 0, NULL, NULL, &err);
  CHECK_ERR(err);
  EXPECT(map_row >= 4 * 4, "map row pitch %zu", map_row);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 4; ++c)
        EXPECT(m[y * map_row + x * 4 + c] == px(3 + x, 5 + y, c), "map image: pixel (%d,%d)", x, y);
  CHECK(clEnqueueUnmapMemObject(q, img, m, 0, NULL, NULL));
  CHECK(clFinish(q));
  printf("map image: ok\n");

  // A kernel with an image, a sampler and an output image.
  cl_sampler smp = clCreateSampler(ctx, CL_FALSE, CL_ADDRESS_CLAMP_TO_EDGE, CL_FILTER_NEAREST, &err);
  CHECK_ERR(err);
  cl_bool norm;
  cl_addressing_mode am;
  cl_filter_mode fm;
  CHECK(clGetSamplerInfo(smp, CL_SAMPLER_NORMALIZED_COORDS, sizeof norm, &norm, NULL));
  CHECK(clGetSamplerInfo(smp, CL_SAMPLER_ADDRESSING_MODE, sizeof am, &am, NULL));
  CHECK(clGetSamplerInfo(smp, CL_SAMPLER_FILTER_MODE, sizeof fm, &fm, NULL));
  printf("sampler info: normalized=%u addressing=0x%x filter=0x%x\n", norm, am, fm);
  cl_mem out = clCreateImage(ctx, CL_MEM_WRITE_ONLY, &fmt, &desc, NULL, &err);
  CHECK_ERR(err);
  cl_program prog = e2e_build(ctx, dev, kSrc, "");
  cl_kernel k = e2e_kernel(prog, "shift");
  CHECK(clSetKernelArg(k, 0, sizeof img, &img));
  CHECK(clSetKernelArg(k, 1, sizeof smp, &smp));
  CHECK(clSetKernelArg(k, 2, sizeof out, &out));
  size_t gws[2] = {IW, IH};
  CHECK(clEnqueueNDRangeKernel(q, k, 2, NULL, gws, NULL, 0, NULL, NULL));
  CHECK(clEnqueueReadImage(q, out, CL_TRUE, origin, region, 0, 0, bb, 0, NULL, NULL));
  for (int y = 0; y < IH; ++y)
    for (int x = 0; x < IW; ++x)
      for (int c = 0; c < 4; ++c) {
        // write_imageui to an 8-bit channel saturates.
        int sum = px(x > 0 ? x - 1 : 0, y, c) + c + 1;
        unsigned char want = (unsigned char)(sum > 255 ? 255 : sum);
        EXPECT(bb[(y * IW + x) * 4 + c] == want, "sampler kernel: pixel (%d,%d) channel %d is %u want %u", x, y, c,
               bb[(y * IW + x) * 4 + c], want);
      }
  printf("sampler kernel: crc32=%08x\n", e2e_crc32(bb, sizeof bb));

  // A sampler created with properties (OpenCL 2.0).
  cl_sampler_properties sp[] = {CL_SAMPLER_NORMALIZED_COORDS, CL_TRUE, CL_SAMPLER_ADDRESSING_MODE, CL_ADDRESS_REPEAT,
                                CL_SAMPLER_FILTER_MODE, CL_FILTER_LINEAR, 0};
  cl_sampler smp2 = clCreateSamplerWithProperties(ctx, sp, &err);
  CHECK_ERR(err);
  CHECK(clGetSamplerInfo(smp2, CL_SAMPLER_ADDRESSING_MODE, sizeof am, &am, NULL));
  EXPECT(am == CL_ADDRESS_REPEAT, "sampler with properties: addressing 0x%x", am);
  printf("sampler with properties: ok\n");

  // An unsupported format is refused.
  cl_image_format badfmt = {CL_RGBA, 0x7777};
  cl_mem none = clCreateImage(ctx, CL_MEM_READ_WRITE, &badfmt, &desc, NULL, &err);
  printf("bad format: %s\n", e2e_err_name(err));
  EXPECT(none == NULL && err != CL_SUCCESS, "bad image format accepted");

  CHECK(clReleaseSampler(smp2));
  CHECK(clReleaseKernel(k));
  CHECK(clReleaseProgram(prog));
  CHECK(clReleaseSampler(smp));
  CHECK(clReleaseMemObject(out));
  CHECK(clReleaseMemObject(img2));
  CHECK(clReleaseMemObject(buf));
  CHECK(clReleaseMemObject(img));
  CHECK(clReleaseCommandQueue(q));
  CHECK(clReleaseContext(ctx));
  e2e_pass();
}
