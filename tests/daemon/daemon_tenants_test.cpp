// Tenants end to end: a Daemon on a test thread, real session processes (fake_session), raw guests.
// Authentication at the Hello, the device memory quota across one tenant's sessions (and its refund
// when a session is killed), max_sessions, the call rate, SIGHUP-style reload, /metrics and the
// admin JSON.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "fake_api.h"
#include "daemon/daemon.h"
#include "server/handshake.h"
#include "transport/sockets.h"

namespace remora::server {
namespace {

using namespace std::chrono_literals;
using daemon::Daemon;
using daemon::DaemonConfig;
using daemon::DaemonOptions;
using transport::Fd;

std::string refusal_of(const std::vector<uint8_t>& answer) {
  wire::Reader body;
  if (!open_message(answer, protocol::MessageType::kRefuse, &body).ok()) return "";
  const char* reason = body.get_string();
  return reason != nullptr ? reason : "";
}

// A guest of the fake API over the stream transport, speaking the wire protocol by hand.
class FakeGuest {
 public:
  // Ok, or kRefused with refusal() set.
  Status connect(const std::string& endpoint, const std::string& tenant, const std::string& token) {
    transport::Endpoint ep;
    if (Status st = transport::Endpoint::parse(endpoint, &ep); !st.ok()) return st;
    Fd calls_fd;
    if (Status st = transport::dial(ep, &calls_fd, transport::after(5s)); !st.ok()) return st;
    protocol::Hello h;
    h.api = test::kFakeApi;
    h.opcodes = {{test::kOpAlloc, test::kFakeSignatures[test::kOpAlloc]},
                 {test::kOpRelease, test::kFakeSignatures[test::kOpRelease]},
                 {test::kOpNoop, test::kFakeSignatures[test::kOpNoop]}};
    h.transport = protocol::kTransportStream;
    h.tenant = tenant;
    h.token = token;
    h.pid = ::getpid();
    h.program = "fake-guest";
    std::vector<uint8_t> answer;
    if (Status st = exchange(calls_fd.get(), h, &answer); !st.ok()) return st;
    refusal_ = refusal_of(answer);
    if (!refusal_.empty()) return Status(Code::kRefused, refusal_);
    wire::Reader r;
    if (Status st = open_message(answer, protocol::MessageType::kWelcome, &r); !st.ok()) return st;
    if (!protocol::decode(&r, &welcome_)) return Status(Code::kMalformed, "bad Welcome");

    Fd events_fd;
    if (Status st = transport::dial(ep, &events_fd, transport::after(5s)); !st.ok()) return st;
    h.channel = 1;
    h.session = welcome_.session;
    h.session_key = welcome_.session_key;
    if (Status st = exchange(events_fd.get(), h, &answer); !st.ok()) return st;
    if (!refusal_of(answer).empty()) return Status(Code::kRefused, refusal_of(answer));
    const char* kind = ep.kind == transport::Endpoint::Kind::kTcp ? "tcp" : "unix";
    calls_ = transport::make_stream_channel(std::move(calls_fd), kind);
    events_ = transport::make_stream_channel(std::move(events_fd), kind);
    return Status::Ok();
  }

  const std::string& refusal() const { return refusal_; }
  pid_t server_pid() const { return welcome_.server_pid; }

  int64_t alloc(uint64_t bytes, uint64_t* id = nullptr) {
    wire::Reader r;
    std::vector<uint8_t> keep;
    if (!call(test::kOpAlloc, {bytes}, &keep, &r)) return 1;
    const uint64_t got = r.get_u64();
    if (id != nullptr) *id = got;
    return r.get<int64_t>();
  }
  int64_t release(uint64_t id) { return simple(test::kOpRelease, {id}); }
  int64_t noop() { return simple(test::kOpNoop, {}); }
  void goodbye() {
    wire::Writer w;
    w.put(protocol::MessageHeader{protocol::kMagic, static_cast<uint16_t>(protocol::MessageType::kGoodbye), 0, 0, 0});
    std::vector<wire::Segment> segs;
    w.segments(&segs);
    (void)calls_->send(segs);
  }

 private:
  static Status exchange(int fd, const protocol::Hello& h, std::vector<uint8_t>* answer) {
    wire::Writer w;
    protocol::encode(h, &w);
    if (Status st = write_all(fd, frame_message(protocol::MessageType::kHello, w), transport::after(5s)); !st.ok()) return st;
    return read_frame(fd, answer, 1 << 20, transport::after(10s));
  }

