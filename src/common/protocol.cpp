// The handshake's encoding. encode/decode cover the fields after the MessageHeader, in the order of
// the structs in protocol.h; the caller writes and checks the header itself.
#include "common/protocol.h"

#include <fmt/format.h>

#include <algorithm>

namespace remora::protocol {

namespace {

// Caps on the handshake's strings: the Hello arrives before anything is known about the peer.
constexpr uint64_t kMaxNameBytes = 256;     // api, tenant
constexpr uint64_t kMaxLongBytes = 4096;    // token, program
// Opcodes in a Hello: each takes 16 bytes on the wire, so the whole table stays well inside
// server::kMaxHelloBytes.
constexpr uint64_t kMaxHelloOpcodes = 4096;

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

std::vector<OpcodeSignature> OpcodeTable::list() const {
  std::vector<OpcodeSignature> out;
  for (uint32_t op = 0; op < count; ++op)
    if (signatures[op] != 0) out.push_back({op, signatures[op]});
  return out;
}

ServedOpcodes ServedOpcodes::all(uint32_t count) {
  ServedOpcodes s;
  s.bits_.assign((count + 7) / 8, 0xff);
  return s;
}

void ServedOpcodes::add(uint32_t op) {
  if (op > kMaxOpcode) return;
  if (op / 8 >= bits_.size()) bits_.resize(op / 8 + 1, 0);
  bits_[op / 8] |= static_cast<uint8_t>(1u << (op % 8));
}

ServedOpcodes negotiate(const std::vector<OpcodeSignature>& guest, const OpcodeTable& server,
                        std::vector<std::string>* notes) {
  ServedOpcodes served;
  // Every byte of the bitmap up to the guest's highest opcode is present, so the guest can tell "not
  // served" from "past the end" (both mean not served, either way).
  uint32_t highest = 0;
  for (const OpcodeSignature& g : guest) highest = std::max(highest, g.opcode);
  if (!guest.empty()) served = ServedOpcodes(std::vector<uint8_t>(highest / 8 + 1, 0));
  for (const OpcodeSignature& g : guest) {
    const bool known = g.opcode < server.count && server.signatures[g.opcode] != 0;
    if (known && server.signatures[g.opcode] == g.signature) {
      served.add(g.opcode);
      continue;
    }
    if (notes == nullptr) continue;
    if (!known)
      notes->push_back(fmt::format("opcode {} is not served here (this server's spec has no such function); the "
                                   "guest gets \"not supported\" for it",
                                   g.opcode));
    else
      notes->push_back(fmt::format("opcode {} ({}) has signature {:#018x} in the guest and {:#018x} here: not "
                                   "served (the two specs declare it differently)",
                                   g.opcode, server.names[g.opcode], g.signature, server.signatures[g.opcode]));
  }
  return served;
}

namespace {

void put_opcodes(wire::Writer* w, const std::vector<OpcodeSignature>& ops) {
  w->put_u64(ops.size());
  for (const OpcodeSignature& o : ops) {
    w->put_u32(o.opcode);
    w->put_u64(o.signature);
  }
}

bool get_opcodes(wire::Reader* r, std::vector<OpcodeSignature>* ops) {
  const uint64_t n = r->get_u64();
  if (!r->ok()) return false;
  // Each entry takes 16 bytes (a u32 padded to 8, a u64): a count beyond the message is malformed
  // before anything is allocated for it.
  if (n > kMaxHelloOpcodes || n > r->remaining() / 16) {
    r->fail("too many opcodes in the handshake");
    return false;
  }
  ops->resize(n);
  for (OpcodeSignature& o : *ops) {
    o.opcode = r->get_u32();
    o.signature = r->get_u64();
    if (r->ok() && o.opcode > kMaxOpcode) {
      r->fail("an opcode above the largest one the handshake allows");
      return false;
    }
  }
  return r->ok();
}

}  // namespace

void encode(const Hello& h, wire::Writer* w) {
  w->put_u32(h.wire_version);
  w->put_u32(h.abi);
  put_str(w, h.api);
  put_opcodes(w, h.opcodes);
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
  get_opcodes(r, &h->opcodes);
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
  w->put_bytes_copy(h.served.bits().data(), h.served.bits().size());
}

bool decode(wire::Reader* r, Welcome* h) {
  h->wire_version = r->get_u32();
  h->session = r->get_u64();
  h->session_key = r->get_u64();
  h->server_pid = r->get<int32_t>();
  bool absent = false;
  const auto bits = r->get_bytes(&absent, kMaxOpcode / 8 + 1);
  if (r->ok() && !absent) h->served = ServedOpcodes(std::vector<uint8_t>(bits.begin(), bits.end()));
  return r->ok();
}

std::string check_hello(const Hello& h, const std::string& api) {
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
  if (h.channel > 1) return fmt::format("unknown channel {} in the Hello (expected 0 or 1)", h.channel);
  return "";
}

}  // namespace remora::protocol
