// Where a server listens and a guest connects: "unix:/path/to.sock", "tcp:HOST:PORT" ("tcp:[::1]:7000"
// for IPv6) or "tls:HOST:PORT" (TCP with TLS, transport/tls.h), and which transport carries the
// session's channels.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace remora::transport {

struct Endpoint {
  enum class Kind { kUnix, kTcp, kTls };  // kTls: TCP addressing, TLS on top
  Kind kind = Kind::kUnix;
  std::string path;  // kUnix
  std::string host;  // kTcp, kTls
  uint16_t port = 0;  // kTcp, kTls

  // Parses an endpoint string. Errors say what form is expected.
  static Status parse(std::string_view text, Endpoint* out);
  std::string str() const;
  bool is_inet() const { return kind != Kind::kUnix; }
};

// How a session's channels travel. kShm needs a unix endpoint (the socket carries the shared memory's
// file descriptor and then only watches for the peer going away).
enum class TransportKind { kShm, kUnix, kTcp };
Status parse_transport_kind(std::string_view text, TransportKind* out);
const char* transport_kind_name(TransportKind k);

}  // namespace remora::transport