  int64_t simple(uint32_t op, std::initializer_list<uint64_t> args) {
    wire::Reader r;
    std::vector<uint8_t> keep;
    if (!call(op, args, &keep, &r)) return 1;
    return r.get<int64_t>();
  }

  // One synchronous call; *body reads the reply's results (backed by *keep).
  bool call(uint32_t op, std::initializer_list<uint64_t> args, std::vector<uint8_t>* keep, wire::Reader* body) {
    wire::Writer w;
    w.put(protocol::MessageHeader{protocol::kMagic, static_cast<uint16_t>(protocol::MessageType::kBatch), 0, 1, 1});
    w.put(protocol::CallHeader{op, protocol::kCallSync, args.size() * sizeof(uint64_t)});
    for (uint64_t a : args) w.put_u64(a);
    std::vector<wire::Segment> segs;
    w.segments(&segs);
    if (!calls_->send(segs).ok()) return false;
    transport::Message msg;
    if (Status st = calls_->receive(&msg, transport::after(10s)); !st.ok()) {
      ADD_FAILURE() << "no reply: " << st.str();
      return false;
    }
    keep->assign(msg.bytes().begin(), msg.bytes().end());
    *body = wire::Reader(keep->data(), keep->size());
    const auto mh = body->get<protocol::MessageHeader>();
    const auto rh = body->get<protocol::ReplyHeader>();
    EXPECT_EQ(mh.type, static_cast<uint16_t>(protocol::MessageType::kReply));
    EXPECT_EQ(rh.status, static_cast<uint32_t>(protocol::ReplyStatus::kOk));
    return body->ok();
  }

  protocol::Welcome welcome_;
  std::string refusal_;
  std::unique_ptr<transport::Channel> calls_, events_;
};

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit = 5s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

// Reads everything until the peer closes.
std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) out.append(buf, static_cast<size_t>(n));
    else if (n < 0 && errno == EINTR) continue;
    else return out;
  }
}

constexpr const char* kConfig = R"(
[tenants.alice]
token = "alice-secret"
device_memory = 1000
max_sessions = 2

[tenants.bob]
token_sha256 = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"  # "secret"
calls_per_second = 200
)";

class TenantsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/remora-tenants-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
    write_config(kConfig);
  }
  void TearDown() override {
    if (daemon_) {
      daemon_->stop();
      thread_.join();
    }
    std::filesystem::remove_all(dir_);
  }

  void write_config(const std::string& text) {
    std::ofstream(dir_ + "/remora.toml") << text;
  }

  void start(bool with_config = true, const std::string& listen = "") {
    DaemonOptions opt;
    transport::Endpoint ep;
    ASSERT_TRUE(transport::Endpoint::parse(listen.empty() ? "unix:" + dir_ + "/d.sock" : listen, &ep).ok());
    opt.listen.push_back(ep);
    opt.admin = "unix:" + dir_ + "/admin.sock";
    opt.metrics = "tcp:127.0.0.1:0";
    opt.handle_signals = false;
    opt.session_exe = FAKE_SESSION;
    if (with_config) {
      opt.config_path = dir_ + "/remora.toml";
      Status st = DaemonConfig::load(opt.config_path, &opt.config);
      ASSERT_TRUE(st.ok()) << st.str();
    }
    daemon_ = std::make_unique<Daemon>(std::move(opt));
    Status st = daemon_->start();
    ASSERT_TRUE(st.ok()) << st.str();
    endpoint_ = daemon_->bound()[0].str();
    thread_ = std::thread([this] { (void)daemon_->run(); });
  }

  std::string metrics() {
    transport::Endpoint ep;
    EXPECT_TRUE(transport::Endpoint::parse(daemon_->metrics_endpoint(), &ep).ok());
    Fd fd;
    EXPECT_TRUE(transport::dial(ep, &fd, transport::after(5s)).ok());
    const std::string req = "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n";
    EXPECT_TRUE(write_all(fd.get(), std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(req.data()), req.size()),
                          transport::after(5s))
                    .ok());
    return read_all(fd.get());
  }

  nlohmann::json status() {
    transport::Endpoint ep;
    EXPECT_TRUE(transport::Endpoint::parse("unix:" + dir_ + "/admin.sock", &ep).ok());
    Fd fd;
    EXPECT_TRUE(transport::dial(ep, &fd, transport::after(5s)).ok());
    return nlohmann::json::parse(read_all(fd.get()));
  }

  nlohmann::json tenant_status(const std::string& name) {
    const nlohmann::json doc = status();  // kept: the loop below refers into it
    for (const auto& t : doc["tenants"]) {
      if (t["name"] == name) return t;
    }
    return nlohmann::json();
  }

  std::string dir_, endpoint_;
  std::unique_ptr<Daemon> daemon_;
  std::thread thread_;
};

