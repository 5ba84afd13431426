// TLS contexts, the socket BIO, the guest's TlsChannel and the daemon's TlsServerConn (tls.h).
#include "transport/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

namespace remora::transport {

namespace {

// Like the stream channel: once a frame has begun, the peer must make progress this often.
constexpr auto kStallTimeout = std::chrono::seconds(60);
// Segments smaller than this are gathered into one TLS record rather than sent one record each.
constexpr size_t kGather = 16 * 1024;

// ---- A socket BIO that never raises SIGPIPE -----------------------------------------------------
// OpenSSL's own socket BIO writes with write(2), which raises SIGPIPE on a peer that went away; a
// guest library must not do that to its host application. The descriptor is the BIO's data.

int fd_of(BIO* b) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b))); }

int bio_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  for (;;) {
    const ssize_t n = ::send(fd_of(b), data, static_cast<size_t>(len), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(b);
    return -1;
  }
}

int bio_read(BIO* b, char* data, int len) {
  BIO_clear_retry_flags(b);
  for (;;) {
    const ssize_t n = ::recv(fd_of(b), data, static_cast<size_t>(len), 0);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(b);
    return -1;
  }
}

long bio_ctrl(BIO* b, int cmd, long num, void* ptr) {
  (void)b, (void)num, (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

// The method table is immutable once made; OpenSSL wants one object that outlives every BIO using
// it, so it is made once and never freed (the only static here).
const BIO_METHOD* socket_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "remora socket");
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    return m;
  }();
  return method;
}

// Gives `ssl` a BIO over `fd` (which stays owned by the caller).
Status attach_fd(SSL* ssl, int fd) {
  BIO* bio = BIO_new(socket_method());
  if (bio == nullptr) return Status(Code::kIo, "BIO_new: " + tls_errors());
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl, bio, bio);  // one reference, taken by ssl
  return Status::Ok();
}

Status set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return io_error("fcntl(O_NONBLOCK)", errno);
  return Status::Ok();
}

int poll_ms(Deadline deadline) {
  if (deadline == Deadline::max()) return -1;
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  return static_cast<int>(std::min<int64_t>(std::chrono::ceil<std::chrono::milliseconds>(left).count(), 1000 * 1000));
}

// Waits until `fd` has `events` or the deadline passes; false at the deadline.
bool wait_for(int fd, short events, Deadline deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, poll_ms(deadline));
    if (n > 0) return true;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return true;  // let the next SSL call report the error
    if (Clock::now() >= deadline) return false;
  }
}

std::string verify_error(const SSL* ssl) {
  const long v = SSL_get_verify_result(ssl);
  return v == X509_V_OK ? std::string() : X509_verify_cert_error_string(v);
}

void apply_common(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // No resumption: every connection does a full handshake, so every one is verified afresh, and no
  // tickets arrive after the handshake.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
}

Status load_identity(SSL_CTX* ctx, const std::string& cert, const std::string& key, const char* who) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    return Status(Code::kInvalid, std::string(who) + " certificate " + cert + ": " + tls_errors());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Status(Code::kInvalid, std::string(who) + " key " + key + ": " + tls_errors());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Status(Code::kInvalid, std::string(who) + " key " + key + " does not belong to the certificate " + cert);
  }
  return Status::Ok();
}

// ---- The guest's Channel over TLS ---------------------------------------------------------------

class TlsChannel final : public Channel {
 public:
  TlsChannel(Fd fd, SSL* ssl, size_t max_message) : fd_(std::move(fd)), ssl_(ssl), max_message_(max_message) {}
  ~TlsChannel() override { SSL_free(ssl_); }

  Status send(std::span<const wire::Segment> segments) override;
  Status receive(Message* out, Deadline deadline) override;
  void close() override {
    // As in the stream channel: shutdown wakes threads polling the socket; the descriptor is closed
    // only by the destructor.
    if (!closed_.exchange(true, std::memory_order_acq_rel)) ::shutdown(fd_.get(), SHUT_RDWR);
  }
  size_t max_message_size() const override { return max_message_; }
  const char* kind() const override { return "tls"; }

