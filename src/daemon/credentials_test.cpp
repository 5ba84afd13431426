#include "daemon/credentials.h"

#include <gtest/gtest.h>

namespace remora::daemon {
namespace {

// printf %s secret | sha256sum
constexpr const char* kSecretSha = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

TEST(Credentials, Sha256MatchesCoreutils) { EXPECT_EQ(to_hex(sha256("secret")), kSecretSha); }

TEST(Credentials, HexDigestsRoundTripInEitherCase) {
  TokenDigest d{};
  ASSERT_TRUE(parse_hex_digest(kSecretSha, &d));
  EXPECT_TRUE(digests_equal(d, sha256("secret")));
  std::string upper = kSecretSha;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_TRUE(parse_hex_digest(upper, &d));
  EXPECT_EQ(to_hex(d), kSecretSha);
  EXPECT_FALSE(parse_hex_digest("abc", &d));
  EXPECT_FALSE(parse_hex_digest(std::string(64, 'g'), &d));
  EXPECT_FALSE(digests_equal(sha256("secret"), sha256("Secret")));
}

TEST(Credentials, KeysEqualOnlyWhenEqual) {
  EXPECT_TRUE(keys_equal(0x1234, 0x1234));
  EXPECT_FALSE(keys_equal(0x1234, 0x1235));
  EXPECT_FALSE(keys_equal(uint64_t{1} << 63, 0));
}

}  // namespace
}  // namespace remora::daemon
