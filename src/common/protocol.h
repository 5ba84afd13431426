// Message framing and the handshake, shared by guest and server.
//
// A session has two channels (transport/channel.h):
//   calls   guest -> server: Batch messages;  server -> guest: Reply messages
//   events  server -> guest only: Callback and Deferred-data messages (one-way, never replied to)
//
// Every message starts with a MessageHeader. A Batch carries one or more call records back to back;
// only the last may be synchronous (the guest flushes its batch at every synchronous call), and then
// the header's tag names the guest thread waiting for the Reply.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/wire.h"

namespace remora::protocol {

// Bumped on any incompatible change to framing, the handshake or the runtime's own records; guest and
// server must agree on it exactly. An API's functions are negotiated per opcode instead (below), so a
// spec that gains, loses or changes functions keeps talking to guests and servers built before it.
//   1: one hash over an API's whole opcode table, compared in the handshake
//   2: per-opcode signatures in the Hello, the served opcodes in the Welcome
inline constexpr uint32_t kWireVersion = 2;
inline constexpr uint32_t kMagic = 0x41524d52;  // "RMRA"

enum class MessageType : uint16_t {
  kHello = 1,     // guest -> server, first message on a connection
  kWelcome = 2,   // server -> guest, handshake accepted
  kRefuse = 3,    // server -> guest, handshake refused, with a reason; the connection then closes
  kBatch = 4,     // guest -> server, call records
  kReply = 5,     // server -> guest, result of the batch's synchronous call
  kCallback = 6,  // server -> guest (events channel): u64 callback id, then the callback's arguments
  kDeferred = 7,  // server -> guest (events channel): u64 token, i64 status (0 ok), bytes
  kGoodbye = 8,   // guest -> server, orderly end of session
};

struct MessageHeader {
  uint32_t magic;
  uint16_t type;  // MessageType
  uint16_t flags;
  uint32_t tag;    // Batch/Reply: the waiting guest thread's slot; otherwise 0
  uint32_t count;  // Batch: number of call records
};
static_assert(sizeof(MessageHeader) == 16);
// MessageHeader.flags of a Batch (guest::Runtime::announce_pause): once this batch is served, the
// guest works a while before its next message (a staged copy's next chunk): the server's wait for that
// message says nothing about how fast the guest usually comes back, so it neither spins for it nor
// learns from it (spin.h).
inline constexpr uint16_t kBatchPauseFollows = 1;

// One call inside a Batch. `size` is the byte length of the arguments that follow (8-aligned).
struct CallHeader {
  uint32_t opcode;
  uint32_t flags;  // kCallSync
  uint64_t size;
};
static_assert(sizeof(CallHeader) == 16);
inline constexpr uint32_t kCallSync = 1;
// Set by the guest when more than one of its threads has made calls: the server then lets a
// blocking call run without holding the session's reader (see server/session.h).
inline constexpr uint32_t kCallConcurrent = 2;

enum class ReplyStatus : uint32_t {
  kOk = 0,
  kMalformed = 1,      // the server could not decode the call; the session is closing
  kUnknownOpcode = 2,  // the server's spec has no such opcode (version skew)
  kRefused = 3,        // refused by policy (quota, rate limit); the API error is in the body
};

// Follows the MessageHeader of a Reply.
struct ReplyHeader {
  uint32_t status;  // ReplyStatus
  // The first asynchronous call that failed since the previous reply: its opcode (0 = none) and the
  // API's error value. The guest reports it at this synchronous point (docs/generated-code.md, "Async functions").
  uint32_t async_error_opcode;
  int64_t async_error_value;
  // Number of Deferred messages the server sent on the events channel before this reply. The guest
  // returns from the call only once its events thread has applied at least that many, so data of a
  // completed non-blocking read is in place before any call that could observe the completion.
  uint64_t deferred_sent;
};
static_assert(sizeof(ReplyHeader) == 24);

// Identifies the ABI both sides must share, since scalars travel in host representation.
inline constexpr uint32_t kAbiTag = (sizeof(void*) << 24) | (sizeof(long) << 16) | (sizeof(size_t) << 8) |
#if defined(__x86_64__)
                                    1;
#elif defined(__aarch64__)
                                    2;
#else
                                    0;
#endif

// Compatibility (docs/generated-code.md, "Compatibility"). Every opcode of an API has a signature, a
// hash of what its calls look like on the wire (gen::Api::signature). The guest's Hello lists the
// opcodes it may call with their signatures; the server answers in the Welcome which of them it serves
// with the same signature. The guest answers a call of any other opcode with the API's "not supported"
// error, and the server treats such a call as malformed.
struct OpcodeSignature {
  uint32_t opcode = 0;
  uint64_t signature = 0;
};

// One side's opcode table, indexed by opcode (`count` entries). A signature of 0 marks a number the
// side does not use.
struct OpcodeTable {
  uint32_t count = 0;
  const char* const* names = nullptr;
  const uint64_t* signatures = nullptr;
  std::vector<OpcodeSignature> list() const;  // the used entries, in opcode order
};

// Opcodes above this are refused in a Hello (the served set travels as a bitmap).
inline constexpr uint32_t kMaxOpcode = 65535;

// The served set: bit i (of byte i / 8) is opcode i.
class ServedOpcodes {
 public:
  ServedOpcodes() = default;
  explicit ServedOpcodes(std::vector<uint8_t> bits) : bits_(std::move(bits)) {}
  // Every opcode below `count` (a peer that skips the negotiation: tests, Runtime::adopt).
  static ServedOpcodes all(uint32_t count);
  bool has(uint32_t op) const { return op / 8 < bits_.size() && ((bits_[op / 8] >> (op % 8)) & 1) != 0; }
  void add(uint32_t op);
  const std::vector<uint8_t>& bits() const { return bits_; }

