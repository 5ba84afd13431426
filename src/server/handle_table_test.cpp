#include <gtest/gtest.h>

#include "server/session.h"

namespace remora::server {
namespace {

constexpr uint64_t kServerBit = uint64_t{1} << 63;
int a, b, c;

TEST(HandleTable, LookupChecksExistenceAndType) {
  HandleTable t;
  const uint64_t id = t.insert_new(1, &a);
  EXPECT_NE(id & kServerBit, 0u);
  EXPECT_EQ(t.lookup(id, 1), &a);
  EXPECT_EQ(t.lookup(id, 2), nullptr) << "wrong type";
  EXPECT_EQ(t.lookup(id + 1, 1), nullptr) << "forged id";
  EXPECT_EQ(t.lookup(0, 1), nullptr);
}

TEST(HandleTable, GuestIdsMustBeFreshAndInTheGuestRange) {
  HandleTable t;
  EXPECT_TRUE(t.insert_guest_id(5, 1, &a, 1));
  EXPECT_FALSE(t.insert_guest_id(5, 1, &b, 1)) << "reused id";
  EXPECT_FALSE(t.insert_guest_id(kServerBit | 9, 1, &b, 1)) << "server range";
  EXPECT_FALSE(t.insert_guest_id(0, 1, &b, 1));
  EXPECT_EQ(t.lookup(5, 1), &a);
}

TEST(HandleTable, QueriesReuseIdsAndBorrowedEntriesCarryNoReference) {
  HandleTable t;
  const uint64_t id = t.id_for(&a, 3);
  EXPECT_EQ(t.id_for(&a, 3), id);
  EXPECT_NE(t.id_for(&a, 4), id) << "same address, other type: a different object";
  HandleTable::Entry removed;
  EXPECT_FALSE(t.release(id, &removed)) << "borrowed: nothing to release";
  EXPECT_EQ(t.lookup(id, 3), &a);
}

TEST(HandleTable, ReferenceCountingRemovesAtZero) {
  HandleTable t;
  const uint64_t id = t.insert_new(1, &b);
  t.set_charge(id, ResourceKind::kDeviceMemory, 4096);
  EXPECT_TRUE(t.retain(id));
  HandleTable::Entry removed;
  EXPECT_FALSE(t.release(id, &removed));
  EXPECT_TRUE(t.release(id, &removed));
  EXPECT_EQ(removed.charge, 4096u);
  EXPECT_EQ(t.lookup(id, 1), nullptr);
  EXPECT_FALSE(t.release(id, &removed)) << "stale id";
}

TEST(HandleTable, DrainDropsEveryReferenceStillHeld) {
  HandleTable t;
  const uint64_t x = t.insert_new(1, &a);
  t.retain(x);
  t.insert_new(2, &b);
  t.id_for(&c, 3);  // borrowed: not dropped
  int drops = 0;
  t.drain([&](const HandleTable::Entry&) { ++drops; });
  EXPECT_EQ(drops, 3);
  EXPECT_EQ(t.size(), 0u);
}

// A serving thread's cache must answer exactly as the table does: type-checked, and never with an
// object that was released (nor with what a reused guest id names now).
TEST(HandleTable, CachedLookupsAnswerAsTheTableDoes) {
  HandleTable t;
  HandleTable::Cache cache;
  const uint64_t id = t.insert_new(1, &a);
  EXPECT_EQ(t.lookup(id, 1, &cache), &a);
  EXPECT_EQ(t.lookup(id, 1, &cache), &a) << "from the cache";
  EXPECT_EQ(t.lookup(id, 2, &cache), nullptr) << "other type, from the cache";
  EXPECT_EQ(t.lookup(id + 1, 1, &cache), nullptr) << "forged";
  EXPECT_EQ(t.lookup(id + HandleTable::Cache::kLines, 1, &cache), nullptr) << "forged, same cache line";

  EXPECT_TRUE(t.release(id, nullptr));
  EXPECT_EQ(t.lookup(id, 1, &cache), nullptr) << "released: the cached line is stale";

  // A guest id released and registered again names the new object, with its new type.
  ASSERT_TRUE(t.insert_guest_id(7, 1, &b, 1));
  EXPECT_EQ(t.lookup(7, 1, &cache), &b);
  ASSERT_TRUE(t.release(7, nullptr));
  ASSERT_TRUE(t.insert_guest_id(7, 2, &c, 1));
  EXPECT_EQ(t.lookup(7, 1, &cache), nullptr);
  EXPECT_EQ(t.lookup(7, 2, &cache), &c);

  t.drain([](const HandleTable::Entry&) {});
  EXPECT_EQ(t.lookup(7, 2, &cache), nullptr) << "drained";
}

}  // namespace
}  // namespace remora::server