 private:
  enum class Read { kDone, kEof, kTimeout, kStalled, kError };
  Status write_all(const uint8_t* data, size_t size);
  Read read_exact(uint8_t* buf, size_t n, Deadline deadline, bool in_frame, std::string* err);
  Status closed_status(const std::string& what) const {
    return Status(Code::kClosed, closed_.load(std::memory_order_acquire) ? "tls channel closed" : what);
  }

  Fd fd_;
  // One SSL object serves both directions: the receiving thread and the (serialised) senders take
  // turns under mu_, and never hold it while waiting on the socket (it is non-blocking).
  std::mutex mu_;
  SSL* ssl_;
  size_t max_message_;
  std::atomic<bool> closed_{false};
  std::vector<uint8_t> gather_;  // used by send only
  bool received_any_ = false;    // used by receive only
};

Status TlsChannel::write_all(const uint8_t* data, size_t size) {
  while (size > 0) {
    if (closed_.load(std::memory_order_acquire)) return closed_status("");
    size_t written = 0;
    int err;
    {
      std::lock_guard lock(mu_);
      ERR_clear_error();
      const int r = SSL_write_ex(ssl_, data, size, &written);
      err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
    }
    if (err == SSL_ERROR_NONE) {
      data += written;
      size -= written;
      continue;
    }
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
      wait_for(fd_.get(), err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, no_deadline());
      continue;
    }
    const int saved = errno;
    Status st = err == SSL_ERROR_SYSCALL && (saved == EPIPE || saved == ECONNRESET || saved == 0)
                    ? closed_status("peer closed the connection")
                    : closed_status("tls send: " + (err == SSL_ERROR_SSL ? tls_errors() : std::strerror(saved)));
    close();
    return st;
  }
  return Status::Ok();
}

Status TlsChannel::send(std::span<const wire::Segment> segments) {
  if (closed_.load(std::memory_order_acquire)) return closed_status("");
  uint64_t total = 0;
  for (const wire::Segment& s : segments) total += s.size;
  if (total > max_message_) {
    return Status(Code::kTooLarge, "message of " + std::to_string(total) + " bytes exceeds the tls channel's limit of " +
                                       std::to_string(max_message_));
  }
  // Small pieces (the length, headers) go out together in one record; large ones straight from the
  // caller's memory.
  gather_.clear();
  gather_.insert(gather_.end(), reinterpret_cast<const uint8_t*>(&total), reinterpret_cast<const uint8_t*>(&total + 1));
  for (const wire::Segment& s : segments) {
    if (s.size < kGather) {
      gather_.insert(gather_.end(), s.data, s.data + s.size);
      if (gather_.size() < 4 * kGather) continue;
    }
    if (Status st = write_all(gather_.data(), gather_.size()); !st.ok()) return st;
    gather_.clear();
    if (s.size >= kGather) {
      if (Status st = write_all(s.data, s.size); !st.ok()) return st;
    }
  }
  if (!gather_.empty()) return write_all(gather_.data(), gather_.size());
  return Status::Ok();
}

TlsChannel::Read TlsChannel::read_exact(uint8_t* buf, size_t n, Deadline deadline, bool in_frame, std::string* err) {
  size_t got = 0;
  auto stall_deadline = Clock::now() + kStallTimeout;
  while (got < n) {
    if (closed_.load(std::memory_order_acquire)) return Read::kEof;
    size_t r = 0;
    int e;
    std::string ssl_error;
    {
      std::lock_guard lock(mu_);
      ERR_clear_error();
      const int rc = SSL_read_ex(ssl_, buf + got, n - got, &r);
      e = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, rc);
      if (e == SSL_ERROR_SSL) ssl_error = tls_errors();
    }
    if (e == SSL_ERROR_NONE) {
      got += r;
      in_frame = true;
      stall_deadline = Clock::now() + kStallTimeout;
      continue;
    }
    if (e == SSL_ERROR_ZERO_RETURN) return Read::kEof;
    if (e == SSL_ERROR_SYSCALL) {
      if (errno == 0 || errno == ECONNRESET || errno == EPIPE) return Read::kEof;
      *err = std::strerror(errno);
      return Read::kError;
    }
    if (e == SSL_ERROR_SSL) {
      *err = ssl_error;
      return Read::kError;
    }
    const Deadline until = in_frame ? stall_deadline : deadline;
    if (!wait_for(fd_.get(), e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, until)) {
      return in_frame ? Read::kStalled : Read::kTimeout;
    }
  }
  return Read::kDone;
}

