// Session processes: started (fork+exec of the session executable) for each admitted guest, and
// reaped, with the tenant's bookkeeping, however they end.
#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "common/log.h"
#include "daemon/daemon_impl.h"
#include "server/session_process.h"

namespace remora::daemon {

namespace {

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
  return fmt::format("wait status {:#x}", status);
}

}  // namespace

std::string default_session_exe(std::string* error) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    *error = "cannot find the session executable: /proc/self/exe: " + ec.message();
    return "";
  }
  return (self.parent_path() / "remora-session").string();
}

void Daemon::Impl::spawn_session(Pending& p, const protocol::Hello& h, std::vector<uint8_t> hello_bytes,
                                  const std::string& tenant, TenantState& t, const std::string& auth) {
  SessionEntry s;
  s.id = next_session++;
  do {
    if (::getrandom(&s.key, sizeof s.key, 0) != static_cast<ssize_t>(sizeof s.key)) {
      log::error("getrandom failed: {}; refusing {}", std::strerror(errno), p.peer);
      return refuse(p, "the server could not make a session key");
    }
  } while (s.key == 0);
  s.guest_pid = h.pid;
  s.program = h.program;
  s.tenant = tenant;
  s.transport = h.transport == protocol::kTransportShm ? "shm" : p.kind;
  s.peer = p.peer;
  s.auth = auth;
  s.started = std::chrono::system_clock::now();

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    log::error("socketpair: {}", std::strerror(errno));
    return refuse(p, "the server is out of resources");
  }
  s.control.reset(sv[0]);
  Fd theirs(sv[1]);

  // The record goes into the socket before the child exists; it is far smaller than the socket
  // buffer, so this does not wait.
  server::ControlRecord record;
  record.session = s.id;
  record.session_key = s.key;
  record.hello = std::move(hello_bytes);
  record.vendor_library = opt.vendor_library;
  record.conn_kind = p.kind;
  wire::Writer w;
  encode(record, &w);
  std::vector<uint8_t> body = w.flatten();
  const uint64_t length = body.size();
  std::vector<uint8_t> frame(sizeof length + body.size());
  std::memcpy(frame.data(), &length, sizeof length);
  std::memcpy(frame.data() + sizeof length, body.data(), body.size());
  Status st = set_nonblocking(s.control.get(), true);
  if (st.ok()) st = server::write_all(s.control.get(), frame, Clock::now());
  // The guest's socket goes to the child blocking; O_NONBLOCK belongs to the shared file description.
  // Over TLS the child gets its end of a socketpair instead, which the relay joins to the guest.
  Fd relay_end;
  int conn_fd = p.fd.get();
  if (st.ok() && p.tls) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      st = io_error("socketpair", errno);
    } else {
      relay_end.reset(pair[0]);
      p.fd.reset(pair[1]);  // p.fd is free: the TLS connection owns the guest's socket
      conn_fd = p.fd.get();
    }
  }
  if (st.ok()) st = set_nonblocking(conn_fd, false);
  if (!st.ok()) {
    log::error("preparing session {}: {}", s.id, st.str());
    return refuse(p, "the server could not start a session");
  }

  // Everything the child needs is built before fork: between fork and exec only async-signal-safe
  // calls are allowed (the process may have other threads, in tests).
  s.usage_slot = t.usage.acquire_slot();
  if (s.usage_slot < 0) {
    // max_sessions is capped at the slot count, so this means a bookkeeping error; refuse rather than
    // run a session outside its tenant's quota.
    log::error("tenant '{}': no free usage slot with {} session(s) running", tenant, t.sessions);
    return refuse(p, "the server could not start a session");
  }
  server::SessionProcessConfig child;
  child.conn_fd = conn_fd;
  child.control_fd = theirs.get();
  child.usage_fd = t.usage.fd();
  child.usage_slot = s.usage_slot;
  child.scheduler_fd = scheduler.fd();
  // 0 (a config that says so) keeps the session's defaults.
  if (opt.session.message_timeout_ms > 0) child.message_timeout = std::chrono::milliseconds(opt.session.message_timeout_ms);
  if (opt.session.tcp_timeout_ms > 0) child.tcp_timeout = std::chrono::milliseconds(opt.session.tcp_timeout_ms);
  child.max_host_memory = opt.session.max_host_memory;
  std::vector<std::string> args = server::session_arguments(child);
  args.insert(args.begin(), opt.session_exe);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int usage_fd = child.usage_fd;
  const int scheduler_fd = child.scheduler_fd;
  const pid_t pid = ::fork();
  if (pid < 0) {
    log::error("fork: {}", std::strerror(errno));
    t.usage.release_slot(s.usage_slot);
    return refuse(p, "the server could not start a session");
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::fcntl(conn_fd, F_SETFD, 0);
    ::fcntl(theirs.get(), F_SETFD, 0);
    ::fcntl(usage_fd, F_SETFD, 0);
    ::fcntl(scheduler_fd, F_SETFD, 0);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  s.pid = pid;
  if (p.tls) {
    // The Welcome comes from the session through the relay; later plaintext flows the same way.
    relay->add(std::move(p.tls), std::move(relay_end), std::move(p.tls_in), p.peer);
  }
  ++t.sessions;
  ++t.sessions_started;
  log::info("session {} started: pid {}, guest pid {}, program \"{}\", tenant \"{}\" ({}), transport {}, from {}", s.id,
            pid, s.guest_pid, s.program, s.tenant, s.auth, s.transport, s.peer);
  sessions.emplace(s.id, std::move(s));
  // p.fd and theirs close here: the child has its own copies.
}

void Daemon::Impl::reap(bool log_all) {
  for (auto it = sessions.begin(); it != sessions.end();) {
    int status = 0;
    const pid_t r = ::waitpid(it->second.pid, &status, WNOHANG);
    if (r != it->second.pid) {
      ++it;
      continue;
    }
    const SessionEntry& s = it->second;
    if (auto t = tenants.find(s.tenant); t != tenants.end()) {
      if (t->second.sessions > 0) --t->second.sessions;
      if (const uint64_t left = t->second.usage.release_slot(s.usage_slot); left != 0) {
        log::info("session {}: returned {} bytes of device memory it still held to tenant '{}'", s.id, left, s.tenant);
      }
    }
    const auto secs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now() - s.started);
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (clean || log_all) {
      log::info("session {} ended: pid {}, program \"{}\", tenant \"{}\", {}, after {:.1f} s", s.id, s.pid, s.program,
                s.tenant, describe_exit(status), secs.count() / 1000.0);
    } else {
      log::warn("session {} ended: pid {}, program \"{}\", tenant \"{}\", {}, after {:.1f} s", s.id, s.pid, s.program,
                s.tenant, describe_exit(status), secs.count() / 1000.0);
    }
    it = sessions.erase(it);
  }
}

void Daemon::Impl::end_sessions() {
  if (sessions.empty()) return;
  log::info("ending {} session(s)", sessions.size());
  for (const auto& [id, s] : sessions) ::kill(s.pid, SIGTERM);
  const Deadline deadline = transport::after(opt.shutdown_grace);
  while (!sessions.empty() && Clock::now() < deadline) {
    reap(true);
    if (!sessions.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (const auto& [id, s] : sessions) {
    log::warn("session {} (pid {}) did not end within {} ms of SIGTERM: killing it", id, s.pid, opt.shutdown_grace.count());
    ::kill(s.pid, SIGKILL);
  }
  for (auto& [id, s] : sessions) {
    int status = 0;
    while (::waitpid(s.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  sessions.clear();
}

}  // namespace remora::daemon
