// The daemon's configuration file (`remora serve --config FILE`, TOML): endpoints and tenants.
//
//   [server]
//   listen = ["unix:/run/remora/remora.sock", "tcp:0.0.0.0:7070"]
//   admin = "unix:/run/remora/admin.sock"
//   metrics = "tcp:127.0.0.1:9470"
//   vendor_library = ""
//
//   [tenants.alice]
//   token_sha256 = "<64 hex digits>"     # or: token = "plain text" (discouraged)
//   device_memory = "8GiB"               # or a number of bytes; 0 / absent: unlimited
//   max_sessions = 4                     # 0 / absent: unlimited
//   calls_per_second = 100000            # 0 / absent: unlimited
//   weight = 1                           # share of device time (fair sharing; see docs/daemon.md)
//   devices = [0, 2]                     # indices into the server's device list; absent: all
//   client_cert_subjects = ["CN=alice"]  # TLS client certificates that authenticate as alice
//
//   [tls]                                # for tls: endpoints (transport/tls.h)
//   cert = "/etc/remora/server.crt"      # PEM chain, leaf first
//   key = "/etc/remora/server.key"
//   client_ca = "/etc/remora/clients-ca.crt"   # optional: ask for client certificates from this CA
//   require_client_cert = false          # true: no handshake without a valid client certificate
//
// A tenant needs a token, client_cert_subjects, or both. A subject entry is the certificate's whole
// subject in RFC 2253 form (`openssl x509 -noout -subject -nameopt RFC2253`), compared exactly.
//
// With a config that names tenants, every new session must name one of them and present its token.
// Tokens are kept only as SHA-256 digests in memory (a plain `token` is hashed when read) and are
// compared in constant time. Nothing here ever logs a token or its digest.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "daemon/credentials.h"
#include "server/tenant_usage.h"

namespace remora::daemon {


// Limits every session process gets (`remora serve --message-timeout-ms ...`, or [server] keys of the
// same names; max_session_host_memory as a byte size). 0 for a timeout keeps the default.
struct SessionLimits {
  // A guest that has begun a message must send the rest with progress at least this often, or its
  // session ends (transport/channel.h, kMessageTimeout). Idle time between messages is not limited.
  uint64_t message_timeout_ms = 30000;
  // A TCP peer unreachable this long is given up (keepalive + TCP_USER_TIMEOUT, transport/sockets.h).
  uint64_t tcp_timeout_ms = 25000;
  // Address space a session process may add once its transport is set up (RLIMIT_AS); a transfer
  // that does not fit fails with the API's out-of-host-memory error instead of the machine's OOM
  // killer choosing a victim. 0: unlimited.
  uint64_t max_host_memory = 0;
};

struct TenantConfig {
  std::string name;
  TokenDigest token{};  // all zeros: no token (the tenant authenticates by certificate only)
  server::TenantLimits limits;
  std::vector<std::string> client_cert_subjects;  // RFC 2253 subjects; empty: no certificate login
};

// [tls]: file paths for tls: endpoints; the command line's --tls-* flags override them.
struct TlsSettings {
  std::string cert;
  std::string key;
  std::string client_ca;
  bool require_client_cert = false;
};

struct DaemonConfig {
  std::vector<std::string> listen;  // endpoint strings, as written
  std::string admin;
  std::string metrics;
  std::string vendor_library;
  SessionLimits session;
  std::map<std::string, TenantConfig> tenants;  // by name
  TlsSettings tls;

  // Parses a TOML document; `origin` names it in errors ("remora.toml"). Errors name the key and,
  // where toml++ knows it, the line.
  static Status parse(std::string_view text, const std::string& origin, DaemonConfig* out);
  static Status load(const std::string& path, DaemonConfig* out);

  // Whether sessions must authenticate: a config with at least one tenant.
  bool authenticates() const { return !tenants.empty(); }
  // The tenant whose name and token both match, or nullptr. Takes the same time whether the name is
  // unknown or the token wrong (an unknown name is compared against a dummy digest).
  const TenantConfig* authenticate(const std::string& tenant, std::string_view token) const;
  // The tenant that lists `subject` (a verified client certificate's RFC 2253 subject), or nullptr.
  const TenantConfig* authenticate_cert(const std::string& subject) const;
};

// "8GiB", "512MiB", "1000000", "2G" (decimal k/M/G/T too). False for anything else or overflow.
bool parse_byte_size(std::string_view text, uint64_t* out);

}  // namespace remora::daemon
