// What the daemon compares credentials with: token digests (SHA-256, OpenSSL libcrypto) and session
// keys, each in time independent of where a guess differs. The config keeps tokens only as digests
// (daemon_config.h); who matches which tenant is DaemonConfig::authenticate and authenticate_cert,
// and the admission of a new session (tenant, credential, max_sessions) is Daemon's (admission.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace remora::daemon {

using TokenDigest = std::array<uint8_t, 32>;

// SHA-256 of `token`. All zeros if OpenSSL could not compute it, which matches no configured
// token (a configured digest of zero is refused at load).
TokenDigest sha256(std::string_view token);
// "0a1b..." (64 lowercase hex digits).
std::string to_hex(const TokenDigest& d);
// 64 hex digits, either case. False for anything else.
bool parse_hex_digest(std::string_view hex, TokenDigest* out);

// Both compare in time independent of where the values differ.
bool digests_equal(const TokenDigest& a, const TokenDigest& b);
bool keys_equal(uint64_t a, uint64_t b);

}  // namespace remora::daemon
