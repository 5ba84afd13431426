// Framed handshake messages on a raw socket, for the daemon and the session process.
//
// Before a session's channels exist, the connection carries a few messages in the stream channel's
// framing (transport/sockets.h: u64 length, then the message): the guest's Hello, then the server's
// Welcome or Refuse. They are read and written here on the bare descriptor because the same socket is
// handed on afterwards (to a session process, or to the shm transport), so nothing past a frame may be
// consumed and no Channel may own the descriptor yet.
//
// The daemon reads Hellos from many clients in one poll loop, so FrameReader reads incrementally from
// a non-blocking socket and never waits; the blocking helpers take a deadline.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/status.h"
#include "common/wire.h"
#include "transport/channel.h"

namespace remora::server {

// A Hello is small (names, a token); anything larger is refused before it is buffered.
inline constexpr size_t kMaxHelloBytes = 64 * 1024;

// One whole message as it goes on the wire: u64 length, MessageHeader{magic, type}, then `body`.
std::vector<uint8_t> frame_message(protocol::MessageType type, const wire::Writer& body);
// The frame of a Refuse: its body is the reason (wire put_string).
std::vector<uint8_t> refuse_frame(const std::string& reason);
// The frame of a Welcome.
std::vector<uint8_t> welcome_frame(const protocol::Welcome& welcome);

// Writes all of `bytes` (waiting on a non-blocking socket), never raising SIGPIPE.
Status write_all(int fd, std::span<const uint8_t> bytes, transport::Deadline deadline);
// Reads one frame (u64 length then the message) of at most `max_bytes`, and nothing past it.
Status read_frame(int fd, std::vector<uint8_t>* message, size_t max_bytes, transport::Deadline deadline);

// Checks a message's header is a Hello and decodes the Hello after it. The Hello of a different
// wire version decodes only as far as its version (protocol.cpp), which check_hello then reports.
Status parse_hello(std::span<const uint8_t> message, protocol::Hello* hello);
// Checks a message's header is `type` and returns a reader over its body.
Status open_message(std::span<const uint8_t> message, protocol::MessageType type, wire::Reader* body);

// Incremental reader of one frame from a non-blocking socket.
class FrameReader {
 public:
  explicit FrameReader(size_t max_bytes) : max_bytes_(max_bytes) {}

  enum class Result { kMore, kDone, kError };
  // Reads what is available. kDone: message() holds the whole message. kError: error() says why
  // (peer closed, too large, I/O error); the connection is to be dropped.
  Result read_some(int fd);

  const std::vector<uint8_t>& message() const { return message_; }
  std::vector<uint8_t> take_message() { return std::move(message_); }
  const std::string& error() const { return error_; }

 private:
  size_t max_bytes_;
  uint8_t length_bytes_[8] = {};
  size_t length_got_ = 0;
  uint64_t length_ = 0;
  std::vector<uint8_t> message_;
  size_t message_got_ = 0;
  std::string error_;
};

// What the daemon tells a new session process (server/session_process.h), over the control socket
// in the same framing. Encoded with wire::Writer.
struct ControlRecord {
  static constexpr uint32_t kVersion = 1;  // daemon and session are built together; checked anyway
  uint64_t session = 0;
  uint64_t session_key = 0;
  std::vector<uint8_t> hello;  // the Hello message as received (MessageHeader + body)
  std::string vendor_library;  // empty: the API's default
  std::string conn_kind;       // "unix", "tcp" or "tls": the listener that accepted the connection
};
void encode(const ControlRecord& r, wire::Writer* w);
bool decode(wire::Reader* r, ControlRecord* out);

// Payload sent with the events connection's descriptor.
struct EventsHandoff {
  uint64_t session;
};

}  // namespace remora::server
