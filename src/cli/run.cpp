#include "cli/run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "cli/api_setup.h"
#include "common/log.h"
#include "transport/endpoint.h"

extern char** environ;

namespace remora::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kServerReadyTimeout = std::chrono::seconds(10);
constexpr auto kServerStopTimeout = std::chrono::seconds(5);

// One line on stderr, the form every user-facing error takes.
void complain(const std::string& message) { std::fprintf(stderr, "remora run: %s\n", message.c_str()); }

std::string describe_wait(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + ::strsignal(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

// The private directory: the socket, and what the APIs' declarations put there (an ICD file, links to
// guest libraries). Removed, with what is in it, when the run ends.
class PrivateDir {
 public:
  bool create(std::string* error) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/remora-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {  // mkdtemp makes it 0700
      *error = "cannot create a private directory " + templ + ": " + std::strerror(errno) + " (set TMPDIR?)";
      return false;
    }
    path_ = templ;
    return true;
  }
  ~PrivateDir() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The `remora` binary, and the folder of the guest libraries and the APIs' declarations beside it
// (build/bin, build/lib).
bool find_self(std::string* self, std::string* lib_dir, std::string* error) {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    *error = "cannot find the remora binary (/proc/self/exe): " + ec.message();
    return false;
  }
  *self = exe.string();
  const fs::path lib = exe.parent_path() / ".." / "lib";
  *lib_dir = fs::canonical(lib, ec).string();
  if (ec) *lib_dir = lib.lexically_normal().string();
  return true;
}

// Sets up each API's declaration (api_setup.h) in the private directory `dir`: its ICD file and
// links, and the variables the program gets for it, added to *vars.
bool set_up_apis(const std::vector<ApiSetup>& apis, const std::string& lib_dir, const std::string& dir,
                 std::vector<std::pair<std::string, std::string>>* vars, std::string* error) {
  bool linked = false;
  std::string preloads;
  for (const ApiSetup& api : apis) {
    std::error_code ec;
    const fs::path candidate = fs::path(lib_dir) / api.guest;
    if (!fs::exists(candidate, ec)) {
      if (api.optional) {
        log::debug("{}: no guest library {}; the run leaves {} out", api.origin, candidate.string(), api.api);
        continue;
      }
      *error = "the guest library " + candidate.string() + " is missing; build it with `make build`";
      return false;
    }
    std::string guest = fs::canonical(candidate, ec).string();
    if (ec) guest = candidate.string();
    std::string icd;
    if (!api.icd.empty()) {
      icd = dir + "/" + api.icd;
      std::ofstream f(icd);
      f << guest << "\n";
      if (!f) {
        *error = "cannot write " + icd;
        return false;
      }
    }
    for (const std::string& name : api.links) {
      fs::create_symlink(guest, fs::path(dir) / name, ec);
      if (ec) {
        *error = "cannot link " + name + " in " + dir + ": " + ec.message();
        return false;
      }
      linked = true;
    }
    for (const std::string& p : api.preloads) {
      const std::string file = (fs::path(lib_dir) / p).string();
      if (fs::exists(file, ec)) preloads += (preloads.empty() ? "" : ":") + file;
    }
    for (const auto& [name, value] : api.env) vars->emplace_back(name, expand_setup_value(value, guest, icd, dir));
  }
  // The links come first on the program's library path. The private server keeps the original
  // environment, so the vendor libraries it loads are the system's.
  if (linked) {
    std::string library_path = dir;
    if (const char* old = std::getenv("LD_LIBRARY_PATH"); old != nullptr && *old != '\0') library_path += std::string(":") + old;
    vars->emplace_back("LD_LIBRARY_PATH", library_path);
  }
  if (!preloads.empty()) {
    if (const char* old = std::getenv("LD_PRELOAD"); old != nullptr && *old != '\0') preloads += std::string(":") + old;
    vars->emplace_back("LD_PRELOAD", preloads);
  }
  return true;
}

// A server of our own for this run, started as `remora serve` from the original environment.
class PrivateServer {
 public:
  ~PrivateServer() { stop(); }

  bool start(const std::string& self, const std::string& listen, const std::string& vendor_library,
             const sigset_t& parent_mask, std::string* endpoint, std::string* error) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
      *error = std::string("pipe: ") + std::strerror(errno);
      return false;
    }
    const std::string ready_arg = std::to_string(pipefd[1]);
    std::vector<std::string> args = {self, "serve", "--listen", listen, "--ready-fd", ready_arg};
    if (!vendor_library.empty()) {
      args.push_back("--vendor-library");
      args.push_back(vendor_library);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
      *error = std::string("fork: ") + std::strerror(errno);
      ::close(pipefd[0]);
      ::close(pipefd[1]);
      return false;
    }
    if (pid == 0) {
      // Its own process group, so a ^C at the terminal reaches the command (which may want to clean
      // up through remora) and not the server; `remora run` stops the server itself afterwards. If
      // `remora run` dies without doing so, the kernel sends the server SIGTERM.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) _exit(1);
      ::fcntl(pipefd[1], F_SETFD, 0);
      ::sigprocmask(SIG_SETMASK, &parent_mask, nullptr);
      ::execv(argv[0], argv.data());
      _exit(127);
    }
    pid_ = pid;
    ::close(pipefd[1]);
    const bool ok = wait_ready(pipefd[0], endpoint, error);
    ::close(pipefd[0]);
    return ok;
  }

  // SIGTERM, then a bounded wait, then SIGKILL.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + kServerStopTimeout;
    int status = 0;
    for (;;) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) break;
      if (Clock::now() >= deadline) {
        log::warn("the private server (pid {}) did not stop within {} s: killing it", pid_,
                  std::chrono::duration_cast<std::chrono::seconds>(kServerStopTimeout).count());
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = 0;
  }

 private:
  // Reads the server's bound endpoints until it closes the pipe, bounded in time.
  bool wait_ready(int fd, std::string* endpoint, std::string* error) {
    std::string text;
    const auto deadline = Clock::now() + kServerReadyTimeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        *error = "the private server was not ready within " +
                 std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kServerReadyTimeout).count()) + " s";
        return false;
      }
      pollfd p{fd, POLLIN, 0};
      const int n = ::poll(&p, 1, static_cast<int>(left));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) continue;
      char buf[512];
      const ssize_t got = ::read(fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got > 0) {
        text.append(buf, static_cast<size_t>(got));
        continue;
      }
      break;  // EOF: the server closed it, after writing or by exiting
    }
    const size_t eol = text.find('\n');
    if (eol == std::string::npos || eol == 0) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, 0);
      pid_ = 0;
      *error = "the private server exited before it was ready (" +
               (r > 0 ? describe_wait(status) : std::string("status unknown")) + "); see its messages above";
      return false;
    }
    *endpoint = text.substr(0, eol);
    return true;
  }

  pid_t pid_ = 0;
};

