// Tests of the CUDA spec's helpers (spec_helpers.cpp).
#include "spec_helpers.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace {

TEST(CudaHooks, NonnegativeLength) {
  EXPECT_EQ(remora_cu_nonnegative(-1), 0u);
  EXPECT_EQ(remora_cu_nonnegative(0), 0u);
  EXPECT_EQ(remora_cu_nonnegative(256), 256u);
}

TEST(CudaHooks, PtxImageIsTextWithItsNul) {
  const char ptx[] = ".version 8.0\n.target sm_90\n";
  EXPECT_EQ(remora_cu_module_image_bytes(ptx), sizeof ptx);
  EXPECT_EQ(remora_cu_module_image_bytes(nullptr), 0u);
}

TEST(CudaHooks, FatbinSizeComesFromItsHeader) {
  std::vector<uint8_t> image(16 + 100, 0);
  const uint32_t magic = 0xBA55ED50;
  const uint16_t version = 1, header = 16;
  const uint64_t body = 100;
  std::memcpy(&image[0], &magic, 4);
  std::memcpy(&image[4], &version, 2);
  std::memcpy(&image[6], &header, 2);
  std::memcpy(&image[8], &body, 8);
  EXPECT_EQ(remora_cu_module_image_bytes(image.data()), 116u);
}

// A minimal ELF64 file: header, one section whose data ends past the section header table.
TEST(CudaHooks, CubinSizeIsTheFurthestPartOfTheElfFile) {
  std::vector<uint8_t> image(512, 0);
  image[0] = 0x7f, image[1] = 'E', image[2] = 'L', image[3] = 'F', image[4] = 2;
  const uint64_t shoff = 64;
  const uint16_t shentsize = 64, shnum = 2;
  std::memcpy(&image[0x28], &shoff, 8);
  std::memcpy(&image[0x3A], &shentsize, 2);
  std::memcpy(&image[0x3C], &shnum, 2);
  // Section 1: PROGBITS at offset 300, 150 bytes -> ends at 450.
  uint8_t* sh1 = &image[shoff + shentsize];
  const uint32_t progbits = 1;
  const uint64_t off = 300, size = 150;
  std::memcpy(sh1 + 0x04, &progbits, 4);
  std::memcpy(sh1 + 0x18, &off, 8);
  std::memcpy(sh1 + 0x20, &size, 8);
  EXPECT_EQ(remora_cu_module_image_bytes(image.data()), 450u);
  // A NOBITS section (.bss) occupies nothing in the file.
  const uint32_t nobits = 8;
  std::memcpy(sh1 + 0x04, &nobits, 4);
  EXPECT_EQ(remora_cu_module_image_bytes(image.data()), 64u + 2 * 64u);
}

TEST(CudaHooks, ElfSizesThatOverflowAreRefused) {
  std::vector<uint8_t> image(128, 0);
  image[0] = 0x7f, image[1] = 'E', image[2] = 'L', image[3] = 'F', image[4] = 2;
  const uint64_t shoff = ~uint64_t{0} - 10;
  const uint16_t shentsize = 64, shnum = 2;
  std::memcpy(&image[0x28], &shoff, 8);
  std::memcpy(&image[0x3A], &shentsize, 2);
  std::memcpy(&image[0x3C], &shnum, 2);
  EXPECT_EQ(remora_cu_module_image_bytes(image.data()), SIZE_MAX);
  image[4] = 1;  // 32-bit ELF: not a cubin
  EXPECT_EQ(remora_cu_module_image_bytes(image.data()), SIZE_MAX);
}

TEST(CudaHooks, PackParamsPlacesEachArgumentAtItsOffset) {
  int a = 7;
  double b = 2.5;
  char c = 'x';
  void* params[] = {&a, &b, &c};
  const uint64_t layout[] = {(uint64_t{0} << 32) | 4, (uint64_t{8} << 32) | 8, (uint64_t{16} << 32) | 1};
  std::vector<uint8_t> out(REMORA_CU_MAX_PARAM_BYTES, 0xff);
  size_t size = 0;
  ASSERT_EQ(remora_cu_pack_params(layout, 3, params, out.data(), &size), 0);
  EXPECT_EQ(size, 17u);
  int a2;
  double b2;
  std::memcpy(&a2, &out[0], 4);
  std::memcpy(&b2, &out[8], 8);
  EXPECT_EQ(a2, 7);
  EXPECT_EQ(b2, 2.5);
  EXPECT_EQ(out[16], 'x');
  EXPECT_EQ(out[4], 0);  // padding is zeroed, not left as it was
}

TEST(CudaHooks, PackParamsRefusesBadLayoutsAndMissingArguments) {
  int a = 1;
  void* params[] = {&a, &a};
  std::vector<uint8_t> out(REMORA_CU_MAX_PARAM_BYTES);
  size_t size = 0;
  const uint64_t overlapping[] = {(uint64_t{0} << 32) | 8, (uint64_t{4} << 32) | 4};
  EXPECT_EQ(remora_cu_pack_params(overlapping, 2, params, out.data(), &size), -1);
  const uint64_t too_far[] = {(uint64_t{REMORA_CU_MAX_PARAM_BYTES} << 32) | 4};
  EXPECT_EQ(remora_cu_pack_params(too_far, 1, params, out.data(), &size), -1);
  const uint64_t fine[] = {4};
  EXPECT_EQ(remora_cu_pack_params(fine, 1, nullptr, out.data(), &size), -1);
  EXPECT_EQ(remora_cu_pack_params(fine, 0, nullptr, out.data(), &size), 0);
  EXPECT_EQ(size, 0u);
}

}  // namespace