TEST_F(TenantsTest, WrongOrMissingCredentialsAreRefusedClearly) {
  start();
  FakeGuest g;
  EXPECT_EQ(g.connect(endpoint_, "alice", "wrong").code(), Code::kRefused);
  EXPECT_EQ(g.refusal(), "tenant 'alice': wrong or missing token");
  EXPECT_EQ(g.connect(endpoint_, "alice", "").code(), Code::kRefused);
  EXPECT_EQ(g.refusal(), "tenant 'alice': wrong or missing token");
  // An unknown name gets the same answer as a wrong token.
  EXPECT_EQ(g.connect(endpoint_, "mallory", "alice-secret").code(), Code::kRefused);
  EXPECT_EQ(g.refusal(), "tenant 'mallory': wrong or missing token");
  EXPECT_EQ(g.connect(endpoint_, "", "").code(), Code::kRefused);
  EXPECT_NE(g.refusal().find("requires a tenant and its token"), std::string::npos) << g.refusal();
  EXPECT_NE(metrics().find("remora_auth_failures_total 4\n"), std::string::npos);

  FakeGuest ok;
  Status st = ok.connect(endpoint_, "bob", "secret");
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_EQ(ok.noop(), 0);
}

TEST_F(TenantsTest, DeviceMemoryQuotaHoldsAcrossSessionsAndSurvivesAKill) {
  start();
  FakeGuest a, b, c;
  ASSERT_TRUE(a.connect(endpoint_, "alice", "alice-secret").ok());
  ASSERT_TRUE(b.connect(endpoint_, "alice", "alice-secret").ok());
  uint64_t id = 0;
  EXPECT_EQ(a.alloc(600, &id), 0);
  EXPECT_EQ(b.alloc(600), test::kQuotaError) << "600 + 600 is over alice's 1000 across her sessions";
  EXPECT_EQ(b.alloc(400), 0);
  EXPECT_EQ(b.alloc(1), test::kQuotaError);

  // max_sessions = 2
  EXPECT_EQ(c.connect(endpoint_, "alice", "alice-secret").code(), Code::kRefused);
  EXPECT_EQ(c.refusal(), "tenant 'alice': at its limit of 2 session(s)");

  nlohmann::json t = tenant_status("alice");
  EXPECT_EQ(t["device_memory"], 1000);
  EXPECT_EQ(t["sessions"], 2);
  EXPECT_EQ(t["quota_refusals"], 2);

  // A release refunds; a killed session's charge comes back when the daemon reaps it.
  EXPECT_EQ(a.release(id), 0);
  EXPECT_EQ(a.alloc(500), 0);
  ASSERT_EQ(::kill(a.server_pid(), SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return tenant_status("alice")["sessions"] == 1; }));
  EXPECT_EQ(tenant_status("alice")["device_memory"], 400);
  EXPECT_EQ(b.alloc(600), 0);

  // And a session that leaves in order gives back everything it held.
  b.goodbye();
  ASSERT_TRUE(eventually([&] { return tenant_status("alice")["sessions"] == 0; }));
  EXPECT_EQ(tenant_status("alice")["device_memory"], 0);

  const std::string m = metrics();
  EXPECT_NE(m.find("remora_quota_refusals_total{tenant=\"alice\"} 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("remora_device_memory_limit_bytes{tenant=\"alice\"} 1000\n"), std::string::npos) << m;
  EXPECT_NE(m.find("remora_session_limit_refusals_total 1\n"), std::string::npos) << m;
}

