// `remora serve` driven by raw clients: the handshake as a guest sees it, through the real binary
// (daemon + session processes). Guests are hand-made Hellos, so these tests need no guest library.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "opencl_server.h"
#include "server/handshake.h"
#include "transport/shm.h"
#include "transport/sockets.h"

namespace remora {
namespace {

using namespace std::chrono_literals;
using transport::Fd;

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/remora-cli-test-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  // Starts `remora serve` on a unix socket in the test's directory.
  void serve(std::vector<std::string> extra = {}) {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    socket_ = dir_ + "/remora.sock";
    admin_ = dir_ + "/admin.sock";
    std::vector<std::string> args = {REMORA_BIN, "serve", "--listen", "unix:" + socket_, "--admin", "unix:" + admin_,
                                     "--ready-fd", std::to_string(p[1]), "--handshake-timeout-ms", "1500"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      ::close(p[0]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      _exit(127);
    }
    ::close(p[1]);
    char buf[256] = {};
    const ssize_t n = ::read(p[0], buf, sizeof buf - 1);  // returns when the daemon is listening
    ::close(p[0]);
    ASSERT_GT(n, 0) << "remora serve did not become ready";
    EXPECT_EQ(std::string(buf, n), "unix:" + socket_ + "\n");
  }

  Fd dial() {
    transport::Endpoint ep;
    EXPECT_TRUE(transport::Endpoint::parse("unix:" + socket_, &ep).ok());
    Fd fd;
    Status st = transport::dial(ep, &fd, transport::after(5s));
    EXPECT_TRUE(st.ok()) << st.str();
    return fd;
  }

  static protocol::Hello good_hello() {
    protocol::Hello h;
    h.api = "opencl";
    h.opcodes = opencl::server_api().opcodes.list();
    h.pid = static_cast<int32_t>(::getpid());
    h.program = "cli_serve_tests";
    h.transport = protocol::kTransportStream;
    return h;
  }

  // Sends a Hello; returns the answer message (MessageHeader + body).
  static std::vector<uint8_t> hello(int fd, const protocol::Hello& h) {
    wire::Writer w;
    protocol::encode(h, &w);
    EXPECT_TRUE(server::write_all(fd, server::frame_message(protocol::MessageType::kHello, w), transport::after(5s)).ok());
    std::vector<uint8_t> answer;
    Status st = server::read_frame(fd, &answer, 1 << 20, transport::after(10s));
    EXPECT_TRUE(st.ok()) << st.str();
    return answer;
  }
  static std::string refusal(const std::vector<uint8_t>& answer) {
    wire::Reader body;
    if (!server::open_message(answer, protocol::MessageType::kRefuse, &body).ok()) return "<not a Refuse>";
    const char* s = body.get_string();
    return s != nullptr ? s : "<no reason>";
  }
  static bool welcome(const std::vector<uint8_t>& answer, protocol::Welcome* w) {
    wire::Reader body;
    return server::open_message(answer, protocol::MessageType::kWelcome, &body).ok() && protocol::decode(&body, w);
  }

  nlohmann::json status() {
    transport::Endpoint ep;
    EXPECT_TRUE(transport::Endpoint::parse("unix:" + admin_, &ep).ok());
    Fd fd;
    EXPECT_TRUE(transport::dial(ep, &fd, transport::after(5s)).ok());
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) text.append(buf, n);
    return nlohmann::json::parse(text);
  }

  int terminate() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    return status;
  }

  std::string dir_, socket_, admin_;
  pid_t pid_ = 0;
};

TEST_F(ServeTest, RefusesAnotherWireVersionNamingBoth) {
  serve();
  Fd fd = dial();
  protocol::Hello h = good_hello();
  h.wire_version = protocol::kWireVersion + 6;
  const std::string why = refusal(hello(fd.get(), h));
  EXPECT_NE(why.find(std::to_string(protocol::kWireVersion + 6)), std::string::npos) << why;
  EXPECT_NE(why.find(std::to_string(protocol::kWireVersion)), std::string::npos) << why;
}

// A guest from another spec is welcomed; the Welcome serves exactly the opcodes both declare alike.
TEST_F(ServeTest, SessionServesOnlyTheOpcodesBothSpecsDeclareAlike) {
  serve();
  Fd fd = dial();
  protocol::Hello h = good_hello();
  ASSERT_GE(h.opcodes.size(), 3u);
  const uint32_t changed = h.opcodes[1].opcode, kept = h.opcodes[2].opcode;
  h.opcodes[1].signature ^= 0x5a5a;
  h.opcodes.push_back({protocol::kMaxOpcode, 0x1234});  // unknown to this server
  const std::vector<uint8_t> answer = hello(fd.get(), h);
  wire::Reader r;
  ASSERT_TRUE(server::open_message(answer, protocol::MessageType::kWelcome, &r).ok());
  protocol::Welcome welcome;
  ASSERT_TRUE(protocol::decode(&r, &welcome));
  EXPECT_TRUE(welcome.served.has(h.opcodes[0].opcode));
  EXPECT_TRUE(welcome.served.has(kept));
  EXPECT_FALSE(welcome.served.has(changed));
  EXPECT_FALSE(welcome.served.has(protocol::kMaxOpcode));
}

