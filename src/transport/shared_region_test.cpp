#include "transport/shared_region.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>

namespace remora::transport {
namespace {

TEST(SharedRegion, PassedOverALinkBothSidesSeeTheSameBytes) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Fd a(sv[0]), b(sv[1]);
  auto server_link = make_socket_region_link(a.get(), nullptr);
  auto guest_link = make_socket_region_link(b.get(), nullptr);

  Fd fd;
  std::unique_ptr<SharedRegion> server_view;
  ASSERT_TRUE(create_shared_region(10000, &fd, &server_view).ok());
  EXPECT_EQ(server_view->size(), 12288u);  // whole pages
  ASSERT_TRUE(server_link->send_region(fd.get(), server_view->size()).ok());

  Fd got;
  uint64_t bytes = 0;
  ASSERT_TRUE(guest_link->receive_region(&got, &bytes, after(std::chrono::seconds(5))).ok());
  ASSERT_EQ(bytes, server_view->size());
  std::unique_ptr<SharedRegion> guest_view;
  ASSERT_TRUE(map_shared_region(got, bytes, &guest_view).ok());
  std::memcpy(guest_view->base() + 4000, "remora", 7);
  EXPECT_STREQ(reinterpret_cast<const char*>(server_view->base() + 4000), "remora");
}

TEST(SharedRegion, GuestRefusesARegionOfAnotherSize) {
  Fd fd;
  std::unique_ptr<SharedRegion> view, other;
  ASSERT_TRUE(create_shared_region(8192, &fd, &view).ok());
  EXPECT_FALSE(map_shared_region(fd, 4096, &other).ok());
  EXPECT_FALSE(map_shared_region(fd, 0, &other).ok());
  EXPECT_TRUE(map_shared_region(fd, 8192, &other).ok());
}

TEST(SharedRegion, SizesOutOfRangeAreRefused) {
  Fd fd;
  std::unique_ptr<SharedRegion> view;
  EXPECT_FALSE(create_shared_region(0, &fd, &view).ok());
  EXPECT_FALSE(create_shared_region(kMaxSharedRegionBytes + 1, &fd, &view).ok());
}

}  // namespace
}  // namespace remora::transport
