// The unix and tcp backends: a Channel over a connected stream socket.
//
// Frame: u64 length (host byte order: both sides share an ABI, which the handshake inside the first
// frame checks), then the bytes. Exactly one frame is read per receive and nothing past it, so the
// handshake can hand the same socket to the shm transport afterwards.
//
// Waiting: a receive whose socket is dry polls it without blocking for an adaptive window (spin.h)
// before it blocks in poll(). A blocked receiver on another CPU costs 30-40 us to wake on this
// project's VMs, each way, which was most of a TCP round trip; a loopback send queues the bytes on
// the receiver's socket within the sender's own system call, so a polling receiver sees them at once.
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <cerrno>
#include <vector>

#include "transport/sockets.h"
#include "transport/spin.h"

namespace remora::transport {

namespace {

// Once a frame has begun, the receive deadline no longer applies (returning kTimeout mid-frame would
// lose the framing); instead the peer must make progress at least every `message_timeout`, or the
// channel is given up as broken: a guest that sends half a message and then nothing holds no server
// thread for longer than that. close() interrupts the wait at any time.
class StreamChannel final : public Channel {
 public:
  StreamChannel(Fd fd, const char* kind, size_t max_message, std::chrono::milliseconds message_timeout,
                std::chrono::nanoseconds spin)
      : fd_(std::move(fd)), kind_(kind), max_message_(max_message), message_timeout_(message_timeout), spin_(spin) {}
  // The descriptor is closed only here, never in close(): another thread may still be inside a
  // system call on it, and a closed number could be reused by an unrelated open.
  ~StreamChannel() override = default;

  Status send(std::span<const wire::Segment> segments) override;
  Status receive(Message* out, Deadline deadline) override;
  void expect_pause() override { spin_.skip_next(); }
  void close() override;
  size_t max_message_size() const override { return max_message_; }
  const char* kind() const override { return kind_; }

 private:
  enum class Read { kDone, kEof, kTimeout, kStalled, kError };
  Read read_exact(uint8_t* buf, size_t n, Deadline deadline, bool in_frame, int* err);
  Status closed_status(const char* what) const {
    return Status(Code::kClosed, closed_.load(std::memory_order_acquire) ? std::string(kind_) + " channel closed"
                                                                         : std::string(what));
  }
  // Stops the channel after an error that lost the framing: later calls fail with kClosed.
  void break_channel() { close(); }

  Fd fd_;
  const char* kind_;
  size_t max_message_;
  std::chrono::milliseconds message_timeout_;
  AdaptiveSpin spin_;  // the receiver's (one receiver at a time)
  std::atomic<bool> closed_{false};
  std::vector<iovec> iov_;  // reused by send (sends on one channel are serialised by the caller)
};

Status StreamChannel::send(std::span<const wire::Segment> segments) {
  if (closed_.load(std::memory_order_acquire)) return closed_status("");
  uint64_t total = 0;
  for (const wire::Segment& s : segments) total += s.size;
  if (total > max_message_) {
    return Status(Code::kTooLarge, "message of " + std::to_string(total) + " bytes exceeds the " + kind_ +
                                       " channel's limit of " + std::to_string(max_message_));
  }
  iov_.clear();
  iov_.push_back(iovec{&total, sizeof total});
  for (const wire::Segment& s : segments) {
    if (s.size != 0) iov_.push_back(iovec{const_cast<uint8_t*>(s.data), s.size});
  }
  // Gather-write straight from the caller's segments; a partial write advances through the iovecs.
  size_t first = 0;
  while (first < iov_.size()) {
    msghdr msg{};
    msg.msg_iov = &iov_[first];
    msg.msg_iovlen = std::min<size_t>(iov_.size() - first, IOV_MAX);
    const ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      Status st = err == EPIPE || err == ECONNRESET || closed_.load(std::memory_order_acquire)
                      ? closed_status("peer closed the connection")
                      : io_error(std::string(kind_) + " send", err);
      break_channel();
      return st;
    }
    size_t left = static_cast<size_t>(n);
    while (left > 0 && left >= iov_[first].iov_len) left -= iov_[first++].iov_len;
    if (left > 0) {
      iov_[first].iov_base = static_cast<uint8_t*>(iov_[first].iov_base) + left;
      iov_[first].iov_len -= left;
    }
  }
  return Status::Ok();
}

StreamChannel::Read StreamChannel::read_exact(uint8_t* buf, size_t n, Deadline deadline, bool in_frame, int* err) {
  size_t got = 0;
  auto stall_deadline = Clock::now() + message_timeout_;
  // Between messages (waiting for a reply or the next request) a dry socket is polled by recv
  // itself for the adaptive window (spin.h) before poll() blocks: a message that comes meanwhile
  // costs no extra system call. Inside a frame the rest is already on its way, and a large one is
  // paced by the sender's copying: block at once.
  std::chrono::nanoseconds spin{-1};  // -1: not decided yet; 0: done or none
  Deadline spin_until{};
  while (got < n) {
    // Try first: a ready message costs one system call, and poll only runs when the socket is dry.
    const ssize_t r = ::recv(fd_.get(), buf + got, n - got, MSG_DONTWAIT);
    if (r > 0) {
      if (spin.count() > 0) spin_.record(Clock::now() <= spin_until);  // late: preempted, see spin.h
      spin = std::chrono::nanoseconds(0);
      got += static_cast<size_t>(r);
      if (!in_frame) in_frame = true;
      stall_deadline = Clock::now() + message_timeout_;
      continue;
    }
    if (r == 0) return Read::kEof;
    if (errno == EINTR) continue;
    if (errno == ECONNRESET || errno == EPIPE) return Read::kEof;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      *err = errno;
      return Read::kError;
    }
    if (!in_frame && spin.count() != 0) {
      if (spin.count() < 0) {
        spin = spin_.next_window();
        spin_until = Clock::now() + spin;
      }
      if (spin.count() > 0) {
        if (Clock::now() < spin_until && !closed_.load(std::memory_order_relaxed)) continue;
        spin_.record(false);
        spin = std::chrono::nanoseconds(0);
      }
    }
    const Deadline until = in_frame ? stall_deadline : deadline;
    int timeout_ms = -1;
    if (until != Deadline::max()) {
      const auto left = until - Clock::now();
      timeout_ms = left <= Clock::duration::zero()
                       ? 0
                       : static_cast<int>(std::min<int64_t>(
                             std::chrono::ceil<std::chrono::milliseconds>(left).count(), 1000 * 1000));
    }
    pollfd p{fd_.get(), POLLIN, 0};
    const int pr = ::poll(&p, 1, timeout_ms);
    if (pr < 0 && errno != EINTR) {
      *err = errno;
      return Read::kError;
    }
    if (pr == 0 && Clock::now() >= until) return in_frame ? Read::kStalled : Read::kTimeout;
    if (closed_.load(std::memory_order_acquire)) return Read::kEof;
  }
  return Read::kDone;
}

