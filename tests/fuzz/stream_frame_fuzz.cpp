// Fuzz target: the stream channel's framing (transport/stream_channel.cpp: u64 length, then the
// message), the receive path of every unix and tcp session, on both sides: what a hostile guest
// sends the server and what a compromised server sends the guest.
//
// The input's first byte picks the channel's limit and how the bytes arrive; the rest is what the
// peer writes on the socket, as slices of any length (a slice byte, then that many bytes). A real
// channel (make_stream_channel) receives from a socketpair until it fails:
//   - delivery 0: a writer thread sends the slices one by one (the first 15, then the rest at once)
//     and then closes its end, so the receiver meets partial lengths, partial bodies and EOF
//     anywhere, at whatever points the scheduler makes; nothing the receiver reports may depend on
//     them;
//   - delivery 1: everything is written first and the end stays open, so the receiver finds the
//     socket dry at the end: between frames a receive times out (its deadline has passed), inside a
//     frame the message timeout (0 here) breaks the channel. Then the end closes.
// What the receiver reports is checked against a model of the framing built from the same bytes:
// each whole frame within the limit is received, byte for byte, in order; a length over the limit
// is kTooLarge; a frame cut short by EOF is kClosed, by a stall kMalformed; after a failure that
// lost the framing every receive fails (kClosed). The process has only 4 GiB of address space above
// what it had at start (RLIMIT_AS, as a guest under `ulimit -v` or in a small container might), so a
// length within the limit that the host cannot back must end the channel with kTooLarge; it used to
// throw std::bad_alloc out of receive(), which in the guest library would have ended the application
// (regress-length-no-memory).
//
// The TLS relay (transport/tls_relay.cpp) parses nothing: it moves plaintext between a TLS
// connection and a socketpair in bounded queues, and the session process reads that socketpair
// with this same stream channel. The guest's TlsChannel (tls.cpp) frames like this one.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "transport/sockets.h"