Status TlsChannel::receive(Message* out, Deadline deadline) {
  if (closed_.load(std::memory_order_acquire)) return closed_status("");
  uint64_t length = 0;
  std::string err;
  Read r = read_exact(reinterpret_cast<uint8_t*>(&length), sizeof length, deadline, false, &err);
  if (r == Read::kDone) {
    if (length > max_message_) {
      close();
      return Status(Code::kTooLarge, "incoming message of " + std::to_string(length) +
                                         " bytes exceeds the tls channel's limit of " + std::to_string(max_message_));
    }
    // As in the stream channel: a length the host cannot hold ends the channel, it must not throw.
    uint8_t* body = out->try_own(length);
    if (body == nullptr) {
      close();
      return Status(Code::kTooLarge, "no host memory for an incoming message of " + std::to_string(length) +
                                         " bytes on the tls channel");
    }
    r = read_exact(body, length, deadline, true, &err);
    if (r == Read::kDone) {
      received_any_ = true;
      return Status::Ok();
    }
    out->reset();
  }
  switch (r) {
    case Read::kTimeout:
      return Status(Code::kTimeout, "tls receive timed out");
    case Read::kEof: {
      // Before the first answer, a close is most likely the server refusing our certificate after our
      // side of the handshake had finished (TLS 1.3); its alert may have been lost to a reset.
      Status st = closed_status(received_any_ ? "peer closed the connection"
                                              : "the server closed the TLS connection before answering; it may have "
                                                "refused our client certificate, or need one (--tls-cert/--tls-key)");
      close();
      return st;
    }
    case Read::kStalled:
      close();
      return Status(Code::kClosed, "peer stalled in the middle of a message");
    case Read::kError: {
      // In TLS 1.3 the server judges our certificate after our handshake has finished, so its
      // refusal arrives here, as an alert, on the first read.
      const bool alert = err.find("alert") != std::string::npos;
      Status st = closed_status("the TLS connection failed: " + err +
                                (alert ? " (the server refused the TLS session; does it require a client "
                                         "certificate signed by a CA it trusts? see --tls-cert/--tls-key)"
                                       : ""));
      close();
      return st;
    }
    case Read::kDone:
      break;
  }
  return Status::Ok();
}

bool is_ip_literal(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

}  // namespace