TEST_F(TenantsTest, ReloadChangesLimitsWithoutDroppingSessions) {
  start();
  FakeGuest a;
  ASSERT_TRUE(a.connect(endpoint_, "alice", "alice-secret").ok());
  EXPECT_EQ(a.alloc(1000), 0);
  EXPECT_EQ(a.alloc(1000), test::kQuotaError);

  // A broken file changes nothing.
  write_config("[tenants.alice\n");
  daemon_->reload();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(a.alloc(1000), test::kQuotaError);

  std::string text = kConfig;
  text.replace(text.find("device_memory = 1000"), 20, "device_memory = 2000");
  text += "\n[tenants.carol]\ntoken = \"carol-secret\"\n";
  write_config(text);
  daemon_->reload();
  ASSERT_TRUE(eventually([&] { return tenant_status("alice")["device_memory_limit"] == 2000; }));
  EXPECT_EQ(a.alloc(1000), 0) << "the running session sees the new limit";
  FakeGuest c;
  EXPECT_TRUE(c.connect(endpoint_, "carol", "carol-secret").ok()) << c.refusal();
}

TEST_F(TenantsTest, CallRateIsLimitedPerTenant) {
  start();
  FakeGuest b;
  ASSERT_TRUE(b.connect(endpoint_, "bob", "secret").ok());
  // 200 calls/s with a 0.1 s burst: 100 calls take at least ~0.4 s.
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) ASSERT_EQ(b.noop(), 0);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(secs, 0.35);
  EXPECT_LE(secs, 3.0);
  // The counters reach the daemon within the session's report interval.
  ASSERT_TRUE(eventually([&] { return tenant_status("bob")["calls"] == 100; }));
  EXPECT_GT(tenant_status("bob")["rate_delays"].get<uint64_t>(), 0u);
  EXPECT_GE(tenant_status("bob")["bytes_in"].get<uint64_t>(), 100u * 32) << "a noop batch is 32 bytes";
}

TEST_F(TenantsTest, MetricsEndpointSpeaksHttp) {
  start();
  const std::string m = metrics();
  EXPECT_EQ(m.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << m;
  EXPECT_NE(m.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(m.find("# TYPE remora_sessions gauge\n"), std::string::npos);
  EXPECT_NE(m.find("remora_sessions{tenant=\"bob\"} 0\n"), std::string::npos);

  transport::Endpoint ep;
  ASSERT_TRUE(transport::Endpoint::parse(daemon_->metrics_endpoint(), &ep).ok());
  Fd fd;
  ASSERT_TRUE(transport::dial(ep, &fd, transport::after(5s)).ok());
  const std::string req = "GET /secrets HTTP/1.1\r\n\r\n";
  ASSERT_EQ(::write(fd.get(), req.data(), req.size()), static_cast<ssize_t>(req.size()));
  EXPECT_EQ(read_all(fd.get()).rfind("HTTP/1.1 404", 0), 0u);
}

TEST_F(TenantsTest, WithoutTenantsNobodyAuthenticates) {
  start(/*with_config=*/false);
  FakeGuest g;
  Status st = g.connect(endpoint_, "anyone", "");
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_EQ(g.alloc(uint64_t{1} << 40), 0) << "no limits";
  EXPECT_EQ(status()["authentication"], false) << status().dump();
  EXPECT_EQ(tenant_status("anyone")["device_memory"], uint64_t{1} << 40);
}

// The daemon and a guest in two network namespaces joined by a veth pair, talking over TCP: what a
// guest VM or container on another network sees. Each side is a thread that joined its namespace
// (setns changes the calling thread only; the session processes the daemon forks inherit its
// namespace).
class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root (ip netns); skipped";
    const int tag = ::getpid() % 50000;
    ns_d_ = "remora-d-" + std::to_string(tag);
    ns_g_ = "remora-g-" + std::to_string(tag);
    const std::string vd = "rmd" + std::to_string(tag), vg = "rmg" + std::to_string(tag);
    subnet_ = "10.231." + std::to_string(tag % 250) + ".";
    veth_ = vd;
    const std::string cmds[] = {
        "ip netns add " + ns_d_,
        "ip netns add " + ns_g_,
        "ip link add " + vd + " type veth peer name " + vg,
        "ip link set " + vd + " netns " + ns_d_,
        "ip link set " + vg + " netns " + ns_g_,
        "ip -n " + ns_d_ + " addr add " + subnet_ + "1/24 dev " + vd,
        "ip -n " + ns_g_ + " addr add " + subnet_ + "2/24 dev " + vg,
        "ip -n " + ns_d_ + " link set " + vd + " up",
        "ip -n " + ns_g_ + " link set " + vg + " up",
        "ip -n " + ns_d_ + " link set lo up",
        "ip -n " + ns_g_ + " link set lo up",
    };
    for (const std::string& c : cmds) {
      if (std::system((c + " 2>/dev/null").c_str()) != 0) {
        GTEST_SKIP() << "network namespaces unavailable here (`" << c << "` failed); skipped";
      }
    }
    char templ[] = "/tmp/remora-netns-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
    std::ofstream(dir_ + "/remora.toml") << kConfig;
  }
  void TearDown() override {
    if (daemon_ != nullptr) daemon_->stop();
    if (thread_.joinable()) thread_.join();
    if (!veth_.empty()) (void)std::system(("ip link del " + veth_ + " 2>/dev/null").c_str());  // if never moved
    if (!ns_d_.empty()) (void)std::system(("ip netns del " + ns_d_ + " 2>/dev/null").c_str());
    if (!ns_g_.empty()) (void)std::system(("ip netns del " + ns_g_ + " 2>/dev/null").c_str());
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  static bool enter(const std::string& ns) {
    Fd fd(::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC));
    return fd.valid() && ::setns(fd.get(), CLONE_NEWNET) == 0;
  }

  std::string ns_d_, ns_g_, veth_, subnet_, dir_;
  std::unique_ptr<Daemon> daemon_;
  std::thread thread_;
};

