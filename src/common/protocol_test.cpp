#include "common/protocol.h"

#include <gtest/gtest.h>

namespace remora::protocol {
namespace {

Hello sample_hello() {
  Hello h;
  h.api = "opencl";
  h.opcodes = {{1, 0x1234abcd5678ef00}, {200, 0x42}};
  h.channel = 1;
  h.session = 42;
  h.session_key = 0xfeedface;
  h.tenant = "team-a";
  h.token = std::string("sec\0ret", 7);
  h.pid = 4321;
  h.program = "clinfo";
  return h;
}

TEST(Protocol, HelloRoundTrips) {
  const Hello in = sample_hello();
  wire::Writer w;
  encode(in, &w);
  const std::vector<uint8_t> bytes = w.flatten();
  wire::Reader r(bytes);
  Hello out;
  ASSERT_TRUE(decode(&r, &out));
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(out.wire_version, in.wire_version);
  EXPECT_EQ(out.abi, in.abi);
  EXPECT_EQ(out.api, in.api);
  ASSERT_EQ(out.opcodes.size(), 2u);
  EXPECT_EQ(out.opcodes[1].opcode, 200u);
  EXPECT_EQ(out.opcodes[1].signature, 0x42u);
  EXPECT_EQ(out.channel, in.channel);
  EXPECT_EQ(out.session, in.session);
  EXPECT_EQ(out.session_key, in.session_key);
  EXPECT_EQ(out.tenant, in.tenant);
  EXPECT_EQ(out.token, in.token);
  EXPECT_EQ(out.pid, in.pid);
  EXPECT_EQ(out.program, in.program);
  EXPECT_EQ(check_hello(out, "opencl"), "");
}

TEST(Protocol, WelcomeRoundTrips) {
  Welcome in;
  in.session = 7;
  in.session_key = 0x0123456789abcdef;
  in.server_pid = 99;
  wire::Writer w;
  encode(in, &w);
  const std::vector<uint8_t> bytes = w.flatten();
  wire::Reader r(bytes);
  Welcome out;
  ASSERT_TRUE(decode(&r, &out));
  EXPECT_EQ(out.wire_version, kWireVersion);
  EXPECT_EQ(out.session, 7u);
  EXPECT_EQ(out.session_key, in.session_key);
  EXPECT_EQ(out.server_pid, 99);
}

TEST(Protocol, TruncatedHelloFails) {
  wire::Writer w;
  encode(sample_hello(), &w);
  const std::vector<uint8_t> bytes = w.flatten();
  // Every proper prefix must fail to decode (prefixes are 8-aligned, as the wire is).
  for (size_t n = 8; n < bytes.size(); n += 8) {
    wire::Reader r(bytes.data(), n);
    Hello out;
    EXPECT_FALSE(decode(&r, &out)) << "prefix of " << n << " bytes decoded";
  }
  wire::Reader empty(bytes.data(), 0);
  Hello out;
  EXPECT_FALSE(decode(&empty, &out));
}

TEST(Protocol, OversizedStringFails) {
  Hello h = sample_hello();
  h.api = std::string(10000, 'x');
  wire::Writer w;
  encode(h, &w);
  const std::vector<uint8_t> bytes = w.flatten();
  wire::Reader r(bytes);
  Hello out;
  EXPECT_FALSE(decode(&r, &out));
}

TEST(Protocol, WireVersionMismatchNamesBothVersions) {
  Hello h = sample_hello();
  h.wire_version = kWireVersion + 1;
  wire::Writer w;
  encode(h, &w);
  const std::vector<uint8_t> bytes = w.flatten();
  wire::Reader r(bytes);
  Hello out;
  ASSERT_TRUE(decode(&r, &out));  // the version is readable even if the rest is not ours
  const std::string msg = check_hello(out, "opencl");
  EXPECT_NE(msg.find("wire format version " + std::to_string(kWireVersion + 1) + " (guest)"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(kWireVersion) + " (server)"), std::string::npos) << msg;
}

TEST(Protocol, OtherMismatchesAreNamed) {
  Hello h = sample_hello();
  h.abi = kAbiTag ^ 0x100;
  EXPECT_NE(check_hello(h, "opencl").find("ABI"), std::string::npos);
  h = sample_hello();
  std::string msg = check_hello(h, "cuda");
  EXPECT_NE(msg.find("\"opencl\" (guest)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"cuda\""), std::string::npos) << msg;
}

TEST(Protocol, WelcomeCarriesTheServedOpcodes) {
  Welcome in;
  in.served.add(3);
  in.served.add(200);
  wire::Writer w;
  encode(in, &w);
  const std::vector<uint8_t> bytes = w.flatten();
  wire::Reader r(bytes);
  Welcome out;
  ASSERT_TRUE(decode(&r, &out));
  EXPECT_TRUE(out.served.has(3));
  EXPECT_TRUE(out.served.has(200));
  EXPECT_FALSE(out.served.has(4));
  EXPECT_FALSE(out.served.has(100000));  // past the bitmap
}

TEST(Protocol, NegotiationServesOnlyEqualSignatures) {
  const char* const names[] = {"", "one", "two", "three"};
  const uint64_t sigs[] = {0, 0x11, 0x22, 0x33};
  const OpcodeTable server{4, names, sigs};
  // The guest: opcode 1 as the server has it, 2 changed, 3 absent, 9 unknown to the server.
  const std::vector<OpcodeSignature> guest = {{1, 0x11}, {2, 0x99}, {9, 0x1}};
  std::vector<std::string> notes;
  const ServedOpcodes served = negotiate(guest, server, &notes);
  EXPECT_TRUE(served.has(1));
  EXPECT_FALSE(served.has(2));
  EXPECT_FALSE(served.has(3));
  EXPECT_FALSE(served.has(9));
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[0].find("opcode 2 (two)"), std::string::npos) << notes[0];
  EXPECT_NE(notes[1].find("opcode 9 is not served"), std::string::npos) << notes[1];
  EXPECT_EQ(server.list().size(), 3u);
}

TEST(Protocol, HugeOpcodeTablesAreRefused) {
  Hello h = sample_hello();
  h.opcodes.assign(5000, OpcodeSignature{1, 1});
  wire::Writer w;
  encode(h, &w);
  std::vector<uint8_t> bytes = w.flatten();
  wire::Reader r(bytes);
  Hello out;
  EXPECT_FALSE(decode(&r, &out));
  h = sample_hello();
  h.opcodes = {{kMaxOpcode + 1, 1}};
  wire::Writer w2;
  encode(h, &w2);
  bytes = w2.flatten();
  wire::Reader r2(bytes);
  EXPECT_FALSE(decode(&r2, &out));
}

}  // namespace
}  // namespace remora::protocol
