// Fuzz target: everything a peer sends before a session exists (server/handshake.h,
// common/protocol.h). The input is both
//   - the bytes a client writes on a fresh connection: the daemon's incremental FrameReader reads
//     them from a non-blocking socket, and a complete frame goes through parse_hello and check_hello
//     (the daemon's and the session process's path), and
//   - a message body, decoded directly as a Hello, a Welcome (the guest's side) and a ControlRecord
//     (the session process's side).
// None may crash, read out of bounds or buffer more than its cap.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "common/log.h"
#include "common/protocol.h"
#include "server/handshake.h"

namespace {

using namespace remora;

void check(bool cond) {
  if (!cond) std::abort();
}

void daemon_reads(const uint8_t* data, size_t size) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
  const int buf = 1 << 20;
  ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  ::fcntl(sv[1], F_SETFL, O_NONBLOCK);
  server::FrameReader reader(server::kMaxHelloBytes);
  size_t sent = 0;
  server::FrameReader::Result res = server::FrameReader::Result::kMore;
  // Write in slices so that the reader sees partial lengths and partial bodies.
  const size_t slice = size == 0 ? 1 : 1 + data[0] % 13;
  while (res == server::FrameReader::Result::kMore) {
    if (sent < size) {
      const size_t n = std::min(slice, size - sent);
      if (::write(sv[0], data + sent, n) != static_cast<ssize_t>(n)) std::abort();
      sent += n;
    } else if (sv[0] >= 0) {
      ::close(sv[0]);  // the client stops: the reader must report it, not wait
      sv[0] = -1;
    }
    res = reader.read_some(sv[1]);
  }
  if (sv[0] >= 0) ::close(sv[0]);
  ::close(sv[1]);
  if (res == server::FrameReader::Result::kError) {
    check(!reader.error().empty());
    return;
  }
  check(reader.message().size() <= server::kMaxHelloBytes);
  protocol::Hello hello;
  if (server::parse_hello(reader.message(), &hello).ok()) {
    (void)protocol::check_hello(hello, "opencl");
  }
}

void decode_bodies(const uint8_t* data, size_t size) {
  std::vector<uint64_t> aligned((size + 7) / 8 + 1);
  std::memcpy(aligned.data(), data, size);
  const auto* p = reinterpret_cast<const uint8_t*>(aligned.data());
  {
    protocol::Hello hello;
    wire::Reader r(p, size);
    if (protocol::decode(&r, &hello)) {
      check(hello.api.size() <= 256 && hello.tenant.size() <= 256);
      (void)protocol::check_hello(hello, "opencl");
    }
  }
  {
    protocol::Welcome welcome;
    wire::Reader r(p, size);
    (void)protocol::decode(&r, &welcome);
  }
  {
    server::ControlRecord record;
    wire::Reader r(p, size);
    if (server::decode(&r, &record)) {
      check(record.hello.size() <= server::kMaxHelloBytes);
      protocol::Hello hello;
      (void)server::parse_hello(record.hello, &hello);
    }
  }
  protocol::Hello hello;
  (void)server::parse_hello(std::span<const uint8_t>(data, size), &hello);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::setenv("REMORA_LOG", "error", 0);  // read once, at the first log call
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256 * 1024) return 0;
  daemon_reads(data, size);
  decode_bodies(data, size);
  return 0;
}
