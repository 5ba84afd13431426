// Size math of spec_helpers.cpp against hand-computed values.
#include "spec_helpers.h"

#include <gtest/gtest.h>

#include <cstdint>

// The test's stand-in for the side-specific layout query: one 2D RGBA float image (16-byte pixels)
// and one depth image; anything else is unknown.
static int g_rgba_image, g_depth_image;
extern "C" int remora_cl_image_layout(cl_mem image, size_t* element_size, cl_mem_object_type* type,
                                      cl_channel_order* order) {
  if (image == reinterpret_cast<cl_mem>(&g_rgba_image)) {
    *element_size = 16, *type = CL_MEM_OBJECT_IMAGE2D, *order = CL_RGBA;
    return 0;
  }
  if (image == reinterpret_cast<cl_mem>(&g_depth_image)) {
    *element_size = 4, *type = CL_MEM_OBJECT_IMAGE2D, *order = CL_DEPTH;
    return 0;
  }
  return -1;
}

namespace {

TEST(RectBytes, PackedRegionFromOrigin) {
  const size_t origin[3] = {0, 0, 0};
  const size_t region[3] = {16, 4, 2};
  // Packed: row 16, slice 64; two slices of four rows.
  EXPECT_EQ(remora_cl_rect_bytes(origin, region, 0, 0), 128u);
}

TEST(RectBytes, SubRectangleOfALargerHostImage) {
  // A 16x16 tile at (32, 8) of a 1024-byte-wide host picture.
  const size_t origin[3] = {32, 8, 0};
  const size_t region[3] = {16, 16, 1};
  // Start 8*1024+32, end of the last row (8+15)*1024 + 32 + 16.
  EXPECT_EQ(remora_cl_rect_bytes(origin, region, 1024, 0), 23u * 1024 + 48);
}

TEST(RectBytes, SlicesAndPitches) {
  const size_t origin[3] = {1, 2, 3};
  const size_t region[3] = {10, 5, 2};
  // row 100, slice 1000: offset 3*1000 + 2*100 + 1, extent 1*1000 + 4*100 + 10.
  EXPECT_EQ(remora_cl_rect_bytes(origin, region, 100, 1000), 3201u + 1410);
}

TEST(RectBytes, EmptyAndNull) {
  const size_t origin[3] = {0, 0, 0};
  const size_t empty[3] = {0, 1, 1};
  EXPECT_EQ(remora_cl_rect_bytes(origin, empty, 0, 0), 0u);
  EXPECT_EQ(remora_cl_rect_bytes(nullptr, empty, 0, 0), 0u);
  EXPECT_EQ(remora_cl_rect_bytes(origin, nullptr, 0, 0), 0u);
}

TEST(RectBytes, OverflowIsSizeMax) {
  const size_t origin[3] = {0, 0, 0};
  const size_t region[3] = {1, SIZE_MAX / 2, 4};
  EXPECT_EQ(remora_cl_rect_bytes(origin, region, 8, 0), SIZE_MAX);
}

TEST(FormatElementSize, ChannelsTimesBytesAndPackedTypes) {
  cl_image_format f{CL_RGBA, CL_FLOAT};
  EXPECT_EQ(remora_cl_format_element_size(&f), 16u);
  f = {CL_RG, CL_UNSIGNED_INT16};
  EXPECT_EQ(remora_cl_format_element_size(&f), 4u);
  f = {CL_R, CL_UNORM_INT8};
  EXPECT_EQ(remora_cl_format_element_size(&f), 1u);
  f = {CL_RGB, CL_UNORM_SHORT_565};
  EXPECT_EQ(remora_cl_format_element_size(&f), 2u);
  f = {CL_RGB, CL_UNORM_INT_101010};
  EXPECT_EQ(remora_cl_format_element_size(&f), 4u);
  f = {CL_BGRA, CL_HALF_FLOAT};
  EXPECT_EQ(remora_cl_format_element_size(&f), 8u);
  f = {0x1234, CL_FLOAT};
  EXPECT_EQ(remora_cl_format_element_size(&f), 0u);
  EXPECT_EQ(remora_cl_format_element_size(nullptr), 0u);
}

TEST(ImageRegionBytes, ByType) {
  const size_t r2[3] = {8, 4, 1};
  // 2D packed: 4 rows of 8 pixels of 4 bytes.
  EXPECT_EQ(remora_cl_image_region_bytes(4, CL_MEM_OBJECT_IMAGE2D, r2, 0, 0), 128u);
  // 2D with a row pitch: the last row is not padded.
  EXPECT_EQ(remora_cl_image_region_bytes(4, CL_MEM_OBJECT_IMAGE2D, r2, 64, 0), 3u * 64 + 32);
  const size_t r3[3] = {8, 4, 3};
  EXPECT_EQ(remora_cl_image_region_bytes(4, CL_MEM_OBJECT_IMAGE3D, r3, 0, 0), 3u * 128);
  EXPECT_EQ(remora_cl_image_region_bytes(4, CL_MEM_OBJECT_IMAGE3D, r3, 0, 200), 2u * 200 + 128);
  // 1D array: region[1] counts images, a slice pitch apart (default: the row pitch).
  const size_t r1a[3] = {8, 5, 1};
  EXPECT_EQ(remora_cl_image_region_bytes(4, CL_MEM_OBJECT_IMAGE1D_ARRAY, r1a, 0, 0), 5u * 32);
  EXPECT_EQ(remora_cl_image_region_bytes(4, CL_MEM_OBJECT_IMAGE1D_ARRAY, r1a, 40, 100), 4u * 100 + 32);
  const size_t r1[3] = {8, 1, 1};
  EXPECT_EQ(remora_cl_image_region_bytes(4, CL_MEM_OBJECT_IMAGE1D, r1, 0, 0), 32u);
  EXPECT_EQ(remora_cl_image_region_bytes(0, CL_MEM_OBJECT_IMAGE1D, r1, 0, 0), 0u);
  EXPECT_EQ(remora_cl_image_region_bytes(4, CL_MEM_OBJECT_BUFFER, r1, 0, 0), 0u);
}

TEST(ImageHostBytes, FromDescriptor) {
  const cl_image_format f{CL_RGBA, CL_UNORM_INT8};  // 4 bytes
  cl_image_desc d{};
  d.image_type = CL_MEM_OBJECT_IMAGE2D;
  d.image_width = 10;
  d.image_height = 3;
  EXPECT_EQ(remora_cl_image_host_bytes(CL_MEM_COPY_HOST_PTR, &f, &d), 120u);
  d.image_row_pitch = 64;
  EXPECT_EQ(remora_cl_image_host_bytes(CL_MEM_USE_HOST_PTR, &f, &d), 192u);
  // No host pointer flag: nothing is read.
  EXPECT_EQ(remora_cl_image_host_bytes(CL_MEM_READ_WRITE, &f, &d), 0u);

  d = {};
  d.image_type = CL_MEM_OBJECT_IMAGE3D;
  d.image_width = 4, d.image_height = 4, d.image_depth = 5;
  EXPECT_EQ(remora_cl_image_host_bytes(CL_MEM_COPY_HOST_PTR, &f, &d), 4u * 4 * 4 * 5);
  d = {};
  d.image_type = CL_MEM_OBJECT_IMAGE1D_ARRAY;
  d.image_width = 4, d.image_array_size = 6;
  EXPECT_EQ(remora_cl_image_host_bytes(CL_MEM_COPY_HOST_PTR, &f, &d), 16u * 6);
  d = {};
  d.image_type = CL_MEM_OBJECT_IMAGE2D_ARRAY;
  d.image_width = 4, d.image_height = 2, d.image_array_size = 3, d.image_slice_pitch = 100;
  EXPECT_EQ(remora_cl_image_host_bytes(CL_MEM_COPY_HOST_PTR, &f, &d), 300u);

  EXPECT_EQ(remora_cl_image2d_host_bytes(CL_MEM_COPY_HOST_PTR, &f, 10, 3, 0), 120u);
  EXPECT_EQ(remora_cl_image3d_host_bytes(CL_MEM_COPY_HOST_PTR, &f, 4, 4, 5, 0, 0), 320u);
}

TEST(ImageDeviceBytes, OverABufferOwnsNothing) {
  const cl_image_format f{CL_R, CL_FLOAT};
  cl_image_desc d{};
  d.image_type = CL_MEM_OBJECT_IMAGE2D_ARRAY;
  d.image_width = 8, d.image_height = 8, d.image_array_size = 2;
  EXPECT_EQ(remora_cl_image_device_bytes(&f, &d), 8u * 8 * 2 * 4);
  d.image_type = CL_MEM_OBJECT_IMAGE1D_BUFFER;
  d.buffer = reinterpret_cast<cl_mem>(&g_rgba_image);
  EXPECT_EQ(remora_cl_image_device_bytes(&f, &d), 0u);
  EXPECT_EQ(remora_cl_image2d_device_bytes(&f, 16, 16), 1024u);
  EXPECT_EQ(remora_cl_image3d_device_bytes(&f, 2, 2, 2), 32u);
}

TEST(PartitionProperties, CountIncludesTerminator) {
  const cl_device_partition_property equally[] = {CL_DEVICE_PARTITION_EQUALLY, 4, 0};
  EXPECT_EQ(remora_cl_partition_properties_count(equally), 3u);
  // BY_COUNTS: the LIST_END marker is a 0 inside the list.
  const cl_device_partition_property counts[] = {CL_DEVICE_PARTITION_BY_COUNTS, 1, 1, 1,
                                                 CL_DEVICE_PARTITION_BY_COUNTS_LIST_END, 0};
  EXPECT_EQ(remora_cl_partition_properties_count(counts), 6u);
  const cl_device_partition_property affinity[] = {
      CL_DEVICE_PARTITION_BY_AFFINITY_DOMAIN, CL_DEVICE_AFFINITY_DOMAIN_NUMA, 0};
  EXPECT_EQ(remora_cl_partition_properties_count(affinity), 3u);
  const cl_device_partition_property empty[] = {0};
  EXPECT_EQ(remora_cl_partition_properties_count(empty), 1u);
  EXPECT_EQ(remora_cl_partition_properties_count(nullptr), 0u);
}

TEST(PartitionProperties, UnterminatedIsRefused) {
  static cl_device_partition_property endless[REMORA_CL_MAX_PARTITION_PROPERTIES + 8];
  for (auto& p : endless) p = CL_DEVICE_PARTITION_EQUALLY;
  EXPECT_EQ(remora_cl_partition_properties_count(endless), SIZE_MAX);
}

TEST(SmallHelpers, BufferSubBufferWorkDims) {
  EXPECT_EQ(remora_cl_buffer_host_bytes(CL_MEM_COPY_HOST_PTR, 100), 100u);
  EXPECT_EQ(remora_cl_buffer_host_bytes(CL_MEM_USE_HOST_PTR | CL_MEM_READ_ONLY, 7), 7u);
  EXPECT_EQ(remora_cl_buffer_host_bytes(CL_MEM_ALLOC_HOST_PTR, 100), 0u);
  EXPECT_EQ(remora_cl_sub_buffer_info_bytes(CL_BUFFER_CREATE_TYPE_REGION), sizeof(cl_buffer_region));
  EXPECT_EQ(remora_cl_sub_buffer_info_bytes(0x9999), 0u);
  EXPECT_EQ(remora_cl_work_dims(0), 0u);
  EXPECT_EQ(remora_cl_work_dims(3), 3u);
  EXPECT_EQ(remora_cl_work_dims(4), 0u);
}

TEST(ImageQueries, TransferAndFillColourUseTheLayout) {
  const cl_mem rgba = reinterpret_cast<cl_mem>(&g_rgba_image);
  const cl_mem depth = reinterpret_cast<cl_mem>(&g_depth_image);
  const size_t region[3] = {4, 2, 1};
  EXPECT_EQ(remora_cl_image_transfer_bytes(rgba, region, 0, 0), 128u);
  EXPECT_EQ(remora_cl_image_transfer_bytes(nullptr, region, 0, 0), 0u);
  EXPECT_EQ(remora_cl_fill_color_bytes(rgba), 16u);
  EXPECT_EQ(remora_cl_fill_color_bytes(depth), 4u);
  EXPECT_EQ(remora_cl_fill_color_bytes(nullptr), 0u);
}

}  // namespace
