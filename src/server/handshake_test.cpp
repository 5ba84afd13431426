#include "server/handshake.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>

#include "transport/sockets.h"

namespace remora::server {
namespace {

using namespace std::chrono_literals;

struct Pair {
  transport::Fd a, b;
  Pair() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    a.reset(sv[0]);
    b.reset(sv[1]);
    ::fcntl(b.get(), F_SETFL, O_NONBLOCK);
  }
};

TEST(FrameReader, AssemblesAFrameWrittenInPiecesAndReadsNothingPastIt) {
  Pair p;
  wire::Writer w;
  w.put_u64(42);
  std::vector<uint8_t> frame = frame_message(protocol::MessageType::kHello, w);
  frame.push_back(0xEE);  // the next frame's first byte: must stay in the socket
  FrameReader r(kMaxHelloBytes);
  EXPECT_EQ(r.read_some(p.b.get()), FrameReader::Result::kMore);
  for (size_t i = 0; i < frame.size(); i += 5) {
    const size_t n = std::min<size_t>(5, frame.size() - i);
    ASSERT_EQ(::write(p.a.get(), frame.data() + i, n), static_cast<ssize_t>(n));
    auto res = r.read_some(p.b.get());
    if (i + n < frame.size()) EXPECT_EQ(res, FrameReader::Result::kMore) << i;
    else EXPECT_EQ(res, FrameReader::Result::kDone);
  }
  EXPECT_EQ(r.message().size(), frame.size() - 1 - sizeof(uint64_t));
  uint8_t next = 0;
  EXPECT_EQ(::read(p.b.get(), &next, 1), 1);
  EXPECT_EQ(next, 0xEE);
}

TEST(FrameReader, RejectsOversizedAndClosed) {
  Pair p;
  const uint64_t len = kMaxHelloBytes + 1;
  ASSERT_EQ(::write(p.a.get(), &len, sizeof len), 8);
  FrameReader r(kMaxHelloBytes);
  EXPECT_EQ(r.read_some(p.b.get()), FrameReader::Result::kError);
  EXPECT_NE(r.error().find("over the limit"), std::string::npos);

  Pair q;
  q.a.reset();
  FrameReader r2(kMaxHelloBytes);
  EXPECT_EQ(r2.read_some(q.b.get()), FrameReader::Result::kError);
}

TEST(Handshake, HelloRoundTripsThroughAFrame) {
  Pair p;
  protocol::Hello h;
  h.api = "opencl";
  h.opcodes = {{1, 0xabcdef}, {7, 0x77}};
  h.program = "vecadd";
  h.tenant = "team-a";
  h.pid = 77;
  h.transport = protocol::kTransportStream;
  wire::Writer w;
  protocol::encode(h, &w);
  ASSERT_TRUE(write_all(p.a.get(), frame_message(protocol::MessageType::kHello, w), transport::after(1s)).ok());
  std::vector<uint8_t> msg;
  ASSERT_TRUE(read_frame(p.b.get(), &msg, kMaxHelloBytes, transport::after(1s)).ok());
  protocol::Hello got;
  Status st = parse_hello(msg, &got);
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_EQ(got.api, "opencl");
  ASSERT_EQ(got.opcodes.size(), 2u);
  EXPECT_EQ(got.opcodes[0].opcode, 1u);
  EXPECT_EQ(got.opcodes[0].signature, 0xabcdefu);
  EXPECT_EQ(got.opcodes[1].opcode, 7u);
  EXPECT_EQ(got.opcodes[1].signature, 0x77u);
  EXPECT_EQ(got.program, "vecadd");
  EXPECT_EQ(got.tenant, "team-a");
  EXPECT_EQ(got.pid, 77);
  EXPECT_EQ(got.transport, protocol::kTransportStream);
  // Not a Hello.
  EXPECT_FALSE(parse_hello(std::span<const uint8_t>(msg.data(), 8), &got).ok());
}

TEST(Handshake, ReadFrameTimesOut) {
  Pair p;
  std::vector<uint8_t> msg;
  EXPECT_EQ(read_frame(p.b.get(), &msg, 100, transport::after(50ms)).code(), Code::kTimeout);
}

TEST(Handshake, RefuseCarriesItsReason) {
  const std::vector<uint8_t> f = refuse_frame("no such API");
  wire::Reader body;
  ASSERT_TRUE(open_message(std::span<const uint8_t>(f).subspan(8), protocol::MessageType::kRefuse, &body).ok());
  EXPECT_STREQ(body.get_string(), "no such API");
}

TEST(ControlRecord, RoundTrips) {
  ControlRecord r;
  r.session = 9;
  r.session_key = 0xfeedfacecafebeefull;
  r.hello = {1, 2, 3, 4, 5};
  r.vendor_library = "/usr/lib/libOpenCL.so.1";
  r.conn_kind = "tcp";
  wire::Writer w;
  encode(r, &w);
  const std::vector<uint8_t> bytes = w.flatten();
  wire::Reader rd(bytes.data(), bytes.size());
  ControlRecord got;
  ASSERT_TRUE(decode(&rd, &got));
  EXPECT_EQ(got.session, 9u);
  EXPECT_EQ(got.session_key, r.session_key);
  EXPECT_EQ(got.hello, r.hello);
  EXPECT_EQ(got.vendor_library, r.vendor_library);
  EXPECT_EQ(got.conn_kind, "tcp");
  // Truncated: fails, never reads past the end.
  wire::Reader cut(bytes.data(), bytes.size() - 8);
  EXPECT_FALSE(decode(&cut, &got));
}

}  // namespace
}  // namespace remora::server
