#include "transport/sockets.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace remora::transport {

namespace {

// Keepalive probes per timeout (set_tcp_timeout): idle + interval * count spans the timeout.
constexpr int kKeepCount = 3;

// Milliseconds to pass to poll() for a deadline: -1 for none, 0 when already past, rounded up so
// that a wake-up is never before the deadline.
int poll_timeout_ms(Deadline deadline) {
  if (deadline == Deadline::max()) return -1;
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > 1000 * 1000 ? 1000 * 1000 : static_cast<int>(ms);
}

// Polls one fd for `events` until ready or the deadline. Ok when ready (including error/hangup
// conditions, which the following call reports).
Status wait_fd(int fd, short events, Deadline deadline, const char* what) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, poll_timeout_ms(deadline));
    if (n > 0) return Status::Ok();
    if (n == 0) {
      if (Clock::now() >= deadline) return Status(Code::kTimeout, std::string(what) + " timed out");
      continue;  // woke early (rounding): wait out the rest
    }
    if (errno != EINTR) return io_error(std::string(what) + ": poll", errno);
  }
}

bool is_tcp_socket(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
  return ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
}

void set_tcp_options(int fd) {
  // Best effort: a failure here costs latency or dead-peer detection time, not correctness.
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  set_tcp_timeout(fd, kTcpTimeout);
}

bool unix_address(const std::string& path, sockaddr_un* sa) {
  *sa = {};
  sa->sun_family = AF_UNIX;
  if (path.size() >= sizeof sa->sun_path) return false;
  std::memcpy(sa->sun_path, path.data(), path.size());
  return true;
}

Status resolve(const Endpoint& ep, bool passive, addrinfo** out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG;
  const std::string port = std::to_string(ep.port);
  const int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, out);
  if (rc != 0) return Status(Code::kIo, "cannot resolve " + ep.str() + ": " + ::gai_strerror(rc));
  return Status::Ok();
}

// Connects `fd` to `sa` within the deadline, via a non-blocking connect; leaves the socket blocking.
Status connect_with_deadline(int fd, const sockaddr* sa, socklen_t len, Deadline deadline, const std::string& what) {
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, sa, len);
  // EINTR leaves the connect running asynchronously, like EINPROGRESS. EAGAIN (a unix listener
  // with a full backlog) is a failure: the socket is not connecting.
  if (rc != 0 && errno != EINPROGRESS && errno != EINTR) return io_error("connect to " + what, errno);
  if (rc != 0) {
    Status st = wait_fd(fd, POLLOUT, deadline, ("connect to " + what).c_str());
    if (!st.ok()) return st;
    int err = 0;
    socklen_t elen = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
    if (err != 0) return io_error("connect to " + what, err);
  }
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return Status::Ok();
}

}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

// A peer that vanished without a FIN/RST (host crash, cut cable, link down between namespaces) is
// noticed after about `timeout` instead of the kernel's two hours: on an idle connection by keepalive
// (idle = timeout / 2, then kKeepCount probes spread over the other half), with data in flight by
// TCP_USER_TIMEOUT. Either way the socket then fails with ETIMEDOUT and a blocked receive or send
// returns. Granularity is one second for keepalive; the minimum is 2 s.
void set_tcp_timeout(int fd, std::chrono::milliseconds timeout) {
  if (!is_tcp_socket(fd)) return;
  const int64_t s = std::max<int64_t>(2, std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
  const int one = 1;
  const int idle = static_cast<int>(std::max<int64_t>(1, s / 2));
  const int interval = static_cast<int>(std::max<int64_t>(1, (s - idle) / kKeepCount));
  const unsigned user_timeout_ms = static_cast<unsigned>(std::min<int64_t>(s * 1000, INT32_MAX));
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &kKeepCount, sizeof kKeepCount);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

void Fd::reset(int fd) {
  // close() is not retried on EINTR: on Linux the descriptor is released regardless.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Status listen_on(const Endpoint& ep, Fd* out) {
  if (ep.kind == Endpoint::Kind::kUnix) {
    sockaddr_un sa;
    if (!unix_address(ep.path, &sa)) return Status(Code::kInvalid, "socket path too long: " + ep.path);
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return io_error("socket", errno);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      if (errno != EADDRINUSE) return io_error("bind " + ep.str(), errno);
      // The path exists. If something accepts connections there, it is in use; if it is a socket
      // nobody listens on (a server that died), replace it. Never remove a file that is not a socket.
      struct stat st {};
      if (::lstat(ep.path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
        return Status(Code::kIo, "bind " + ep.str() + ": the path exists and is not a socket");
      }
      Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 || errno != ECONNREFUSED) {
        return Status(Code::kIo, "bind " + ep.str() + ": address in use (another server is listening there)");
      }
      if (::unlink(ep.path.c_str()) != 0 && errno != ENOENT) return io_error("remove stale socket " + ep.path, errno);
      if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return io_error("bind " + ep.str(), errno);
    }
    if (::listen(fd.get(), SOMAXCONN) != 0) return io_error("listen " + ep.str(), errno);
    *out = std::move(fd);
    return Status::Ok();
  }

  addrinfo* ai = nullptr;
  if (Status st = resolve(ep, /*passive=*/true, &ai); !st.ok()) return st;
  Status last(Code::kIo, "no address for " + ep.str());
  for (addrinfo* a = ai; a != nullptr; a = a->ai_next) {
    Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd.valid()) {
      last = io_error("socket", errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
      last = io_error("bind " + ep.str(), errno);
      continue;
    }
    if (::listen(fd.get(), SOMAXCONN) != 0) {
      last = io_error("listen " + ep.str(), errno);
      continue;
    }
    ::freeaddrinfo(ai);
    *out = std::move(fd);
    return Status::Ok();
  }
  ::freeaddrinfo(ai);
  return last;
}