namespace {

using namespace remora;
using namespace remora::transport;
using namespace std::chrono_literals;

[[noreturn]] void fail(const char* why) {
  std::fprintf(stderr, "stream_frame_fuzz: %s\n", why);
  std::abort();
}

void check(bool cond, const char* why) {
  if (!cond) fail(why);
}

// The writer thread's writes per input (delivery 0).
constexpr size_t kMaxWrites = 16;

// A length above this may find no memory (RLIMIT_AS above): kTooLarge is then a right answer too.
constexpr uint64_t kMayNotFit = uint64_t{1} << 30;

// What the receiver must report, in order.
struct Expected {
  Code code;
  size_t offset = 0, size = 0;  // kOk: the message's bytes in the stream
  bool may_not_fit = false;     // kTooLarge is right too
};

// The model: frames over `stream`, ending at EOF (delivery 0) or a dry socket that stays open (1).
std::vector<Expected> model(const std::vector<uint8_t>& stream, uint64_t limit, bool stays_open) {
  std::vector<Expected> out;
  size_t at = 0;
  for (;;) {
    const size_t left = stream.size() - at;
    if (left < sizeof(uint64_t)) {
      // Between frames: nothing more (a timeout while the end is open, then the close), or part of
      // a length: inside a frame already.
      if (stays_open) out.push_back({left == 0 ? Code::kTimeout : Code::kMalformed});
      out.push_back({Code::kClosed});
      return out;
    }
    uint64_t length;
    std::memcpy(&length, stream.data() + at, sizeof length);
    at += sizeof length;
    if (length > limit) {
      out.push_back({Code::kTooLarge});
      out.push_back({Code::kClosed});
      return out;
    }
    if (stream.size() - at < length) {
      out.push_back({stays_open ? Code::kMalformed : Code::kClosed, 0, 0, length > kMayNotFit});
      out.push_back({Code::kClosed});
      return out;
    }
    out.push_back({Code::kOk, at, static_cast<size_t>(length)});
    at += length;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::setenv("REMORA_LOG", "error", 0);  // read once, at the first log call
  // 4 GiB of address space above what the process (ASan's reservations included) holds now.
  long pages = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  rlimit lim{};
  if (pages > 0 && ::getrlimit(RLIMIT_AS, &lim) == 0) {
    const rlim_t want = static_cast<rlim_t>(pages) * ::sysconf(_SC_PAGESIZE) + (rlim_t{4} << 30);
    if (lim.rlim_max == RLIM_INFINITY || want < lim.rlim_max) {
      lim.rlim_cur = want;
      ::setrlimit(RLIMIT_AS, &lim);
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 64 * 1024) return 0;
  const uint8_t config = data[0];
  // The limits in use: a small one, the handshake-sized one, and the default (16 GiB).
  const uint64_t limits[] = {64, 4096, uint64_t{1} << 20, kDefaultMaxStreamMessage};
  const uint64_t limit = limits[config & 3];
  const bool stays_open = config & 4;
  const auto spin = config & 8 ? std::chrono::nanoseconds(2us) : std::chrono::nanoseconds(0);

  // The peer's bytes, and where the writer's slices end.
  std::vector<uint8_t> stream;
  std::vector<size_t> cuts;
  for (size_t at = 1; at < size;) {
    const size_t n = std::min<size_t>(1 + data[at] % 64, size - at - 1);
    ++at;
    stream.insert(stream.end(), data + at, data + at + n);
    cuts.push_back(stream.size());
    at += n;
  }
  // At most kMaxWrites writes, the rest in the last: each is a hand-over between the two threads,
  // which costs a scheduler tick when the cores are busy (other fuzzers, make -j), and hundreds of
  // them made an input take seconds.
  if (cuts.size() > kMaxWrites) cuts.erase(cuts.begin() + (kMaxWrites - 1), cuts.end() - 1);
  const std::vector<Expected> want = model(stream, limit, stays_open);

  int sv[2];
  check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
  const int sndbuf = 1 << 20;
  ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  std::unique_ptr<Channel> ch =
      make_stream_channel(Fd(sv[1]), "unix", limit, stays_open ? 0ms : kMessageTimeout, spin);
  auto write_all = [fd = sv[0]](const uint8_t* p, size_t n) {
    while (n > 0) {
      const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return;  // the receiver broke the channel and shut its end
      p += w;
      n -= static_cast<size_t>(w);
    }
  };
  std::thread writer;
  if (stays_open) {
    write_all(stream.data(), stream.size());
  } else {
    writer = std::thread([&] {
      size_t from = 0;
      for (size_t cut : cuts) {
        write_all(stream.data() + from, cut - from);
        from = cut;
        std::this_thread::yield();
      }
      ::shutdown(sv[0], SHUT_WR);
    });
  }

  Message m;
  for (size_t i = 0; i < want.size(); ++i) {
    const Status st = ch->receive(&m, stays_open ? Clock::now() : no_deadline());
    if (want[i].code == Code::kOk) {
      check(st.ok(), "a whole frame within the limit was not received");
      check(m.size() == want[i].size && m.size() <= limit, "a message of the wrong size");
      check(m.size() == 0 || std::memcmp(m.bytes().data(), stream.data() + want[i].offset, m.size()) == 0,
            "a message with the wrong bytes");
      continue;
    }
    check(st.code() == want[i].code || (want[i].may_not_fit && st.code() == Code::kTooLarge),
          "the receiver reported something other than the framing says");
    check(!st.message().empty(), "a failed receive says nothing");
    // After a timeout the stream is intact; the peer then goes away.
    if (st.code() == Code::kTimeout) ::shutdown(sv[0], SHUT_WR);
  }
  // Once broken, it stays broken.
  check(ch->receive(&m, Clock::now()).code() == Code::kClosed, "a receive after the end did not fail");
  ::shutdown(sv[0], SHUT_RDWR);
  if (writer.joinable()) writer.join();
  ch.reset();
  ::close(sv[0]);
  return 0;
}
