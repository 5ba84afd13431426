#include "common/wire.h"

#include <gtest/gtest.h>

#include <numeric>

namespace remora::wire {
namespace {

TEST(Wire, ScalarsBytesAndStringsRoundTrip) {
  Writer w;
  w.put_u32(7);
  w.put_u64(1ull << 50);
  w.put<double>(2.5);
  w.put_string("hello");
  w.put_string(nullptr);
  const uint8_t blob[3] = {1, 2, 3};
  w.put_bytes(blob, 3);
  w.put_bytes(nullptr, 0);
  const auto msg = w.flatten();
  EXPECT_EQ(msg.size() % kAlign, 0u);

  Reader r(msg.data(), msg.size());
  EXPECT_EQ(r.get_u32(), 7u);
  EXPECT_EQ(r.get_u64(), 1ull << 50);
  EXPECT_EQ(r.get<double>(), 2.5);
  EXPECT_STREQ(r.get_string(), "hello");
  bool absent = false;
  EXPECT_EQ(r.get_string(&absent), nullptr);
  EXPECT_TRUE(absent);
  auto b = r.get_bytes(&absent);
  EXPECT_FALSE(absent);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[2], 3);
  r.get_bytes(&absent);
  EXPECT_TRUE(absent);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(Wire, LargeBlobsTravelByReferenceAndFlattenTheSame) {
  std::vector<uint8_t> big(kByReferenceThreshold * 2 + 5);
  std::iota(big.begin(), big.end(), 0);
  Writer w;
  w.put_u32(1);
  w.put_bytes(big.data(), big.size());
  w.put_u32(2);
  std::vector<Segment> segs;
  w.segments(&segs);
  bool found = false;
  for (const auto& s : segs) found |= s.data == big.data();
  EXPECT_TRUE(found) << "the blob should be a segment of its own, not a copy";
  EXPECT_EQ(w.size(), w.flatten().size());

  const auto msg = w.flatten();
  Reader r(msg.data(), msg.size());
  EXPECT_EQ(r.get_u32(), 1u);
  auto b = r.get_bytes();
  ASSERT_EQ(b.size(), big.size());
  EXPECT_TRUE(std::equal(b.begin(), b.end(), big.begin()));
  EXPECT_EQ(r.get_u32(), 2u);
  EXPECT_TRUE(r.ok());
}

TEST(Wire, AppendKeepsBlobsByReference) {
  std::vector<uint8_t> big(kByReferenceThreshold + 1, 9);
  Writer a, b;
  a.put_u32(1);
  b.put_bytes(big.data(), big.size());
  b.put_u32(3);
  a.append(b);
  const auto msg = a.flatten();
  Reader r(msg.data(), msg.size());
  EXPECT_EQ(r.get_u32(), 1u);
  EXPECT_EQ(r.get_bytes().size(), big.size());
  EXPECT_EQ(r.get_u32(), 3u);
  EXPECT_TRUE(r.ok());
}

TEST(Wire, EveryTruncationFailsCleanly) {
  Writer w;
  w.put_u64(5);
  w.put_string("a string that is long enough");
  const uint8_t data[40] = {};
  w.put_bytes(data, sizeof data);
  const auto msg = w.flatten();
  for (size_t cut = 0; cut < msg.size(); ++cut) {
    Reader r(msg.data(), cut);
    r.get_u64();
    r.get_string();
    r.get_bytes();
    EXPECT_FALSE(r.ok()) << "cut at " << cut;
  }
}

TEST(Wire, LengthPastTheMessageIsRejected) {
  Writer w;
  w.put_u64(64);  // claims 64 bytes follow
  w.put_u64(0);
  const auto msg = w.flatten();
  Reader r(msg.data(), msg.size());
  EXPECT_TRUE(r.get_bytes().empty());
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(r.why(), "length exceeds the message");
}

TEST(Wire, HugeLengthsHitTheCapNotAnOverflow) {
  for (uint64_t n : {~uint64_t{0} - 1, ~uint64_t{0} - 7, uint64_t{1} << 62}) {
    Writer w;
    w.put_u64(n);
    const auto msg = w.flatten();
    Reader r(msg.data(), msg.size());
    r.get_bytes();
    EXPECT_FALSE(r.ok());
    EXPECT_STREQ(r.why(), "length over the cap");
  }
}

TEST(Wire, ArraysMustBeWholeElementsAndUnderTheCountCap) {
  Writer w;
  const uint8_t five[5] = {};
  w.put_bytes_copy(five, 5);
  auto msg = w.flatten();
  Reader r(msg.data(), msg.size());
  uint64_t count = 99;
  EXPECT_EQ(r.get_array<uint32_t>(&count), nullptr);
  EXPECT_EQ(count, 0u);
  EXPECT_FALSE(r.ok());

  Writer w2;
  const uint64_t many[16] = {};
  w2.put_bytes_copy(many, sizeof many);
  msg = w2.flatten();
  Limits tight;
  tight.max_array_count = 8;
  Reader r2(msg.data(), msg.size(), tight);
  EXPECT_EQ(r2.get_array<uint64_t>(&count), nullptr);
  EXPECT_FALSE(r2.ok());
}

TEST(Wire, StringsMustBeNulTerminated) {
  Writer w;
  const char raw[8] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
  w.put_bytes_copy(raw, 8);
  const auto msg = w.flatten();
  Reader r(msg.data(), msg.size());
  EXPECT_EQ(r.get_string(), nullptr);
  EXPECT_FALSE(r.ok());
}

TEST(Wire, FailureIsStickyAndZeroFills) {
  const uint64_t one = 1;
  Reader r(reinterpret_cast<const uint8_t*>(&one), 4);  // shorter than one item
  EXPECT_EQ(r.get_u64(), 0u);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.get_u32(), 0u);
  EXPECT_TRUE(r.get_bytes().empty());
}

TEST(Wire, MultiplicationOverflowIsDetected) {
  uint64_t out = 0;
  EXPECT_FALSE(mul_overflows(1u << 20, 1u << 20, &out));
  EXPECT_EQ(out, uint64_t{1} << 40);
  EXPECT_TRUE(mul_overflows(uint64_t{1} << 40, uint64_t{1} << 40, &out));
}

}  // namespace
}  // namespace remora::wire

namespace remora::wire {
namespace {

// The Writer's buffer grows without zero-filling; padding must still go out as zeros (the reply cache
// keys on encoded arguments, and stale bytes must not leak onto the wire), also over reused memory.
TEST(Wire, PaddingIsZeroOverReusedBuffer) {
  Writer w;
  const std::vector<uint8_t> ones(4096, 0xff);
  w.put_bytes_copy(ones.data(), ones.size());
  w.clear();
  const uint8_t three[3] = {1, 2, 3};
  w.put(three);                           // 3 bytes + 5 padding
  w.put_bytes_copy(three, sizeof three);  // length, 3 bytes + 5 padding
  std::memcpy(w.put_bytes_uninit(3), three, 3);
  const std::vector<uint8_t> got = w.flatten();
  ASSERT_EQ(got.size(), 8u + 16u + 16u);
  const std::vector<uint8_t> want = {1, 2, 3, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0,
                                     3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0};
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace remora::wire