// The command's environment: ours, with the variables that point the APIs' loaders at remora's guest
// libraries and tell the guest library where to connect.
std::vector<std::string> command_environment(const std::vector<std::pair<std::string, std::string>>& set) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& [k, v] : set) replaced = replaced || name == k;
    if (!replaced) env.emplace_back(entry);
  }
  for (const auto& [k, v] : set) env.push_back(k + "=" + v);
  return env;
}

}  // namespace

int run_command(const RunOptions& options) {
  if (options.command.empty()) {
    complain("no command given; usage: remora run [OPTIONS] -- COMMAND [ARGS...]");
    return 2;
  }
  std::string connect = options.connect;
  if (connect.empty()) {
    if (const char* env = std::getenv("REMORA_CONNECT"); env != nullptr) connect = env;
  }
  transport::Endpoint endpoint;
  if (!connect.empty()) {
    if (Status st = transport::Endpoint::parse(connect, &endpoint); !st.ok()) {
      complain("invalid endpoint \"" + connect + "\": " + st.message());
      return 2;
    }
  }
  transport::TransportKind kind;
  if (!options.transport.empty()) {
    if (Status st = transport::parse_transport_kind(options.transport, &kind); !st.ok()) {
      complain("--transport: " + st.message());
      return 2;
    }
  } else {
    kind = connect.empty() || endpoint.kind == transport::Endpoint::Kind::kUnix ? transport::TransportKind::kShm
                                                                                : transport::TransportKind::kTcp;
  }
  const bool wants_tcp = kind == transport::TransportKind::kTcp;
  // A tls: endpoint carries the stream (tcp) transport inside TLS.
  if (!connect.empty() && wants_tcp != endpoint.is_inet()) {
    complain(std::string("--transport ") + transport::transport_kind_name(kind) + " does not fit endpoint " + connect +
             (wants_tcp ? " (tcp needs a tcp:HOST:PORT or tls:HOST:PORT endpoint)"
                        : " (shm and unix need a unix:PATH endpoint)"));
    return 2;
  }
  const bool any_tls_flag = !options.tls_ca.empty() || !options.tls_cert.empty() || !options.tls_key.empty();
  if (any_tls_flag && (connect.empty() || endpoint.kind != transport::Endpoint::Kind::kTls)) {
    complain("--tls-ca, --tls-cert and --tls-key apply to a tls:HOST:PORT endpoint only");
    return 2;
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    complain("--tls-cert and --tls-key go together");
    return 2;
  }
  for (const std::string* f : {&options.tls_ca, &options.tls_cert, &options.tls_key}) {
    if (!f->empty() && ::access(f->c_str(), R_OK) != 0) {
      complain("cannot read " + *f + ": " + std::strerror(errno));
      return 2;
    }
  }
  if (!options.token_file.empty() && ::access(options.token_file.c_str(), R_OK) != 0) {
    complain("cannot read the token file " + options.token_file + ": " + std::strerror(errno));
    return 2;
  }

  std::string self, lib_dir, error;
  if (!find_self(&self, &lib_dir, &error)) {
    complain(error);
    return 2;
  }
  std::vector<ApiSetup> apis;
  if (Status st = load_api_setups(lib_dir + "/remora-run", &apis); !st.ok()) {
    complain(st.message());
    return 2;
  }
  PrivateDir dir;
  if (!dir.create(&error)) {
    complain(error);
    return 2;
  }
  std::vector<std::pair<std::string, std::string>> vars;
  if (!set_up_apis(apis, lib_dir, dir.path(), &vars, &error)) {
    complain(error);
    return 2;
  }

  // Termination signals are taken synchronously (sigwaitinfo below) and forwarded to the command;
  // SIGCHLD too, to learn when it ends. Children get the original mask back before exec.
  sigset_t handled, original;
  sigemptyset(&handled);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&handled, s);
  ::sigprocmask(SIG_BLOCK, &handled, &original);

  std::optional<PrivateServer> server;
  if (connect.empty()) {
    const std::string listen = wants_tcp ? "tcp:127.0.0.1:0" : "unix:" + dir.path() + "/remora.sock";
    server.emplace();
    if (!server->start(self, listen, options.vendor_library, original, &connect, &error)) {
      complain(error);
      return 1;
    }
  } else if (!options.vendor_library.empty()) {
    log::warn("--vendor-library applies to a private server only; the server at {} chooses its own", connect);
  }

  vars.emplace_back("REMORA_CONNECT", connect);
  vars.emplace_back("REMORA_TRANSPORT", transport::transport_kind_name(kind));
  if (!options.tenant.empty()) vars.emplace_back("REMORA_TENANT", options.tenant);
  if (!options.token_file.empty()) {
    std::error_code ec;
    const fs::path abs = fs::absolute(options.token_file, ec);
    vars.emplace_back("REMORA_TOKEN_FILE", ec ? options.token_file : abs.string());
  }
  // The guest library reads the files itself (it dials from inside the program); absolute paths, as
  // the program may change its directory.
  for (const auto& [var, file] : {std::pair<const char*, const std::string*>{"REMORA_TLS_CA", &options.tls_ca},
                                  {"REMORA_TLS_CERT", &options.tls_cert},
                                  {"REMORA_TLS_KEY", &options.tls_key}}) {
    if (file->empty()) continue;
    std::error_code ec;
    const fs::path abs = fs::absolute(*file, ec);
    vars.emplace_back(var, ec ? *file : abs.string());
  }
  std::vector<std::string> env = command_environment(vars);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options.command;
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // A pipe closed on a successful exec tells an exec failure (the errno is written) from a command
  // that ran and failed.
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    complain(std::string("pipe: ") + std::strerror(errno));
    return 1;
  }
  const pid_t child = ::fork();
  if (child < 0) {
    complain(std::string("fork: ") + std::strerror(errno));
    return 1;
  }
  if (child == 0) {
    ::sigprocmask(SIG_SETMASK, &original, nullptr);
    ::execvpe(argv[0], argv.data(), envp.data());
    const int err = errno;
    ssize_t ignored = ::write(exec_pipe[1], &err, sizeof err);
    (void)ignored;
    _exit(127);
  }
  ::close(exec_pipe[1]);
  int exec_errno = 0;
  ssize_t got;
  do {
    got = ::read(exec_pipe[0], &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  ::close(exec_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    ::waitpid(child, nullptr, 0);
    complain("cannot run " + options.command[0] + ": " + std::strerror(exec_errno));
    return 127;
  }

  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(child, &status, WNOHANG);
    if (r == child) break;
    if (r < 0 && errno != EINTR) {
      complain(std::string("waitpid: ") + std::strerror(errno));
      return 1;
    }
    siginfo_t info{};
    // A timeout guards against a SIGCHLD that came before the waitpid above looked.
    const timespec tick{0, 200 * 1000 * 1000};
    const int sig = ::sigtimedwait(&handled, &info, &tick);
    if (sig > 0 && sig != SIGCHLD) ::kill(child, sig);
  }
  if (server) server->stop();
  ::sigprocmask(SIG_SETMASK, &original, nullptr);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace remora::cli
