#include "transport/tls_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common/log.h"

namespace remora::transport {

namespace {

// One SSL_write takes at most this much: a few records, so one busy link cannot hold the loop long.
constexpr size_t kWriteChunk = 64 * 1024;

// A byte queue: appended at the back, consumed from the front.
struct Queue {
  std::string bytes;
  size_t head = 0;
  size_t size() const { return bytes.size() - head; }
  bool empty() const { return size() == 0; }
  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(bytes.data()) + head; }
  void consume(size_t n) {
    head += n;
    if (head == bytes.size()) {
      bytes.clear();
      head = 0;
    } else if (head > kRelayBuffer) {
      bytes.erase(0, head);
      head = 0;
    }
  }
};

}  // namespace

struct TlsRelay::Link {
  std::unique_ptr<TlsServerConn> tls;
  Fd plain;
  std::string name;
  Queue to_plain;  // decrypted from the guest, for the session
  Queue to_tls;    // from the session, for the guest
  size_t retry_len = 0;  // an SSL_write to repeat with the same length (OpenSSL's rule)
  bool tls_in_done = false;
  bool plain_in_done = false;
  bool failed = false;
  short tls_events = 0;
  std::string why;

  // Moves whatever can move without waiting. Returns true once the link is finished.
  bool pump();
  short plain_events() const {
    short e = 0;
    if (!plain_in_done && to_tls.size() < kRelayBuffer) e |= POLLIN;
    if (!to_plain.empty()) e |= POLLOUT;
    return e;
  }
};

bool TlsRelay::Link::pump() {
  tls_events = 0;
  for (bool progress = true; progress && !failed;) {
    progress = false;
    // Guest -> session.
    if (!tls_in_done && to_plain.size() < kRelayBuffer) {
      const size_t before = to_plain.bytes.size();
      switch (tls->read(&to_plain.bytes, kRelayBuffer - to_plain.size())) {
        case TlsServerConn::Step::kDone:
          progress = to_plain.bytes.size() != before;
          break;
        case TlsServerConn::Step::kWantRead:
          tls_events |= POLLIN;
          break;
        case TlsServerConn::Step::kWantWrite:
          tls_events |= POLLOUT;
          break;
        case TlsServerConn::Step::kError:
          tls_in_done = true;
          why = "guest side: " + tls->error();
          break;
      }
    }
    while (!to_plain.empty()) {
      const ssize_t n = ::send(plain.get(), to_plain.data(), to_plain.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        to_plain.consume(static_cast<size_t>(n));
        progress = true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      failed = true;
      why = "the session process is gone";
      break;
    }
    // Session -> guest.
    if (!plain_in_done && to_tls.size() < kRelayBuffer) {
      char buf[64 * 1024];
      const ssize_t n = ::recv(plain.get(), buf, std::min(sizeof buf, kRelayBuffer - to_tls.size()), MSG_DONTWAIT);
      if (n > 0) {
        to_tls.bytes.append(buf, static_cast<size_t>(n));
        progress = true;
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        plain_in_done = true;
        if (why.empty()) why = "the session ended";
      }
    }
    while (!to_tls.empty()) {
      const size_t len = retry_len != 0 ? retry_len : std::min(to_tls.size(), kWriteChunk);
      size_t written = 0;
      const TlsServerConn::Step s = tls->write(to_tls.data(), len, &written);
      if (s == TlsServerConn::Step::kDone) {
        retry_len = 0;
        to_tls.consume(written);
        progress = true;
        continue;
      }
      if (s == TlsServerConn::Step::kError) {
        failed = true;
        why = "guest side: " + tls->error();
        break;
      }
      retry_len = len;
      tls_events |= s == TlsServerConn::Step::kWantRead ? POLLIN : POLLOUT;
      break;
    }
  }
  if (failed) return true;
  if (tls_in_done && to_plain.empty()) return true;
  if (plain_in_done && to_tls.empty()) {
    tls->close_notify();
    return true;
  }
  return false;
}

TlsRelay::TlsRelay() = default;

TlsRelay::~TlsRelay() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake();
  if (thread_.joinable()) thread_.join();
}

Status TlsRelay::start() {
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_.valid()) return io_error("eventfd", errno);
  thread_ = std::thread([this] { loop(); });
  return Status::Ok();
}

void TlsRelay::wake() {
  const uint64_t one = 1;
  if (wake_fd_.valid()) {
    ssize_t ignored = ::write(wake_fd_.get(), &one, sizeof one);
    (void)ignored;
  }
}

void TlsRelay::add(std::unique_ptr<TlsServerConn> tls, Fd plain, std::string early, std::string name) {
  auto link = std::make_unique<Link>();
  const int flags = ::fcntl(plain.get(), F_GETFL);
  ::fcntl(plain.get(), F_SETFL, flags | O_NONBLOCK);
  link->tls = std::move(tls);
  link->plain = std::move(plain);
  link->to_plain.bytes = std::move(early);
  link->name = std::move(name);
  {
    std::lock_guard lock(mu_);
    incoming_.push_back(std::move(link));
    ++count_;
  }
  wake();
}

size_t TlsRelay::links() const {
  std::lock_guard lock(mu_);
  return count_;
}

void TlsRelay::loop() {
  std::vector<std::unique_ptr<Link>> links;
  std::vector<pollfd> fds;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      for (auto& l : incoming_) links.push_back(std::move(l));
      incoming_.clear();
    }
    // Every link is pumped on every wake-up: simple, and cheap next to the crypto of the bytes moved.
    // TODO(perf): pump only the links whose sockets are ready once there are many.
    size_t ended = 0;
    std::erase_if(links, [&](const std::unique_ptr<Link>& l) {
      if (!l->pump()) return false;
      log::debug("TLS relay for {} closed: {}", l->name, l->why.empty() ? "done" : l->why);
      ++ended;
      return true;
    });
    if (ended != 0) {
      std::lock_guard lock(mu_);
      count_ -= ended;
    }
    fds.clear();
    fds.push_back(pollfd{wake_fd_.get(), POLLIN, 0});
    for (const auto& l : links) {
      fds.push_back(pollfd{l->tls->fd(), l->tls_events, 0});
      fds.push_back(pollfd{l->plain.get(), l->plain_events(), 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
      log::error("TLS relay: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[0].revents != 0) {
      uint64_t n = 0;
      ssize_t ignored = ::read(wake_fd_.get(), &n, sizeof n);
      (void)ignored;
    }
  }
}

}  // namespace remora::transport
