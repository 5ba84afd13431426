// The daemon's handshake handling, run in-process on a thread (no signals, no sessions spawned):
// what it refuses itself, and that a silent client delays nobody. Sessions are covered end to end
// by tests/cli, which runs the real `remora serve`.
#include "daemon/daemon.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "server/handshake.h"
#include "transport/sockets.h"

namespace remora::daemon {
namespace {

using namespace std::chrono_literals;
using server::frame_message;
using server::open_message;
using server::read_frame;
using server::write_all;
using transport::Fd;

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/remora-daemon-test-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
    path_ = dir_ + "/d.sock";
  }
  void TearDown() override {
    stop();
    std::filesystem::remove_all(dir_);
  }

  void start(std::chrono::milliseconds handshake_timeout = 10s) {
    DaemonOptions opt;
    transport::Endpoint ep;
    ASSERT_TRUE(transport::Endpoint::parse("unix:" + path_, &ep).ok());
    opt.listen.push_back(ep);
    opt.handle_signals = false;
    opt.handshake_timeout = handshake_timeout;
    opt.session_exe = "/bin/false";  // these tests never start a session (one would end at once)
    daemon_ = std::make_unique<Daemon>(std::move(opt));
    Status st = daemon_->start();
    ASSERT_TRUE(st.ok()) << st.str();
    thread_ = std::thread([this] { run_status_ = daemon_->run(); });
  }
  void stop() {
    if (!daemon_) return;
    daemon_->stop();
    thread_.join();
    daemon_.reset();
  }

  Fd dial() {
    transport::Endpoint ep;
    EXPECT_TRUE(transport::Endpoint::parse("unix:" + path_, &ep).ok());
    Fd fd;
    Status st = transport::dial(ep, &fd, transport::after(5s));
    EXPECT_TRUE(st.ok()) << st.str();
    return fd;
  }

  // Sends a Hello and returns the Refuse's reason ("" if the answer was not a Refuse).
  std::string hello_and_refusal(int fd, const protocol::Hello& h) {
    wire::Writer w;
    protocol::encode(h, &w);
    EXPECT_TRUE(write_all(fd, frame_message(protocol::MessageType::kHello, w), transport::after(5s)).ok());
    std::vector<uint8_t> answer;
    Status st = read_frame(fd, &answer, 1 << 20, transport::after(5s));
    if (!st.ok()) return "no answer: " + st.str();
    wire::Reader body;
    if (!open_message(answer, protocol::MessageType::kRefuse, &body).ok()) return "";
    const char* reason = body.get_string();
    return reason != nullptr ? reason : "";
  }

  std::string dir_, path_;
  std::unique_ptr<Daemon> daemon_;
  std::thread thread_;
  Status run_status_;
};

TEST_F(DaemonTest, RefusesAnotherWireVersionNamingBoth) {
  start();
  Fd fd = dial();
  protocol::Hello h;
  h.wire_version = protocol::kWireVersion + 41;
  h.api = "opencl";
  const std::string reason = hello_and_refusal(fd.get(), h);
  EXPECT_NE(reason.find(std::to_string(protocol::kWireVersion + 41)), std::string::npos) << reason;
  EXPECT_NE(reason.find(std::to_string(protocol::kWireVersion)), std::string::npos) << reason;
  EXPECT_NE(reason.find("version"), std::string::npos) << reason;
}

TEST_F(DaemonTest, RefusesAnotherAbi) {
  start();
  Fd fd = dial();
  protocol::Hello h;
  h.abi = protocol::kAbiTag ^ 0xff;
  h.api = "opencl";
  EXPECT_NE(hello_and_refusal(fd.get(), h).find("ABI"), std::string::npos);
}

TEST_F(DaemonTest, RefusesUnknownEventsSession) {
  start();
  Fd fd = dial();
  protocol::Hello h;
  h.api = "opencl";
  h.channel = 1;
  h.session = 12345;
  h.session_key = 0x1234567890abcdefull;
  const std::string reason = hello_and_refusal(fd.get(), h);
  EXPECT_NE(reason.find("unknown session or wrong session key"), std::string::npos) << reason;
}