Status StreamChannel::receive(Message* out, Deadline deadline) {
  if (closed_.load(std::memory_order_acquire)) return closed_status("");
  uint64_t length = 0;
  int err = 0;
  Read r = read_exact(reinterpret_cast<uint8_t*>(&length), sizeof length, deadline, false, &err);
  if (r == Read::kDone) {
    if (length > max_message_) {
      // The rest of the frame cannot be skipped cheaply, so the stream is lost.
      break_channel();
      return Status(Code::kTooLarge, "incoming message of " + std::to_string(length) + " bytes exceeds the " +
                                         kind_ + " channel's limit of " + std::to_string(max_message_));
    }
    // The peer chose the length: a host that cannot hold it ends the channel, it must not throw.
    uint8_t* body = out->try_own(length);
    if (body == nullptr) {
      break_channel();
      return Status(Code::kTooLarge, "no host memory for an incoming message of " + std::to_string(length) +
                                         " bytes on the " + kind_ + " channel");
    }
    r = read_exact(body, length, deadline, true, &err);
    if (r == Read::kDone) return Status::Ok();
    out->reset();
  }
  switch (r) {
    case Read::kTimeout:
      return Status(Code::kTimeout, std::string(kind_) + " receive timed out");
    case Read::kEof: {
      Status st = closed_status("peer closed the connection");
      break_channel();
      return st;
    }
    case Read::kStalled:
      break_channel();
      return Status(Code::kMalformed, "peer sent part of a message and nothing more for " +
                                          std::to_string(message_timeout_.count()) + " ms (message timeout)");
    case Read::kError:
      break_channel();
      return io_error(std::string(kind_) + " receive", err);
    case Read::kDone:
      break;
  }
  return Status::Ok();
}

void StreamChannel::close() {
  // shutdown wakes a thread blocked in poll/recv/sendmsg on this socket (they see EOF or EPIPE) and
  // tells the peer; the flag then turns those results into "channel closed".
  if (!closed_.exchange(true, std::memory_order_acq_rel)) ::shutdown(fd_.get(), SHUT_RDWR);
}

}  // namespace

std::unique_ptr<Channel> make_stream_channel(Fd fd, const char* kind, size_t max_message,
                                             std::chrono::milliseconds message_timeout, std::chrono::nanoseconds spin) {
  return std::make_unique<StreamChannel>(std::move(fd), kind, max_message, message_timeout, spin);
}

}  // namespace remora::transport