 private:
  std::vector<uint8_t> bits_;
};

// The server's side of the negotiation: the guest's opcodes that `server` serves with the same
// signature. Every opcode it does not serve as the guest knows it gets one line in *notes (for the
// logs: the server lacks it, or its signature differs), naming the opcode and function.
ServedOpcodes negotiate(const std::vector<OpcodeSignature>& guest, const OpcodeTable& server,
                        std::vector<std::string>* notes);

// Hello: MessageHeader, then these fields encoded with wire::Writer in this order.
struct Hello {
  uint32_t wire_version = kWireVersion;
  uint32_t abi = kAbiTag;
  std::string api;           // "opencl"
  // The opcodes the guest may call, with their signatures (channel 0 only; empty on channel 1).
  std::vector<OpcodeSignature> opcodes;
  uint32_t channel = 0;      // 0: the calls channel of a new session; 1: the events channel of `session`
  uint64_t session = 0;      // for channel 1: the session id the Welcome of channel 0 returned
  uint64_t session_key = 0;  // for channel 1: the secret that came with that Welcome
  std::string tenant;        // may be empty
  std::string token;         // credential; never logged
  int32_t pid = 0;           // the guest's process id, for logs and status
  std::string program;       // the guest's program name, for logs and status
  uint32_t transport = 0;    // kTransportShm or kTransportStream: how the session's channels travel
};
inline constexpr uint32_t kTransportShm = 0;
inline constexpr uint32_t kTransportStream = 1;

struct Welcome {
  uint32_t wire_version = kWireVersion;
  uint64_t session = 0;
  uint64_t session_key = 0;
  int32_t server_pid = 0;
  ServedOpcodes served;  // channel 0: the opcodes of the Hello the server serves; empty on channel 1
};

void encode(const Hello& h, wire::Writer* w);
bool decode(wire::Reader* r, Hello* h);
void encode(const Welcome& h, wire::Writer* w);
bool decode(wire::Reader* r, Welcome* h);

// Checks a Hello against what this server speaks (wire version, ABI, API name, channel). Returns an
// empty string when acceptable, else a message for both logs that names both sides' values. The
// opcodes are negotiated, not checked (negotiate).
std::string check_hello(const Hello& h, const std::string& api);

}  // namespace remora::protocol
