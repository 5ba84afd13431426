#include "transport/endpoint.h"

#include <sys/un.h>

#include <charconv>

namespace remora::transport {

namespace {

constexpr std::string_view kForms =
    "expected \"unix:/path/to.sock\", \"tcp:HOST:PORT\", \"tcp:[IPv6]:PORT\" or \"tls:HOST:PORT\"";

Status bad(std::string_view text, std::string_view why) {
  return Status(Code::kInvalid, "bad endpoint \"" + std::string(text) + "\": " + std::string(why) + "; " +
                                    std::string(kForms));
}

}  // namespace

Status Endpoint::parse(std::string_view text, Endpoint* out) {
  Endpoint ep;
  if (text.starts_with("unix:")) {
    ep.kind = Kind::kUnix;
    ep.path = std::string(text.substr(5));
    if (ep.path.empty()) return bad(text, "empty socket path");
    // sun_path holds the path and its NUL.
    if (ep.path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return bad(text, "socket path longer than " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
    }
    if (ep.path.find('\0') != std::string::npos) return bad(text, "NUL in socket path");
    *out = std::move(ep);
    return Status::Ok();
  }
  if (text.starts_with("tcp:") || text.starts_with("tls:")) {
    ep.kind = text.starts_with("tls:") ? Kind::kTls : Kind::kTcp;
    std::string_view rest = text.substr(4);
    std::string_view host;
    std::string_view port;
    if (rest.starts_with('[')) {
      const size_t close = rest.find(']');
      if (close == std::string_view::npos) return bad(text, "missing ']' after the IPv6 address");
      host = rest.substr(1, close - 1);
      if (close + 1 >= rest.size() || rest[close + 1] != ':') return bad(text, "missing \":PORT\"");
      port = rest.substr(close + 2);
    } else {
      const size_t colon = rest.rfind(':');
      if (colon == std::string_view::npos) return bad(text, "missing \":PORT\"");
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (host.find(':') != std::string_view::npos) return bad(text, "an IPv6 address needs brackets");
    }
    if (host.empty()) return bad(text, "empty host");
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
      return bad(text, "port must be a number from 0 to 65535");
    }
    ep.host = std::string(host);
    ep.port = static_cast<uint16_t>(value);
    *out = std::move(ep);
    return Status::Ok();
  }
  return bad(text, "unknown scheme");
}

std::string Endpoint::str() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  const char* scheme = kind == Kind::kTls ? "tls:" : "tcp:";
  if (host.find(':') != std::string::npos) return scheme + ("[" + host + "]:") + std::to_string(port);
  return scheme + host + ":" + std::to_string(port);
}

Status parse_transport_kind(std::string_view text, TransportKind* out) {
  if (text == "shm") {
    *out = TransportKind::kShm;
  } else if (text == "unix") {
    *out = TransportKind::kUnix;
  } else if (text == "tcp") {
    *out = TransportKind::kTcp;
  } else {
    return Status(Code::kInvalid, "unknown transport \"" + std::string(text) + "\"; expected shm, unix or tcp");
  }
  return Status::Ok();
}

const char* transport_kind_name(TransportKind k) {
  switch (k) {
    case TransportKind::kShm:
      return "shm";
    case TransportKind::kUnix:
      return "unix";
    case TransportKind::kTcp:
      return "tcp";
  }
  return "unknown";
}

}  // namespace remora::transport