std::string tls_errors() {
  std::string out;
  char buf[256];
  while (const unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    // "error:0A000086:SSL routines::certificate verify failed": the reason is the part people read.
    const char* reason = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += reason != nullptr ? reason : buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Status TlsContext::server(const TlsServerConfig& config, std::shared_ptr<TlsContext>* out) {
  if (config.cert.empty() || config.key.empty()) {
    return Status(Code::kInvalid, "a tls: endpoint needs a certificate and its key: pass --tls-cert and --tls-key, "
                                  "or set cert and key in the config's [tls] table");
  }
  if (config.require_client_cert && config.client_ca.empty()) {
    return Status(Code::kInvalid, "require_client_cert needs client_ca: the CA that client certificates must chain to");
  }
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (raw == nullptr) return Status(Code::kIo, "SSL_CTX_new: " + tls_errors());
  std::shared_ptr<TlsContext> ctx(new TlsContext(raw));
  apply_common(raw);
  if (Status st = load_identity(raw, config.cert, config.key, "server"); !st.ok()) return st;
  if (!config.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(raw, config.client_ca.c_str(), nullptr) != 1) {
      return Status(Code::kInvalid, "client CA " + config.client_ca + ": " + tls_errors());
    }
    // Ask for a certificate from these CAs. Without require_client_cert a guest may send none and
    // authenticate with a token instead; one it does send must verify.
    SSL_CTX_set_client_CA_list(raw, SSL_load_client_CA_file(config.client_ca.c_str()));
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER | (config.require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                       nullptr);
  }
  *out = std::move(ctx);
  return Status::Ok();
}

Status TlsContext::client(const TlsClientConfig& config, std::shared_ptr<TlsContext>* out) {
  SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
  if (raw == nullptr) return Status(Code::kIo, "SSL_CTX_new: " + tls_errors());
  std::shared_ptr<TlsContext> ctx(new TlsContext(raw));
  apply_common(raw);
  SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  const int loaded = config.ca.empty() ? SSL_CTX_set_default_verify_paths(raw)
                                       : SSL_CTX_load_verify_locations(raw, config.ca.c_str(), nullptr);
  if (loaded != 1) {
    return Status(Code::kInvalid, "TLS CA " + (config.ca.empty() ? std::string("(system store)") : config.ca) + ": " +
                                      tls_errors());
  }
  if (config.cert.empty() != config.key.empty()) {
    return Status(Code::kInvalid, "a client certificate needs its key and a key its certificate (REMORA_TLS_CERT and "
                                  "REMORA_TLS_KEY, or --tls-cert and --tls-key)");
  }
  if (!config.cert.empty()) {
    if (Status st = load_identity(raw, config.cert, config.key, "client"); !st.ok()) return st;
  }
  *out = std::move(ctx);
  return Status::Ok();
}

Status tls_connect(Fd fd, const TlsContext& ctx, const std::string& server_name, Deadline deadline,
                   std::unique_ptr<Channel>* out, size_t max_message) {
  if (Status st = set_nonblocking(fd.get()); !st.ok()) return st;
  SSL* ssl = SSL_new(ctx.get());
  if (ssl == nullptr) return Status(Code::kIo, "SSL_new: " + tls_errors());
  std::unique_ptr<SSL, void (*)(SSL*)> owned(ssl, SSL_free);
  if (Status st = attach_fd(ssl, fd.get()); !st.ok()) return st;
  SSL_set_connect_state(ssl);
  // The server's certificate must name the host we dialled: a DNS name (also sent as SNI) or an IP.
  if (is_ip_literal(server_name)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, server_name.c_str());
    SSL_set1_host(ssl, server_name.c_str());
  }
  for (;;) {
    ERR_clear_error();
    const int rc = SSL_connect(ssl);
    if (rc == 1) break;
    const int e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (!wait_for(fd.get(), e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        return Status(Code::kTimeout, "TLS handshake with " + server_name + " timed out");
      }
      continue;
    }
    if (std::string why = verify_error(ssl); !why.empty()) {
      return Status(Code::kRefused, "TLS: the server's certificate did not verify: " + why +
                                        " (trust the CA that signed it with --tls-ca or REMORA_TLS_CA)");
    }
    if (e == SSL_ERROR_SSL) {
      const std::string errs = tls_errors();
      const bool alert = errs.find("alert") != std::string::npos;
      return Status(Code::kRefused, "TLS handshake with " + server_name + " failed: " + errs +
                                        (alert ? " (the server refused the handshake; does it require a client "
                                                 "certificate? see --tls-cert/--tls-key)"
                                               : " (is the server's endpoint a tls: one?)"));
    }
    return Status(Code::kClosed, "TLS handshake with " + server_name +
                                     ": the server closed the connection (is its endpoint a tls: one? does it require "
                                     "a client certificate?)");
  }
  *out = std::make_unique<TlsChannel>(std::move(fd), owned.release(), max_message);
  return Status::Ok();
}