TEST_F(ServeTest, SessionRefusesAnUnknownApi) {
  serve();
  Fd fd = dial();
  protocol::Hello h = good_hello();
  h.api = "vulkan";
  EXPECT_NE(refusal(hello(fd.get(), h)).find("\"vulkan\" is not served here"), std::string::npos);
}

TEST_F(ServeTest, RefusesUnknownEventsSessionKey) {
  serve();
  Fd fd = dial();
  protocol::Hello h = good_hello();
  h.channel = 1;
  h.session = 1;
  h.session_key = 42;
  EXPECT_NE(refusal(hello(fd.get(), h)).find("unknown session or wrong session key"), std::string::npos);
}

TEST_F(ServeTest, SilentClientDoesNotStopAnotherFromBeingServed) {
  serve();
  Fd silent = dial();
  const auto t0 = std::chrono::steady_clock::now();
  Fd other = dial();
  protocol::Hello h = good_hello();
  h.wire_version = 77;
  EXPECT_NE(refusal(hello(other.get(), h)).find("77"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  // The silent client is dropped after the (shortened) handshake timeout.
  std::vector<uint8_t> answer;
  EXPECT_EQ(server::read_frame(silent.get(), &answer, 1 << 20, transport::after(10s)).code(), Code::kClosed);
}

TEST_F(ServeTest, RefusesWhenTheVendorLibraryCannotBeLoaded) {
  serve({"--vendor-library", "/nonexistent/libOpenCL.so"});
  Fd fd = dial();
  const std::string why = refusal(hello(fd.get(), good_hello()));
  EXPECT_NE(why.find("cannot load opencl vendor library /nonexistent/libOpenCL.so"), std::string::npos) << why;
}

TEST_F(ServeTest, StreamSessionWelcomesBothChannelsAndShowsInStatus) {
  serve();
  Fd calls = dial();
  protocol::Welcome w;
  ASSERT_TRUE(welcome(hello(calls.get(), good_hello()), &w)) << refusal(hello(calls.get(), good_hello()));
  EXPECT_GT(w.server_pid, 0);

  // A wrong key for this very session is refused; the right one is welcomed by the session.
  {
    Fd bad = dial();
    protocol::Hello h = good_hello();
    h.channel = 1;
    h.session = w.session;
    h.session_key = w.session_key ^ 1;
    EXPECT_NE(refusal(hello(bad.get(), h)).find("wrong session key"), std::string::npos);
  }
  Fd events = dial();
  protocol::Hello h = good_hello();
  h.channel = 1;
  h.session = w.session;
  h.session_key = w.session_key;
  protocol::Welcome w2;
  ASSERT_TRUE(welcome(hello(events.get(), h), &w2));
  EXPECT_EQ(w2.session, w.session);
  EXPECT_EQ(w2.server_pid, w.server_pid);

  nlohmann::json doc = status();
  ASSERT_EQ(doc["sessions"].size(), 1u) << doc.dump();
  EXPECT_EQ(doc["sessions"][0]["program"], "cli_serve_tests");
  EXPECT_EQ(doc["sessions"][0]["pid"], w.server_pid);
  EXPECT_EQ(doc["sessions"][0]["transport"], "unix");

  // The guest leaves; the session process ends and the daemon forgets it.
  calls.reset();
  events.reset();
  for (int i = 0; i < 100 && !status()["sessions"].empty(); ++i) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(status()["sessions"].empty());
}

TEST_F(ServeTest, ShmSessionAttachesAndEndsOnGoodbye) {
  serve();
  Fd sock = dial();
  protocol::Hello h = good_hello();
  h.transport = protocol::kTransportShm;
  protocol::Welcome w;
  ASSERT_TRUE(welcome(hello(sock.get(), h), &w));
  transport::Connection conn;
  Status st = transport::shm_attach(std::move(sock), transport::after(10s), &conn);
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_EQ(status()["sessions"][0]["transport"], "shm");
  protocol::MessageHeader bye{protocol::kMagic, static_cast<uint16_t>(protocol::MessageType::kGoodbye), 0, 0, 0};
  const wire::Segment seg{reinterpret_cast<const uint8_t*>(&bye), sizeof bye};
  ASSERT_TRUE(conn.calls->send(std::span<const wire::Segment>(&seg, 1)).ok());
  for (int i = 0; i < 100 && !status()["sessions"].empty(); ++i) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(status()["sessions"].empty());
}

TEST_F(ServeTest, SigtermEndsSessionsAndRemovesTheSocket) {
  serve();
  Fd calls = dial();
  protocol::Welcome w;
  ASSERT_TRUE(welcome(hello(calls.get(), good_hello()), &w));
  const int status = terminate();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  struct stat st {};
  EXPECT_NE(::stat(socket_.c_str(), &st), 0) << "socket file left behind";
  EXPECT_NE(::kill(w.server_pid, 0), 0) << "session process outlived the daemon";
}

}  // namespace
}  // namespace remora
