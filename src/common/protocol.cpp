// The handshake's encoding. encode/decode cover the fields after the MessageHeader, in the order of
// the structs in protocol.h; the caller writes and checks the header itself.
#include "common/protocol.h"

#include <fmt/format.h>

namespace remora::protocol {

namespace {

// Caps on the handshake's strings: the Hello arrives before anything is known about the peer.
constexpr uint64_t kMaxNameBytes = 256;     // api, tenant
constexpr uint64_t kMaxLongBytes = 4096;    // token, program

// Strings travel as length-prefixed bytes without a NUL, so any byte string round-trips.
void put_str(wire::Writer* w, const std::string& s) { w->put_bytes_copy(s.data(), s.size()); }

bool get_str(wire::Reader* r, std::string* s, uint64_t max) {
  bool absent = false;
  auto bytes = r->get_bytes(&absent, max);
  if (!r->ok()) return false;
  if (absent) {
    r->fail("absent string in the handshake");
    return false;
  }
  s->assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return true;
}

}  // namespace

void encode(const Hello& h, wire::Writer* w) {
  w->put_u32(h.wire_version);
  w->put_u32(h.abi);
  put_str(w, h.api);
  w->put_u64(h.api_version);
  w->put_u32(h.channel);
  w->put_u64(h.session);
  w->put_u64(h.session_key);
  put_str(w, h.tenant);
  put_str(w, h.token);
  w->put<int32_t>(h.pid);
  put_str(w, h.program);
  w->put_u32(h.transport);
}

bool decode(wire::Reader* r, Hello* h) {
  h->wire_version = r->get_u32();
  // Everything after the version may differ between versions; stop early so the caller can report
  // the version mismatch rather than a decoding error.
  if (r->ok() && h->wire_version != kWireVersion) return true;
  h->abi = r->get_u32();
  get_str(r, &h->api, kMaxNameBytes);
  h->api_version = r->get_u64();
  h->channel = r->get_u32();
  h->session = r->get_u64();
  h->session_key = r->get_u64();
  get_str(r, &h->tenant, kMaxNameBytes);
  get_str(r, &h->token, kMaxLongBytes);
  h->pid = r->get<int32_t>();
  get_str(r, &h->program, kMaxLongBytes);
  h->transport = r->get_u32();
  return r->ok();
}

void encode(const Welcome& h, wire::Writer* w) {
  w->put_u32(h.wire_version);
  w->put_u64(h.session);
  w->put_u64(h.session_key);
  w->put<int32_t>(h.server_pid);
}

bool decode(wire::Reader* r, Welcome* h) {
  h->wire_version = r->get_u32();
  h->session = r->get_u64();
  h->session_key = r->get_u64();
  h->server_pid = r->get<int32_t>();
  return r->ok();
}

std::string check_hello(const Hello& h, const std::string& api, uint64_t api_version) {
  if (h.wire_version != kWireVersion) {
    return fmt::format("wire format version {} (guest) does not match {} (server); upgrade one side",
                       h.wire_version, kWireVersion);
  }
  if (h.abi != kAbiTag) {
    return fmt::format("ABI {:#010x} (guest) does not match {:#010x} (server): pointer/long/size_t sizes or "
                       "architecture differ",
                       h.abi, kAbiTag);
  }
  if (h.api != api) return fmt::format("API \"{}\" (guest) is not served here (server serves \"{}\")", h.api, api);
  if (h.api_version != api_version) {
    return fmt::format("{} API version {:#018x} (guest) does not match {:#018x} (server); the guest library and "
                       "the server were generated from different specs",
                       api, h.api_version, api_version);
  }
  if (h.channel > 1) return fmt::format("unknown channel {} in the Hello (expected 0 or 1)", h.channel);
  return "";
}

}  // namespace remora::protocol
