// Version skew end to end (docs/generated-code.md, "Compatibility"): guests and servers generated from
// two specs of one API (compat_v1.spec.c, compat_v2.spec.c: one opcode more, one fewer and one changed)
// talk to each other in both directions over every transport. A guest's call of an opcode the server
// lacks, or declares differently, fails alone with the API's "not supported"; every other call works.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>

#include "daemon/daemon.h"

namespace remora {
namespace {

using daemon::Daemon;
using daemon::DaemonOptions;

struct GuestRun {
  int status = -1;
  std::string out, err;
};

// Runs `program` with `env` added, waiting for it; its stdout and stderr go through files.
GuestRun run_guest(const std::string& program, const std::vector<std::string>& env, const std::string& dir) {
  const std::string out_path = dir + "/guest.out", err_path = dir + "/guest.err";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    for (const std::string& e : env) ::putenv(const_cast<char*>(e.c_str()));
    ::alarm(60);
    ::execl(program.c_str(), program.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  GuestRun r;
  ::waitpid(pid, &r.status, 0);
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

// guest spec, server spec, transport
using Case = std::tuple<int, int, std::string>;

class CompatTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/remora-compat-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    if (daemon_) {
      daemon_->stop();
      thread_.join();
    }
    std::filesystem::remove_all(dir_);
  }

  void start(int server_spec, const std::string& transport) {
    DaemonOptions opt;
    transport::Endpoint ep;
    const std::string listen = transport == "tcp" ? "tcp:127.0.0.1:0" : "unix:" + dir_ + "/d.sock";
    ASSERT_TRUE(transport::Endpoint::parse(listen, &ep).ok());
    opt.listen.push_back(ep);
    opt.handle_signals = false;
    opt.session_exe = server_spec == 1 ? COMPAT_SESSION_V1 : COMPAT_SESSION_V2;
    opt.vendor_library = COMPAT_VENDOR;
    daemon_ = std::make_unique<Daemon>(std::move(opt));
    Status st = daemon_->start();
    ASSERT_TRUE(st.ok()) << st.str();
    endpoint_ = daemon_->bound()[0].str();
    thread_ = std::thread([this] { (void)daemon_->run(); });
  }

  std::string dir_, endpoint_;
  std::unique_ptr<Daemon> daemon_;
  std::thread thread_;
};

TEST_P(CompatTest, EachSideServesWhatBothDeclareAlike) {
  const auto [guest_spec, server_spec, transport] = GetParam();
  start(server_spec, transport);
  const GuestRun r = run_guest(guest_spec == 1 ? COMPAT_GUEST_V1 : COMPAT_GUEST_V2,
                          {"REMORA_CONNECT=" + endpoint_, "REMORA_TRANSPORT=" + transport}, dir_);
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.err;

  const bool same = guest_spec == server_spec;
  std::string want = "compat_add status=0 sum=5\n";
  // compat_fill: v1 sends no values (the vendor adds to the server's scratch, whatever it holds, so
  // v1's results are those of an OUT buffer: only their being written is checked below); v2 sends them.
  if (!same) want += "compat_fill status=-2 values=10,10,10,10\n";
  if (guest_spec == 1)
    want += same ? "compat_old status=0\n" : "compat_old status=-2\n";
  else
    want += same ? "compat_new status=0 y=15\n" : "compat_new status=-2 y=0\n";
  want += "compat_add status=0 sum=42\n";
  std::string got = r.out;
  if (same) {
    // Take compat_fill's line out and check it on its own.
    const size_t at = got.find("compat_fill ");
    ASSERT_NE(at, std::string::npos) << got;
    const size_t end = got.find('\n', at);
    const std::string fill = got.substr(at, end - at);
    got.erase(at, end - at + 1);
    if (guest_spec == 2)
      EXPECT_EQ(fill, "compat_fill status=0 values=10,11,14,19");
    else
      EXPECT_EQ(fill.rfind("compat_fill status=0 values=", 0), 0u) << fill;
  }
  EXPECT_EQ(got, want) << r.err;
  if (!same) {
    // The guest says once which calls it answered itself, naming each.
    EXPECT_NE(r.err.find("compat_fill (opcode 2) is not served"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(guest_spec == 1 ? "compat_old (opcode 3) is not served" : "compat_new (opcode 4) is not served"),
              std::string::npos)
        << r.err;
  } else {
    EXPECT_EQ(r.err.find("is not served"), std::string::npos) << r.err;
  }
}

INSTANTIATE_TEST_SUITE_P(BothDirectionsEveryTransport, CompatTest,
                         ::testing::Combine(::testing::Values(1, 2), ::testing::Values(1, 2),
                                            ::testing::Values("shm", "unix", "tcp")),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return "guest_v" + std::to_string(std::get<0>(info.param)) + "_server_v" +
                                  std::to_string(std::get<1>(info.param)) + "_" + std::get<2>(info.param);
                         });

}  // namespace
}  // namespace remora
