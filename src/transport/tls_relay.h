// Relays TLS connections to plain stream sockets: the daemon's half of TLS termination (tls.h says
// why the daemon terminates). Each link joins a TLS connection whose handshake is done (and whose
// Hello the daemon has read) to the daemon's end of a unix socketpair whose other end a session
// process owns. One thread with one poll loop serves every link; nothing in it blocks, and each
// direction buffers at most kRelayBuffer bytes, so a slow reader holds back only its own link.
//
// A link ends when either side is gone: what the other side had sent is delivered first where the
// receiver still takes it, then both sockets are closed (the session sees EOF, the guest a
// close_notify and EOF).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "transport/sockets.h"
#include "transport/tls.h"

namespace remora::transport {

inline constexpr size_t kRelayBuffer = 256 * 1024;

class TlsRelay {
 public:
  TlsRelay();
  ~TlsRelay();  // stops the thread and closes every link
  TlsRelay(const TlsRelay&) = delete;
  TlsRelay& operator=(const TlsRelay&) = delete;

  Status start();
  // Hands a link over. `early` is plaintext already read from `tls` past the Hello, to deliver
  // before anything else. Thread-safe.
  void add(std::unique_ptr<TlsServerConn> tls, Fd plain, std::string early, std::string name);
  // Links still open (for tests and status).
  size_t links() const;

 private:
  struct Link;
  void loop();
  void wake();

  Fd wake_fd_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Link>> incoming_;  // under mu_
  size_t count_ = 0;                             // under mu_
  bool stop_ = false;                            // under mu_
};

}  // namespace remora::transport