TEST_F(DaemonTest, RefusesSomethingThatIsNotAHello) {
  start();
  Fd fd = dial();
  wire::Writer w;
  w.put_u64(7);
  ASSERT_TRUE(write_all(fd.get(), frame_message(protocol::MessageType::kBatch, w), transport::after(5s)).ok());
  std::vector<uint8_t> answer;
  ASSERT_TRUE(read_frame(fd.get(), &answer, 1 << 20, transport::after(5s)).ok());
  wire::Reader body;
  EXPECT_TRUE(open_message(answer, protocol::MessageType::kRefuse, &body).ok());
}

TEST_F(DaemonTest, DropsAnOversizedHelloWithoutReadingIt) {
  start();
  Fd fd = dial();
  const uint64_t huge = uint64_t{1} << 40;
  ASSERT_TRUE(write_all(fd.get(), std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&huge), sizeof huge),
                        transport::after(5s))
                  .ok());
  std::vector<uint8_t> answer;
  Status st = read_frame(fd.get(), &answer, 1 << 20, transport::after(5s));
  EXPECT_EQ(st.code(), Code::kClosed) << st.str();
}

TEST_F(DaemonTest, SilentClientDoesNotDelayOthersAndTimesOut) {
  start(/*handshake_timeout=*/1500ms);
  Fd silent = dial();
  // A client that sent half a frame is just as stuck.
  Fd half = dial();
  const uint8_t partial[3] = {1, 2, 3};
  ASSERT_TRUE(write_all(half.get(), partial, transport::after(1s)).ok());

  const auto t0 = std::chrono::steady_clock::now();
  Fd other = dial();
  protocol::Hello h;
  h.wire_version = 99;
  EXPECT_NE(hello_and_refusal(other.get(), h).find("99"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "the second client waited for the silent one";

  // The silent one is dropped once its handshake time is up.
  std::vector<uint8_t> answer;
  Status st = read_frame(silent.get(), &answer, 1 << 20, transport::after(5s));
  EXPECT_EQ(st.code(), Code::kClosed) << st.str();
  st = read_frame(half.get(), &answer, 1 << 20, transport::after(5s));
  EXPECT_EQ(st.code(), Code::kClosed) << st.str();
}

TEST_F(DaemonTest, StopRemovesTheSocketFile) {
  start();
  struct stat s {};
  ASSERT_EQ(::stat(path_.c_str(), &s), 0);
  stop();
  EXPECT_TRUE(run_status_.ok()) << run_status_.str();
  EXPECT_NE(::stat(path_.c_str(), &s), 0);
}

TEST_F(DaemonTest, ReportsBoundEndpointsOnTheReadyFd) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  DaemonOptions opt;
  transport::Endpoint unix_ep, tcp_ep;
  ASSERT_TRUE(transport::Endpoint::parse("unix:" + path_, &unix_ep).ok());
  ASSERT_TRUE(transport::Endpoint::parse("tcp:127.0.0.1:0", &tcp_ep).ok());
  opt.listen = {unix_ep, tcp_ep};
  opt.handle_signals = false;
  opt.ready_fd = p[1];
  opt.session_exe = "/bin/false";
  Daemon d(std::move(opt));
  ASSERT_TRUE(d.start().ok());
  char buf[512] = {};
  const ssize_t n = ::read(p[0], buf, sizeof buf - 1);
  ::close(p[0]);
  ASSERT_GT(n, 0);
  const std::string text(buf, static_cast<size_t>(n));
  EXPECT_NE(text.find("unix:" + path_ + "\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tcp:127.0.0.1:"), std::string::npos) << text;
  EXPECT_EQ(text.find("tcp:127.0.0.1:0\n"), std::string::npos) << "port 0 not resolved: " << text;
  ASSERT_EQ(d.bound().size(), 2u);
  EXPECT_NE(d.bound()[1].port, 0);
}

}  // namespace
}  // namespace remora::daemon
