#include "server/handshake.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace remora::server {

namespace {

int poll_ms(transport::Deadline deadline) {
  if (deadline == transport::Deadline::max()) return -1;
  const auto left = deadline - transport::Clock::now();
  if (left <= transport::Clock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > 1000 * 1000 ? 1000 * 1000 : static_cast<int>(ms);
}

Status wait_for(int fd, short events, transport::Deadline deadline, const char* what) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, poll_ms(deadline));
    if (n > 0) return Status::Ok();
    if (n == 0 && transport::Clock::now() >= deadline) return Status(Code::kTimeout, std::string(what) + " timed out");
    if (n < 0 && errno != EINTR) return io_error(std::string(what) + ": poll", errno);
  }
}

// Reads exactly n bytes. EOF before the first byte of a frame and in its middle are both kClosed.
Status read_exact(int fd, uint8_t* buf, size_t n, transport::Deadline deadline) {
  size_t got = 0;
  while (got < n) {
    // Poll first: the descriptor may be blocking, and the deadline must hold either way.
    if (Status st = wait_for(fd, POLLIN, deadline, "handshake read"); !st.ok()) return st;
    const ssize_t r = ::read(fd, buf + got, n - got);
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    if (r == 0) return Status(Code::kClosed, "peer closed the connection during the handshake");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return io_error("read", errno);
  }
  return Status::Ok();
}

}  // namespace

std::vector<uint8_t> frame_message(protocol::MessageType type, const wire::Writer& body) {
  protocol::MessageHeader header{};
  header.magic = protocol::kMagic;
  header.type = static_cast<uint16_t>(type);
  const std::vector<uint8_t> flat = body.flatten();
  const uint64_t length = sizeof header + flat.size();
  std::vector<uint8_t> out(sizeof length + length);
  std::memcpy(out.data(), &length, sizeof length);
  std::memcpy(out.data() + sizeof length, &header, sizeof header);
  if (!flat.empty()) std::memcpy(out.data() + sizeof length + sizeof header, flat.data(), flat.size());
  return out;
}

std::vector<uint8_t> refuse_frame(const std::string& reason) {
  wire::Writer w;
  w.put_string(reason.c_str());
  return frame_message(protocol::MessageType::kRefuse, w);
}

std::vector<uint8_t> welcome_frame(const protocol::Welcome& welcome) {
  wire::Writer w;
  protocol::encode(welcome, &w);
  return frame_message(protocol::MessageType::kWelcome, w);
}

Status write_all(int fd, std::span<const uint8_t> bytes, transport::Deadline deadline) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    // send() rather than write() for MSG_NOSIGNAL; fall back to write() for pipes.
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = ::write(fd, bytes.data() + sent, bytes.size() - sent);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET) return Status(Code::kClosed, "peer closed the connection");
    if (errno != EAGAIN && errno != EWOULDBLOCK) return io_error("send", errno);
    if (Status st = wait_for(fd, POLLOUT, deadline, "handshake write"); !st.ok()) return st;
  }
  return Status::Ok();
}

Status read_frame(int fd, std::vector<uint8_t>* message, size_t max_bytes, transport::Deadline deadline) {
  uint64_t length = 0;
  if (Status st = read_exact(fd, reinterpret_cast<uint8_t*>(&length), sizeof length, deadline); !st.ok()) return st;
  if (length > max_bytes) {
    return Status(Code::kTooLarge, "handshake message of " + std::to_string(length) + " bytes (limit " +
                                       std::to_string(max_bytes) + ")");
  }
  message->resize(length);
  return read_exact(fd, message->data(), length, deadline);
}

Status open_message(std::span<const uint8_t> message, protocol::MessageType type, wire::Reader* body) {
  protocol::MessageHeader header{};
  if (message.size() < sizeof header) return Status(Code::kMalformed, "message shorter than its header");
  std::memcpy(&header, message.data(), sizeof header);
  if (header.magic != protocol::kMagic) return Status(Code::kMalformed, "not a remora message (bad magic)");
  if (header.type != static_cast<uint16_t>(type)) {
    return Status(Code::kMalformed, "unexpected message type " + std::to_string(header.type) + " (expected " +
                                        std::to_string(static_cast<uint16_t>(type)) + ")");
  }
  *body = wire::Reader(message.data() + sizeof header, message.size() - sizeof header);
  return Status::Ok();
}

Status parse_hello(std::span<const uint8_t> message, protocol::Hello* hello) {
  wire::Reader r;
  if (Status st = open_message(message, protocol::MessageType::kHello, &r); !st.ok()) return st;
  if (!protocol::decode(&r, hello)) return Status(Code::kMalformed, std::string("malformed Hello: ") + r.why());
  return Status::Ok();
}

FrameReader::Result FrameReader::read_some(int fd) {
  for (;;) {
    uint8_t* dst;
    size_t want;
    if (length_got_ < sizeof length_bytes_) {
      dst = length_bytes_ + length_got_;
      want = sizeof length_bytes_ - length_got_;
    } else {
      if (message_got_ == message_.size()) return Result::kDone;
      dst = message_.data() + message_got_;
      want = message_.size() - message_got_;
    }
    const ssize_t n = ::read(fd, dst, want);
    if (n == 0) {
      error_ = "peer closed the connection before finishing its Hello";
      return Result::kError;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Result::kMore;
      error_ = std::string("read: ") + std::strerror(errno);
      return Result::kError;
    }
    if (length_got_ < sizeof length_bytes_) {
      length_got_ += static_cast<size_t>(n);
      if (length_got_ == sizeof length_bytes_) {
        std::memcpy(&length_, length_bytes_, sizeof length_);
        if (length_ > max_bytes_) {
          error_ = "Hello of " + std::to_string(length_) + " bytes is over the limit of " + std::to_string(max_bytes_);
          return Result::kError;
        }
        message_.resize(length_);
      }
    } else {
      message_got_ += static_cast<size_t>(n);
    }
  }
}

void encode(const ControlRecord& r, wire::Writer* w) {
  w->put_u32(ControlRecord::kVersion);
  w->put_u64(r.session);
  w->put_u64(r.session_key);
  w->put_bytes_copy(r.hello.data(), r.hello.size());
  w->put_string(r.vendor_library.c_str());
  w->put_string(r.conn_kind.c_str());
}

bool decode(wire::Reader* r, ControlRecord* out) {
  if (r->get_u32() != ControlRecord::kVersion) {
    r->fail("control record version differs (daemon and session binaries differ)");
    return false;
  }
  out->session = r->get_u64();
  out->session_key = r->get_u64();
  auto hello = r->get_bytes(nullptr, kMaxHelloBytes);
  out->hello.assign(hello.begin(), hello.end());
  const char* vendor = r->get_string();
  const char* kind = r->get_string();
  if (!r->ok()) return false;
  out->vendor_library = vendor != nullptr ? vendor : "";
  out->conn_kind = kind != nullptr ? kind : "";
  return true;
}

}  // namespace remora::server
