// TLS over TCP (OpenSSL 3): contexts, the guest's Channel over TLS, and the daemon's non-blocking
// server side.
//
// Who terminates TLS: the daemon (daemon/daemon.h) accepts, runs the server handshake and reads the
// Hello in its poll loop (TlsServerConn, never blocking), authenticates (a token, or a verified
// client certificate), and then relays the connection's plaintext to the session process over a unix
// socketpair (TlsRelay, transport/tls_relay.h). The session process thus sees an ordinary stream
// socket. The TLS state cannot cross exec (OpenSSL cannot export a live connection), and the events
// connection must be routed by its Hello, which is only readable inside TLS; terminating in the
// daemon keeps both the routing and the authentication where they already are.
// TODO(perf): the relay puts the daemon's thread in the data path (one copy and the crypto for every
// TLS session). Kernel TLS (install the negotiated keys on the socket, then pass the descriptor)
// would remove it where the kernel module is available.
//
// The guest side is a Channel (TlsChannel) with the stream channel's framing and deadlines. Sockets
// are written with MSG_NOSIGNAL through a small BIO of our own, so a peer that went away never raises
// SIGPIPE in the application that hosts the guest library.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "transport/channel.h"
#include "transport/endpoint.h"
#include "transport/sockets.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace remora::transport {

// PEM files. Private keys are read by OpenSSL and never logged or copied into messages.
struct TlsServerConfig {
  std::string cert;       // certificate chain (leaf first)
  std::string key;        // its private key
  std::string client_ca;  // CA(s) that client certificates must chain to; empty: none asked for
  bool require_client_cert = false;  // refuse a handshake without a valid client certificate
  bool enabled() const { return !cert.empty() || !key.empty() || !client_ca.empty(); }
};

struct TlsClientConfig {
  std::string ca;    // CA(s) the server's certificate must chain to; empty: the system's store
  std::string cert;  // optional client certificate (with key)
  std::string key;
};

// An SSL_CTX, shared by every connection made from it.
class TlsContext {
 public:
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // TLS 1.2 or newer. Errors name the file and OpenSSL's reason.
  static Status server(const TlsServerConfig& config, std::shared_ptr<TlsContext>* out);
  static Status client(const TlsClientConfig& config, std::shared_ptr<TlsContext>* out);
  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// What a verified client certificate says. Empty subject: no certificate, or one that did not verify.
struct TlsPeerIdentity {
  std::string subject;  // RFC 2253, e.g. "CN=alice,O=Example"
};

// The guest side: dials nothing, takes a connected TCP socket, runs the client handshake within the
// deadline (verifying the server's certificate against `ctx`'s CAs and its name against `server_name`,
// a DNS name or an IP literal), and returns a Channel over the TLS connection. Errors say what failed
// (untrusted certificate, wrong name, the server refused our certificate, not a TLS server).
Status tls_connect(Fd fd, const TlsContext& ctx, const std::string& server_name, Deadline deadline,
                   std::unique_ptr<Channel>* out, size_t max_message = size_t{1} << 34);

// Dials `ep` and returns a stream Channel over it: plain for unix: and tcp:, TLS for tls: (then `tls`
// must be given; the server name checked is the endpoint's host).
Status dial_channel(const Endpoint& ep, const TlsContext* tls, Deadline deadline, std::unique_ptr<Channel>* out,
                    std::chrono::milliseconds tcp_timeout = kTcpTimeout,
                    std::chrono::nanoseconds spin = kStreamSpin);

// The daemon side of one connection, driven from a poll loop: the socket is non-blocking and no call
// here waits. Owns the socket.
class TlsServerConn {
 public:
  enum class Step { kWantRead, kWantWrite, kDone, kError };

  static Status create(const TlsContext& ctx, Fd fd, std::unique_ptr<TlsServerConn>* out);
  ~TlsServerConn();

  int fd() const { return fd_.get(); }
  // Advances the handshake. kError: error() says why.
  Step handshake();
  // Reads available plaintext into `buf` (appends at most `max` bytes). kDone: something was read or
  // nothing more is buffered; kWantRead/kWantWrite: wait for the socket; kError: closed or broken.
  Step read(std::string* buf, size_t max);
  // Writes plaintext: *written says how much was taken (kDone), possibly less than `size`.
  Step write(const uint8_t* data, size_t size, size_t* written);
  // Sends close_notify (best effort, never waits).
  void close_notify();
  // The verified client certificate, after the handshake.
  TlsPeerIdentity peer() const;
  const std::string& error() const { return error_; }

 private:
  TlsServerConn() = default;
  Fd fd_;
  SSL* ssl_ = nullptr;
  std::string error_;
};

// OpenSSL's error queue as one line (and cleared), for messages.
std::string tls_errors();

}  // namespace remora::transport
