#include "daemon/credentials.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace remora::daemon {

TokenDigest sha256(std::string_view token) {
  TokenDigest d{};
  unsigned int len = 0;
  // EVP_Digest is one-shot and thread-safe; it fails only on allocation failure.
  if (EVP_Digest(token.data(), token.size(), d.data(), &len, EVP_sha256(), nullptr) != 1 || len != d.size()) d.fill(0);
  return d;
}

std::string to_hex(const TokenDigest& d) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(d.size() * 2);
  for (uint8_t b : d) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

bool parse_hex_digest(std::string_view hex, TokenDigest* out) {
  if (hex.size() != out->size() * 2) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < out->size(); ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

bool digests_equal(const TokenDigest& a, const TokenDigest& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

bool keys_equal(uint64_t a, uint64_t b) {
  // Every bit is looked at whatever the result, so the time taken says nothing about where a
  // guessed key differs. volatile keeps the compiler from short-circuiting.
  volatile uint64_t diff = a ^ b;
  return diff == 0;
}

}  // namespace remora::daemon
