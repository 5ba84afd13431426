// Accepting connections, TLS termination and the Hello: everything before a session exists. Each
// connection is a Pending in the poll loop until its Hello is read (or its deadline passes); then it
// is refused, handed to admission and a new session process (channel 0), or passed on to its
// session as the events connection (channel 1).
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "daemon/credentials.h"
#include "daemon/daemon_impl.h"

namespace remora::daemon {

namespace {

// Sends a Refuse without waiting: the socket is non-blocking and the message small. A peer whose
// receive buffer is full just does not learn the reason.
void refuse_now(int fd, const std::string& reason) {
  const std::vector<uint8_t> frame = server::refuse_frame(reason);
  Status st = server::write_all(fd, frame, Clock::now());
  if (!st.ok()) log::debug("could not send a refusal: {}", st.str());
}

}  // namespace

void Daemon::Impl::accept_calls(Listener& l) {
  const char* kind = l.endpoint.kind == transport::Endpoint::Kind::kTls   ? "tls"
                     : l.endpoint.kind == transport::Endpoint::Kind::kTcp ? "tcp"
                                                                          : "unix";
  for (int i = 0; i < kAcceptBurst; ++i) {
    Fd fd;
    // The listener is non-blocking, so a past deadline makes this a poll: kTimeout when none waits.
    Status st = transport::accept_on(l.fd.get(), &fd, Clock::now());
    if (st.code() == Code::kTimeout) return;
    if (!st.ok()) {
      // EMFILE and friends: log and let the loop go on (the connection stays queued).
      log::warn("accept on {}: {}", l.endpoint.str(), st.str());
      return;
    }
    if (pending.size() >= opt.max_pending) {
      log::warn("{} connections in their handshake already: closing a new one from {}", pending.size(),
                transport::peer_name(fd.get()));
      continue;
    }
    if (Status nb = set_nonblocking(fd.get(), true); !nb.ok()) {
      log::warn("{}", nb.str());
      continue;
    }
    auto p = std::make_unique<Pending>();
    p->peer = transport::peer_name(fd.get());
    p->fd = std::move(fd);
    p->deadline = transport::after(opt.handshake_timeout);
    p->kind = kind;
    log::debug("connection from {} on {}", p->peer, l.endpoint.str());
    pending.push_back(std::move(p));
  }
}

void Daemon::Impl::refuse(Pending& p, const std::string& reason) {
  if (!p.tls) return refuse_now(p.fd.get(), reason);
  // Through TLS, without waiting: the frame is small and the handshake has just emptied the socket's
  // send buffer, so it goes at once or the guest does not learn the reason.
  const std::vector<uint8_t> frame = server::refuse_frame(reason);
  size_t written = 0;
  if (p.tls->write(frame.data(), frame.size(), &written) != transport::TlsServerConn::Step::kDone || written != frame.size()) {
    log::debug("could not send a refusal over TLS: {}", p.tls->error());
  }
  p.tls->close_notify();
}

Status Daemon::Impl::relay_pair(Pending& p, Fd* session_end) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return io_error("socketpair", errno);
  Fd ours(sv[0]);
  session_end->reset(sv[1]);
  // Plaintext that followed the Hello in the TLS stream (none from a well-behaved guest, which waits
  // for the Welcome) goes first.
  relay->add(std::move(p.tls), std::move(ours), std::move(p.tls_in), p.peer);
  return Status::Ok();
}