Status bound_endpoint(int listen_fd, const Endpoint& requested, Endpoint* out) {
  *out = requested;
  if (requested.kind == Endpoint::Kind::kUnix) return Status::Ok();
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return io_error("getsockname", errno);
  if (ss.ss_family == AF_INET) {
    out->port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    out->port = ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  } else {
    return Status(Code::kInvalid, "not a TCP socket");
  }
  return Status::Ok();
}

Status accept_on(int listen_fd, Fd* out, Deadline deadline) {
  for (;;) {
    if (Status st = wait_fd(listen_fd, POLLIN, deadline, "accept"); !st.ok()) return st;
    // accept4 without SOCK_NONBLOCK returns a blocking socket whatever the listener's mode.
    Fd fd(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd.valid()) {
      // The connection may have gone between poll and accept, or another thread took it.
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED || errno == EPROTO) continue;
      return io_error("accept", errno);
    }
    if (is_tcp_socket(fd.get())) set_tcp_options(fd.get());
    *out = std::move(fd);
    return Status::Ok();
  }
}

Status dial(const Endpoint& ep, Fd* out, Deadline deadline) {
  if (ep.kind == Endpoint::Kind::kUnix) {
    sockaddr_un sa;
    if (!unix_address(ep.path, &sa)) return Status(Code::kInvalid, "socket path too long: " + ep.path);
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return io_error("socket", errno);
    Status st = connect_with_deadline(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa, deadline, ep.str());
    if (!st.ok()) return st;
    *out = std::move(fd);
    return Status::Ok();
  }
  // TODO(robustness): getaddrinfo ignores the deadline; use numeric hosts where that matters.
  addrinfo* ai = nullptr;
  if (Status st = resolve(ep, /*passive=*/false, &ai); !st.ok()) return st;
  Status last(Code::kIo, "no address for " + ep.str());
  for (addrinfo* a = ai; a != nullptr; a = a->ai_next) {
    Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd.valid()) {
      last = io_error("socket", errno);
      continue;
    }
    last = connect_with_deadline(fd.get(), a->ai_addr, a->ai_addrlen, deadline, ep.str());
    if (!last.ok()) {
      if (last.code() == Code::kTimeout) break;
      continue;
    }
    set_tcp_options(fd.get());
    ::freeaddrinfo(ai);
    *out = std::move(fd);
    return Status::Ok();
  }
  ::freeaddrinfo(ai);
  return last;
}

pid_t peer_pid(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) return 0;
  return cred.pid;
}

std::string peer_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "unknown peer";
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  if (ss.ss_family == AF_UNIX) {
    const pid_t pid = peer_pid(fd);
    return pid > 0 ? "pid " + std::to_string(pid) : "unix peer";
  }
  return "unknown peer";
}

Status send_fd(int sock, int fd_to_send, std::span<const uint8_t> payload) {
  // SCM_RIGHTS needs at least one byte of real data on a stream socket.
  if (payload.empty()) return Status(Code::kInvalid, "send_fd needs a payload");
  iovec iov{const_cast<uint8_t*>(payload.data()), payload.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd_to_send, sizeof(int));
  ssize_t n;
  do {
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EPIPE || errno == ECONNRESET) return Status(Code::kClosed, "peer closed while passing a descriptor");
    return io_error("sendmsg(SCM_RIGHTS)", errno);
  }
  // The descriptor went with the first byte; the rest of a short write is plain data.
  size_t sent = static_cast<size_t>(n);
  while (sent < payload.size()) {
    n = ::send(sock, payload.data() + sent, payload.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("send", errno);
    sent += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status recv_fd(int sock, Fd* fd_out, std::span<uint8_t> payload, Deadline deadline) {
  if (payload.empty()) return Status(Code::kInvalid, "recv_fd needs a payload buffer");
  Fd received;
  size_t got = 0;
  while (got < payload.size()) {
    if (Status st = wait_fd(sock, POLLIN, deadline, "receiving a descriptor"); !st.ok()) return st;
    iovec iov{payload.data() + got, payload.size() - got};
    // Room for a few descriptors, so that extra ones a hostile peer sends are received and closed
    // rather than truncated away.
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == ECONNRESET) return Status(Code::kClosed, "peer closed while passing a descriptor");
      return io_error("recvmsg(SCM_RIGHTS)", errno);
    }
    if (n == 0) return Status(Code::kClosed, "peer closed while passing a descriptor");
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        if (!received.valid()) {
          received.reset(fd);
        } else {
          ::close(fd);  // only one is expected
        }
      }
    }
    if (msg.msg_flags & MSG_CTRUNC) return Status(Code::kMalformed, "descriptor message truncated");
    got += static_cast<size_t>(n);
  }
  if (!received.valid()) return Status(Code::kMalformed, "expected a file descriptor, got plain data");
  *fd_out = std::move(received);
  return Status::Ok();
}

}  // namespace remora::transport
