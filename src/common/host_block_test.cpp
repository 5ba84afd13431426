#include "common/host_block.h"

#include <gtest/gtest.h>

#include <cstring>

namespace remora {
namespace {

TEST(HostBlock, SmallBlocksComeFromTheHeapAndAreNotPooled) {
  const size_t before = pooled_host_bytes();
  {
    HostBlock b = acquire_host_block(100);
    ASSERT_NE(b, nullptr);
    std::memset(b.get(), 1, 100);
  }
  EXPECT_EQ(pooled_host_bytes(), before);
}

TEST(HostBlock, LargeBlocksAreReusedWhenReleased) {
  uint8_t* first = nullptr;
  {
    HostBlock b = acquire_host_block(3 << 20);
    ASSERT_NE(b, nullptr);
    first = b.get();
    b[(3 << 20) - 1] = 7;  // the whole requested size is usable
  }
  EXPECT_GE(pooled_host_bytes(), size_t{3} << 20);
  HostBlock again = acquire_host_block((3 << 20) - 100);
  EXPECT_EQ(again.get(), first);  // the kept block, pages and all
  // A much smaller request does not take a large kept block.
  HostBlock big = acquire_host_block(8 << 20);
  big.reset();
  HostBlock small = acquire_host_block(2 << 20);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(small.get_deleter().bytes, size_t{2} << 20);
}

TEST(HostBlock, ThePoolStaysWithinItsLimit) {
  const size_t limit = host_block_pool_limit();
  set_host_block_pool_limit(size_t{16} << 20);
  {
    HostBlock a = acquire_host_block((8 << 20) + 4096);
    HostBlock b = acquire_host_block((8 << 20) + 4096);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
  }
  EXPECT_LE(pooled_host_bytes(), size_t{16} << 20);
  EXPECT_GT(pooled_host_bytes(), 0u);
  HostBlock huge = acquire_host_block(size_t{17} << 20);
  ASSERT_NE(huge, nullptr);
  huge.reset();  // larger than the whole pool: unmapped, not kept
  EXPECT_LE(pooled_host_bytes(), size_t{16} << 20);
  set_host_block_pool_limit(0);  // lowering the limit drops what is kept
  EXPECT_EQ(pooled_host_bytes(), 0u);
  set_host_block_pool_limit(limit);
}

TEST(HostBlock, ImpossibleSizesFailCleanly) {
  EXPECT_EQ(acquire_host_block(SIZE_MAX), nullptr);
  EXPECT_NE(acquire_host_block(0), nullptr);
}

}  // namespace
}  // namespace remora