TEST_F(NetnsTest, GuestInAnotherNamespaceAuthenticatesOverTcp) {
  std::promise<std::string> bound;
  auto bound_future = bound.get_future();
  thread_ = std::thread([&] {
    if (!enter(ns_d_)) return bound.set_value("setns into the daemon's namespace failed");
    DaemonOptions opt;
    transport::Endpoint ep;
    (void)transport::Endpoint::parse("tcp:" + subnet_ + "1:0", &ep);
    opt.listen.push_back(ep);
    opt.admin = "unix:" + dir_ + "/admin.sock";  // a path: reachable from every namespace
    opt.handle_signals = false;
    opt.session_exe = FAKE_SESSION;
    (void)DaemonConfig::load(dir_ + "/remora.toml", &opt.config);
    daemon_ = std::make_unique<Daemon>(std::move(opt));
    if (Status st = daemon_->start(); !st.ok()) return bound.set_value("start: " + st.str());
    bound.set_value(daemon_->bound()[0].str());
    (void)daemon_->run();
  });
  const std::string endpoint = bound_future.get();
  ASSERT_EQ(endpoint.rfind("tcp:" + subnet_ + "1:", 0), 0u) << endpoint;

  std::string failure;
  std::thread guest([&] {
    if (!enter(ns_g_)) {
      failure = "setns into the guest's namespace failed";
      return;
    }
    FakeGuest bad;
    if (bad.connect(endpoint, "alice", "nope").code() != Code::kRefused ||
        bad.refusal() != "tenant 'alice': wrong or missing token") {
      failure = "a wrong token was not refused as expected: " + bad.refusal();
      return;
    }
    FakeGuest g;
    if (Status st = g.connect(endpoint, "alice", "alice-secret"); !st.ok()) {
      failure = "connect: " + st.str();
      return;
    }
    if (g.alloc(800) != 0 || g.alloc(800) != test::kQuotaError) failure = "quota not enforced over TCP";
    g.goodbye();
  });
  guest.join();
  EXPECT_EQ(failure, "");

  // The session saw the guest's address in the other namespace.
  transport::Endpoint admin;
  ASSERT_TRUE(transport::Endpoint::parse("unix:" + dir_ + "/admin.sock", &admin).ok());
  Fd fd;
  ASSERT_TRUE(transport::dial(admin, &fd, transport::after(5s)).ok());
  const nlohmann::json doc = nlohmann::json::parse(read_all(fd.get()));
  EXPECT_EQ(doc["tenants"][0]["name"], "alice");
  EXPECT_EQ(doc["tenants"][0]["sessions_started"], 1) << doc.dump();
}

TEST(ExampleConfig, LoadsAndSaysWhatItSays) {
  DaemonConfig c;
  Status st = DaemonConfig::load(EXAMPLE_CONFIG, &c);
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(c.tenants.at("research").limits.weight, 3u);
  EXPECT_EQ(c.tenants.at("research").limits.device_memory, uint64_t{12} << 30);
  EXPECT_NE(c.authenticate("research", "secret"), nullptr);
  EXPECT_NE(c.authenticate("ci", "test"), nullptr);
}

}  // namespace
}  // namespace remora::server