Status dial_channel(const Endpoint& ep, const TlsContext* tls, Deadline deadline, std::unique_ptr<Channel>* out,
                    std::chrono::milliseconds tcp_timeout, std::chrono::nanoseconds spin) {
  Fd fd;
  if (Status st = dial(ep, &fd, deadline); !st.ok()) return st;
  set_tcp_timeout(fd.get(), tcp_timeout);  // a no-op on unix sockets
  if (ep.kind != Endpoint::Kind::kTls) {
    *out = make_stream_channel(std::move(fd), ep.kind == Endpoint::Kind::kTcp ? "tcp" : "unix",
                               kDefaultMaxStreamMessage, kMessageTimeout, spin);
    return Status::Ok();
  }
  if (tls == nullptr) return Status(Code::kInvalid, "dialling " + ep.str() + " needs a TLS context");
  return tls_connect(std::move(fd), *tls, ep.host, deadline, out);
}

// ---- The daemon's side --------------------------------------------------------------------------

TlsServerConn::~TlsServerConn() { SSL_free(ssl_); }

Status TlsServerConn::create(const TlsContext& ctx, Fd fd, std::unique_ptr<TlsServerConn>* out) {
  std::unique_ptr<TlsServerConn> c(new TlsServerConn());
  c->ssl_ = SSL_new(ctx.get());
  if (c->ssl_ == nullptr) return Status(Code::kIo, "SSL_new: " + tls_errors());
  if (Status st = attach_fd(c->ssl_, fd.get()); !st.ok()) return st;
  SSL_set_accept_state(c->ssl_);
  c->fd_ = std::move(fd);
  *out = std::move(c);
  return Status::Ok();
}

TlsServerConn::Step TlsServerConn::handshake() {
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) return Step::kDone;
  const int e = SSL_get_error(ssl_, rc);
  if (e == SSL_ERROR_WANT_READ) return Step::kWantRead;
  if (e == SSL_ERROR_WANT_WRITE) return Step::kWantWrite;
  if (std::string why = verify_error(ssl_); !why.empty()) {
    error_ = "TLS handshake failed: the client's certificate did not verify: " + why;
  } else if (e == SSL_ERROR_SSL) {
    error_ = "TLS handshake failed: " + tls_errors();
  } else {
    error_ = "the peer closed the connection during the TLS handshake";
  }
  return Step::kError;
}

TlsServerConn::Step TlsServerConn::read(std::string* buf, size_t max) {
  size_t total = 0;
  char chunk[16 * 1024];
  while (total < max) {
    size_t got = 0;
    ERR_clear_error();
    const int rc = SSL_read_ex(ssl_, chunk, std::min(sizeof chunk, max - total), &got);
    if (rc == 1) {
      buf->append(chunk, got);
      total += got;
      continue;
    }
    const int e = SSL_get_error(ssl_, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (total > 0) return Step::kDone;
      return e == SSL_ERROR_WANT_READ ? Step::kWantRead : Step::kWantWrite;
    }
    error_ = e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL ? "peer closed the connection"
                                                                  : "TLS: " + tls_errors();
    return total > 0 ? Step::kDone : Step::kError;
  }
  return Step::kDone;
}

TlsServerConn::Step TlsServerConn::write(const uint8_t* data, size_t size, size_t* written) {
  *written = 0;
  ERR_clear_error();
  const int rc = SSL_write_ex(ssl_, data, size, written);
  if (rc == 1) return Step::kDone;
  const int e = SSL_get_error(ssl_, rc);
  if (e == SSL_ERROR_WANT_READ) return Step::kWantRead;
  if (e == SSL_ERROR_WANT_WRITE) return Step::kWantWrite;
  error_ = e == SSL_ERROR_SSL ? "TLS: " + tls_errors() : "peer closed the connection";
  return Step::kError;
}

void TlsServerConn::close_notify() {
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

TlsPeerIdentity TlsServerConn::peer() const {
  TlsPeerIdentity id;
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr || SSL_get_verify_result(ssl_) != X509_V_OK) return id;
  BIO* mem = BIO_new(BIO_s_mem());
  if (mem == nullptr) return id;
  X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(mem, &data);
  if (n > 0) id.subject.assign(data, static_cast<size_t>(n));
  BIO_free(mem);
  return id;
}

}  // namespace remora::transport