void Daemon::Impl::on_tls_pending(Pending& p) {
  using Step = transport::TlsServerConn::Step;
  if (!p.tls) {
    // A TLS client opens with a handshake record (content type 22). Anything else is most likely a
    // guest dialling tcp: at a tls: port: tell it so in its own framing rather than fail the handshake.
    uint8_t first = 0;
    const ssize_t n = ::recv(p.fd.get(), &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      p.done = true;
      return;
    }
    if (n < 0) return;
    if (first != 0x16) {
      log::warn("refusing {}: not a TLS client on a tls: endpoint", p.peer);
      p.done = true;
      return refuse_now(p.fd.get(), "this endpoint speaks TLS: connect with tls:HOST:PORT (and trust its CA with --tls-ca)");
    }
    if (Status st = transport::TlsServerConn::create(*tls_ctx, std::move(p.fd), &p.tls); !st.ok()) {
      log::error("TLS for {}: {}", p.peer, st.str());
      p.done = true;
      return;
    }
  }
  if (!p.tls_ready) {
    switch (p.tls->handshake()) {
      case Step::kWantRead:
        p.events = POLLIN;
        return;
      case Step::kWantWrite:
        p.events = POLLOUT;
        return;
      case Step::kError: {
        log::warn("dropping a connection from {}: {}", p.peer, p.tls->error());
        // The alert is sent; half-close and take what the guest already sent, so that closing does
        // not answer it with a reset that could overtake the alert.
        ::shutdown(p.tls->fd(), SHUT_WR);
        char sink[4096];
        while (::recv(p.tls->fd(), sink, sizeof sink, MSG_DONTWAIT) > 0) {
        }
        p.done = true;
        return;
      }
      case Step::kDone:
        p.tls_ready = true;
        p.cert_subject = p.tls->peer().subject;
        if (!p.cert_subject.empty()) log::debug("{}: client certificate {}", p.peer, p.cert_subject);
        break;
    }
  }
  // The Hello's frame: u64 length, then the message (as over a plain socket).
  const size_t want = sizeof(uint64_t) + kMaxHelloBytes;
  const Step r = p.tls->read(&p.tls_in, want > p.tls_in.size() ? want - p.tls_in.size() : 1);
  if (r == Step::kWantRead || r == Step::kWantWrite) {
    p.events = r == Step::kWantRead ? POLLIN : POLLOUT;
    return;
  }
  if (r == Step::kError) {
    log::info("dropping a connection from {}: {}", p.peer, p.tls->error());
    p.done = true;
    return;
  }
  p.events = POLLIN;
  if (p.tls_in.size() < sizeof(uint64_t)) return;
  uint64_t length = 0;
  std::memcpy(&length, p.tls_in.data(), sizeof length);
  if (length > kMaxHelloBytes) {
    log::info("dropping a connection from {}: a Hello of {} bytes (the limit is {})", p.peer, length, kMaxHelloBytes);
    p.done = true;
    return;
  }
  if (p.tls_in.size() < sizeof length + length) return;
  const auto* begin = reinterpret_cast<const uint8_t*>(p.tls_in.data()) + sizeof length;
  std::vector<uint8_t> bytes(begin, begin + length);
  p.tls_in.erase(0, sizeof length + length);
  on_hello(p, std::move(bytes));
}

void Daemon::Impl::on_hello(Pending& p, std::vector<uint8_t> bytes) {
  p.done = true;
  protocol::Hello h;
  if (Status st = server::parse_hello(bytes, &h); !st.ok()) {
    log::warn("refusing {}: {}", p.peer, st.message());
    return refuse(p, st.message());
  }
  // What the daemon itself must agree on: the framing version, the ABI and the channel. The API and
  // its version are the session process's to check (it knows the APIs).
  if (h.wire_version != protocol::kWireVersion || h.abi != protocol::kAbiTag || h.channel > 1) {
    const std::string why = protocol::check_hello(h, h.api);
    log::warn("refusing {} (pid {}, program \"{}\"): {}", p.peer, h.pid, h.program, why);
    return refuse(p, why);
  }
  if (h.channel == 1) return on_events_hello(p, h);
  std::string tenant, auth, why;
  TenantState* t = admit(h, p, &tenant, &auth, &why);
  if (t == nullptr) return refuse(p, why);
  spawn_session(p, h, std::move(bytes), tenant, *t, auth);
}

void Daemon::Impl::on_events_hello(Pending& p, const protocol::Hello& h) {
  auto it = sessions.find(h.session);
  // One answer for an unknown session and a wrong key: the refusal must not tell which ids exist.
  if (it == sessions.end() || !keys_equal(it->second.key, h.session_key)) {
    log::warn("refusing an events connection from {}: unknown session {} or wrong key", p.peer, h.session);
    return refuse(p, "unknown session or wrong session key for the events channel");
  }
  SessionEntry& s = it->second;
  if (s.events_passed) {
    log::warn("refusing a second events connection for session {} from {}", s.id, p.peer);
    return refuse(p, "the session already has its events channel");
  }
  Fd conn;  // what the session gets: the socket itself, or with TLS its end of the relay
  if (p.tls) {
    if (Status st = relay_pair(p, &conn); !st.ok()) {
      log::error("session {}: {}", s.id, st.str());
      return refuse(p, "the server is out of resources");
    }
  } else {
    if (Status st = set_nonblocking(p.fd.get(), false); !st.ok()) return refuse(p, st.message());
    conn = std::move(p.fd);
  }
  server::EventsHandoff handoff{s.id};
  Status st = transport::send_fd(s.control.get(), conn.get(),
                                 std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&handoff), sizeof handoff));
  if (!st.ok()) {
    log::warn("passing the events connection to session {}: {}", s.id, st.str());
    if (!p.tls && !p.fd.valid()) p.fd = std::move(conn);
    return refuse(p, "the session is gone");
  }
  s.events_passed = true;
  log::debug("session {}: events connection passed on", s.id);
}

}  // namespace remora::daemon
