// Socket plumbing shared by the stream and shared-memory transports: listening, dialing, framed
// handshake messages, and passing file descriptors over unix sockets.
#pragma once

#include <memory>
#include <span>

#include "common/status.h"
#include "transport/channel.h"
#include "transport/endpoint.h"

namespace remora::transport {

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Binds and listens. A unix path that exists and has no listener is replaced; one with a live
// listener is an error ("address in use"). TCP port 0 picks a free port (see bound_endpoint).
Status listen_on(const Endpoint& ep, Fd* out);
// The endpoint a listening socket is actually bound to (resolves tcp port 0).
Status bound_endpoint(int listen_fd, const Endpoint& requested, Endpoint* out);
// Waits for a connection; kTimeout at the deadline. The accepted socket is blocking, CLOEXEC, and for
// TCP has TCP_NODELAY and keepalive set.
Status accept_on(int listen_fd, Fd* out, Deadline deadline);
// Connects, with TCP_NODELAY and keepalive for TCP.
Status dial(const Endpoint& ep, Fd* out, Deadline deadline);

// The peer's process id on a unix socket (SO_PEERCRED); 0 if unknown.
pid_t peer_pid(int fd);
// Human-readable peer for logs.
std::string peer_name(int fd);

// Sends/receives one file descriptor with a small payload over a unix socket (SCM_RIGHTS).
Status send_fd(int sock, int fd_to_send, std::span<const uint8_t> payload);
Status recv_fd(int sock, Fd* fd_out, std::span<uint8_t> payload, Deadline deadline);

// A Channel over a connected stream socket. Framing: u64 length, then the message bytes.
// Reads exactly one frame at a time, so no bytes past it are consumed (the handshake relies on this
// before handing the socket to the shm transport). `kind` is "unix" or "tcp".
// A frame begun must complete with progress at least every `message_timeout` (see kMessageTimeout).
// A receive on a dry socket polls it for up to `spin` (adaptive, see spin.h) before it blocks.
inline constexpr std::chrono::nanoseconds kStreamSpin = std::chrono::microseconds(50);
// For the guest's calls channel: a call is in flight, so its reply will come (see shm.cpp, reply_spin).
inline constexpr std::chrono::nanoseconds kStreamReplySpin = std::chrono::microseconds(100);
inline constexpr size_t kDefaultMaxStreamMessage = size_t{1} << 34;
std::unique_ptr<Channel> make_stream_channel(Fd fd, const char* kind, size_t max_message = kDefaultMaxStreamMessage,
                                             std::chrono::milliseconds message_timeout = kMessageTimeout,
                                             std::chrono::nanoseconds spin = kStreamSpin);

// How long a TCP peer may stay unreachable before its socket fails (ETIMEDOUT): keepalive probes on an
// idle connection, TCP_USER_TIMEOUT on unacknowledged data. Sockets from accept_on and dial get
// kTcpTimeout (channel.h); set_tcp_timeout changes it for one socket (best effort, a no-op on
// non-TCP sockets).
void set_tcp_timeout(int fd, std::chrono::milliseconds timeout);

}  // namespace remora::transport
