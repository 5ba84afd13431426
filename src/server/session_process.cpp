#include <atomic>
#include "server/session_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <condition_variable>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "common/host_block.h"
#include "common/log.h"
#include "server/handshake.h"
#include "server/tenant_usage.h"
#include "transport/shm.h"
#include "transport/sockets.h"

namespace remora::server {

namespace {

constexpr auto kReplyTimeout = std::chrono::seconds(10);
// How often the session adds its counters to the tenant's usage block (what metrics lag by).
constexpr auto kReportInterval = std::chrono::milliseconds(500);

// Adds a session's counters to its tenant's block: periodically on its own thread, and once more at
// the end. Only deltas are added, so the block's counters are cumulative over all sessions.
class StatsReporter {
 public:
  StatsReporter(Session::Stats& stats, TenantUsage& usage) : stats_(stats), usage_(usage) {
    thread_ = std::thread([this] {
      std::unique_lock lock(mu_);
      while (!cv_.wait_for(lock, kReportInterval, [this] { return stop_; })) report();
    });
  }
  ~StatsReporter() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    report();
  }

 private:
  void report() {
    const uint64_t calls = stats_.calls.load(), in = stats_.bytes_in.load(), out = stats_.bytes_out.load(),
                   errors = stats_.errors.load();
    usage_.add_stats(calls - calls_, in - in_, out - out_, errors - errors_);
    calls_ = calls;
    in_ = in;
    out_ = out;
    errors_ = errors;
  }
  Session::Stats& stats_;
  TenantUsage& usage_;
  uint64_t calls_ = 0, in_ = 0, out_ = 0, errors_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Refuses the guest: logs the reason and sends it. Returns the exit status for a refused session.
int refuse(int conn_fd, const std::string& reason) {
  log::warn("refusing the guest: {}", reason);
  Status st = write_all(conn_fd, refuse_frame(reason), transport::after(kReplyTimeout));
  if (!st.ok()) log::warn("could not send the refusal: {}", st.str());
  return 1;
}

// SIGTERM/SIGINT. Before the session runs, they end the process at once (nothing is held yet).
// Once it runs, they close its channels instead: Session::run then returns and releases what the
// guest held, which killing the process outright would not do in order. The signals are blocked in
// every thread (the mask is set before any thread starts) and read from a signalfd by this watcher.
class SignalWatcher {
 public:
  SignalWatcher() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal_fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!signal_fd_.valid() || !wake_fd_.valid()) {
      log::warn("no signal watcher (signalfd/eventfd failed); SIGTERM will not end the session in order");
      pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
      return;
    }
    thread_ = std::thread([this] { watch(); });
  }
  ~SignalWatcher() { stop(); }

  // From here on a signal closes these channels (which must outlive stop()).
  void attach(transport::Channel* calls, transport::Channel* events) {
    std::lock_guard lock(mu_);
    calls_ = calls;
    events_ = events;
  }
  void stop() {
    if (!thread_.joinable()) return;
    const uint64_t one = 1;
    ssize_t ignored = ::write(wake_fd_.get(), &one, sizeof one);
    (void)ignored;
    thread_.join();
    std::lock_guard lock(mu_);
    calls_ = events_ = nullptr;
  }

 private:
  void watch() {
    pollfd fds[2] = {{signal_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    for (;;) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;
      signalfd_siginfo info{};
      if (::read(signal_fd_.get(), &info, sizeof info) != static_cast<ssize_t>(sizeof info)) continue;
      std::lock_guard lock(mu_);
      if (calls_ == nullptr) {
        log::info("signal {} before the session started: exiting", info.ssi_signo);
        _exit(1);
      }
      log::info("signal {}: ending the session", info.ssi_signo);
      signalled_ = true;
      calls_->close();
      if (events_ != nullptr) events_->close();
      return;
    }
  }

  transport::Fd signal_fd_;
  transport::Fd wake_fd_;

 public:
  // A signal ended the session (the daemon shutting down): its "closed" end is expected.
  bool signalled() const { return signalled_.load(); }

 private:
  std::atomic<bool> signalled_{false};
  std::thread thread_;
  std::mutex mu_;
  transport::Channel* calls_ = nullptr;
  transport::Channel* events_ = nullptr;
};

const ApiServer* find_api(std::span<const ApiServer* const> apis, const std::string& name) {
  for (const ApiServer* a : apis) {
    if (a != nullptr && name == a->name) return a;
  }
  return nullptr;
}

std::string api_names(std::span<const ApiServer* const> apis) {
  std::string out;
  for (const ApiServer* a : apis) {
    if (a == nullptr) continue;
    if (!out.empty()) out += ", ";
    out += a->name;
  }
  return out.empty() ? "none" : out;
}

// Receives the events connection of a stream session from the daemon.
Status receive_events_fd(int control_fd, uint64_t session, std::chrono::milliseconds timeout, transport::Fd* out) {
  EventsHandoff handoff{};
  Status st = transport::recv_fd(control_fd, out,
                                 std::span<uint8_t>(reinterpret_cast<uint8_t*>(&handoff), sizeof handoff),
                                 transport::after(timeout));
  if (!st.ok()) return Status(st.code(), "waiting for the guest's events connection: " + st.message());
  if (handoff.session != session) {
    return Status(Code::kMalformed, "the daemon passed the events connection of session " +
                                        std::to_string(handoff.session) + " to session " + std::to_string(session));
  }
  return Status::Ok();
}

// What a session process's block pool may keep (common/host_block.h).
constexpr size_t kSessionPoolBytes = size_t{3} << 29;  // 1.5 GiB

}  // namespace

Status limit_host_memory(uint64_t extra) {
  uint64_t pages = 0;
  if (!(std::ifstream("/proc/self/statm") >> pages)) return Status(Code::kIo, "cannot read /proc/self/statm");
  const uint64_t mapped = pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  rlimit lim{};
  if (::getrlimit(RLIMIT_AS, &lim) != 0) return io_error("getrlimit(RLIMIT_AS)", errno);
  const uint64_t want = extra > RLIM_INFINITY - mapped ? RLIM_INFINITY : mapped + extra;
  if (lim.rlim_max != RLIM_INFINITY && want > lim.rlim_max) return Status::Ok();  // already tighter
  lim.rlim_cur = want;
  if (::setrlimit(RLIMIT_AS, &lim) != 0) return io_error("setrlimit(RLIMIT_AS)", errno);
  log::info("host memory: {} MiB mapped, at most {} MiB more", mapped >> 20, extra >> 20);
  return Status::Ok();
}

std::vector<std::string> session_arguments(const SessionProcessConfig& c) {
  std::vector<std::string> args = {"--conn-fd", std::to_string(c.conn_fd), "--control-fd", std::to_string(c.control_fd)};
  if (c.usage_fd >= 0) {
    args.insert(args.end(), {"--usage-fd", std::to_string(c.usage_fd), "--usage-slot", std::to_string(c.usage_slot)});
  }
  if (c.scheduler_fd >= 0) args.insert(args.end(), {"--scheduler-fd", std::to_string(c.scheduler_fd)});
  args.insert(args.end(), {"--message-timeout-ms", std::to_string(c.message_timeout.count()), "--tcp-timeout-ms",
                           std::to_string(c.tcp_timeout.count()), "--max-host-memory", std::to_string(c.max_host_memory)});
  return args;
}

Status parse_session_arguments(std::span<const char* const> args, SessionProcessConfig* out) {
  for (size_t i = 0; i < args.size(); i += 2) {
    const std::string_view flag = args[i];
    if (i + 1 >= args.size()) return Status(Code::kInvalid, fmt::format("{} needs a value", flag));
    const std::string_view text = args[i + 1];
    uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return Status(Code::kInvalid, fmt::format("{} {}: not a number", flag, text));
    }
    const bool is_fd = flag.ends_with("-fd") || flag == "--usage-slot";
    if (is_fd && value > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
      return Status(Code::kInvalid, fmt::format("{} {}: out of range", flag, text));
    }
    const int small = static_cast<int>(is_fd ? value : 0);
    if (flag == "--conn-fd") {
      out->conn_fd = small;
    } else if (flag == "--control-fd") {
      out->control_fd = small;
    } else if (flag == "--usage-fd") {
      out->usage_fd = small;
    } else if (flag == "--usage-slot") {
      out->usage_slot = small;
    } else if (flag == "--scheduler-fd") {
      out->scheduler_fd = small;
    } else if (flag == "--message-timeout-ms") {
      if (value > 0) out->message_timeout = std::chrono::milliseconds(value);  // 0 keeps the default
    } else if (flag == "--tcp-timeout-ms") {
      if (value > 0) out->tcp_timeout = std::chrono::milliseconds(value);
    } else if (flag == "--max-host-memory") {
      out->max_host_memory = value;
    } else {
      return Status(Code::kInvalid, fmt::format("unknown option {}", flag));
    }
  }
  return Status::Ok();
}

int run_session_process(std::span<const ApiServer* const> apis, const SessionProcessConfig& config) {
  log::set_side("server");
  // A session process serves one guest: it may keep what a stream of large transfers needs (a
  // received message and a command's kept data, each up to the buffer's size) for reuse
  // (common/host_block.h). An address-space limit still holds: the pool empties before a request fails.
  set_host_block_pool_limit(kSessionPoolBytes);
  transport::Fd conn(config.conn_fd);
  transport::Fd control(config.control_fd);
  if (!conn.valid() || !control.valid()) {
    log::error("remora-session is started by the daemon (remora serve), not by hand");
    return 1;
  }
  TenantUsage usage;
  if (config.usage_fd >= 0) {
    if (Status st = TenantUsage::attach(config.usage_fd, &usage); !st.ok()) {
      log::error("the tenant's usage block from the daemon: {}", st.str());
      return 1;
    }
  }
  DeviceScheduler scheduler;
  if (config.scheduler_fd >= 0) {
    if (Status st = DeviceScheduler::attach(config.scheduler_fd, &scheduler); !st.ok()) {
      log::error("the scheduler block from the daemon: {}", st.str());
      return 1;
    }
  }
  // Blocked before any thread exists, so that every later thread inherits the mask.
  SignalWatcher signals;

  std::vector<uint8_t> record_bytes;
  Status st = read_frame(control.get(), &record_bytes, kMaxHelloBytes + 64 * 1024,
                         transport::after(config.setup_timeout));
  if (!st.ok()) {
    log::error("reading the control record from the daemon: {}", st.str());
    return 1;
  }
  ControlRecord record;
  wire::Reader rr(record_bytes.data(), record_bytes.size());
  if (!decode(&rr, &record)) {
    log::error("malformed control record from the daemon: {}", rr.why());
    return 1;
  }
  protocol::Hello hello;
  if (st = parse_hello(record.hello, &hello); !st.ok()) return refuse(conn.get(), st.message());

  const std::string who = fmt::format("session {} (guest pid {}, program \"{}\", tenant \"{}\")", record.session,
                                      hello.pid, hello.program, hello.tenant);
  const ApiServer* api = find_api(apis, hello.api);
  if (api == nullptr) {
    return refuse(conn.get(), fmt::format("API \"{}\" is not served here (this server serves: {})", hello.api,
                                          api_names(apis)));
  }
  if (std::string why = protocol::check_hello(hello, api->name); !why.empty()) {
    return refuse(conn.get(), why);
  }
  if (hello.channel != 0) return refuse(conn.get(), "a session process serves only a new session's calls channel");
  const bool shm = hello.transport == protocol::kTransportShm;
  if (!shm && hello.transport != protocol::kTransportStream) {
    return refuse(conn.get(), fmt::format("unknown transport {} in the Hello (expected 0 shm or 1 stream)",
                                          hello.transport));
  }
  if (shm && record.conn_kind != "unix") {
    return refuse(conn.get(), "the shm transport needs a unix socket endpoint (connected over " +
                                  record.conn_kind + "); use --transport tcp");
  }
  // "tls": the daemon terminates TLS and relays the plaintext over a unix socketpair (transport/tls.h).
  const char* kind = record.conn_kind == "tcp" ? "tcp" : record.conn_kind == "tls" ? "tls" : "unix";

  // The guest ICD checks this so that a vendor library which itself loads an OpenCL ICD loader never
  // routes back into remora.
  ::setenv("REMORA_SERVER_PROCESS", "1", 1);
  std::string error;
  if (!api->load_vendor(record.vendor_library, &error)) {
    const std::string lib = record.vendor_library.empty() ? "(default)" : record.vendor_library;
    return refuse(conn.get(), fmt::format("cannot load {} vendor library {}: {}", api->name, lib, error));
  }

  // The opcodes this guest may call: those both specs declare alike. The rest it answers itself.
  std::vector<std::string> skew;
  protocol::ServedOpcodes served = protocol::negotiate(hello.opcodes, api->opcodes, &skew);
  for (const std::string& note : skew) log::info("{}: {}", who, note);

  protocol::Welcome welcome;
  welcome.served = served;
  welcome.session = record.session;
  welcome.session_key = record.session_key;
  welcome.server_pid = static_cast<int32_t>(::getpid());
  if (st = write_all(conn.get(), welcome_frame(welcome), transport::after(kReplyTimeout)); !st.ok()) {
    log::warn("{}: sending the Welcome: {}", who, st.str());
    return 1;
  }

  transport::Connection connection;
  const pid_t peer = transport::peer_pid(conn.get());
  const std::string peer_name = transport::peer_name(conn.get());
  if (shm) {
    transport::ShmConfig shm_config;
    shm_config.message_timeout = config.message_timeout;
    st = transport::shm_serve(std::move(conn), shm_config, &connection);
    if (!st.ok()) {
      log::warn("{}: setting up shared memory: {}", who, st.str());
      return 1;
    }
  } else {
    transport::set_tcp_timeout(conn.get(), config.tcp_timeout);
    connection.calls = transport::make_stream_channel(std::move(conn), kind, size_t{1} << 34, config.message_timeout);
    transport::Fd events_fd;
    st = receive_events_fd(control.get(), record.session, config.setup_timeout, &events_fd);
    if (!st.ok()) {
      log::warn("{}: {}", who, st.str());
      return 1;
    }
    transport::set_tcp_timeout(events_fd.get(), config.tcp_timeout);
    connection.events = transport::make_stream_channel(std::move(events_fd), kind, size_t{1} << 34, config.message_timeout);
    const std::vector<uint8_t> frame = welcome_frame(welcome);
    // The channel frames the message itself: send the message without the frame's length prefix.
    const wire::Segment seg{frame.data() + sizeof(uint64_t), frame.size() - sizeof(uint64_t)};
    if (st = connection.events->send(std::span<const wire::Segment>(&seg, 1)); !st.ok()) {
      log::warn("{}: welcoming the events connection: {}", who, st.str());
      return 1;
    }
  }
  if (connection.peer_pid == 0) connection.peer_pid = peer;
  if (connection.peer.empty()) connection.peer = peer_name;
  log::info("{}: serving {} over {}", who, api->name, shm ? "shm" : kind);
  if (config.max_host_memory != 0) {
    if (Status lim = limit_host_memory(config.max_host_memory); !lim.ok()) log::warn("{}: {}", who, lim.str());
  }

  SessionOptions options;
  options.tenant = hello.tenant;
  // Non-empty even for a guest that calls nothing: an empty set would mean "everything".
  options.served = served.bits().empty() ? protocol::ServedOpcodes(std::vector<uint8_t>{0}) : served;
  if (const char* dir = std::getenv("REMORA_RECORD_DIR"); dir != nullptr) options.record_dir = dir;  // tests only
  std::optional<TenantPolicy> policy;
  if (usage.valid()) {
    policy.emplace(&usage, config.usage_slot, scheduler.valid() ? &scheduler : nullptr);
    options.policy = &*policy;
  }
  Status end;
  {
    transport::Channel* calls = connection.calls.get();
    transport::Channel* events = connection.events.get();
    Session session(*api, std::move(connection), options);
    std::optional<StatsReporter> reporter;
    if (usage.valid()) reporter.emplace(session.stats(), usage);
    signals.attach(calls, events);
    end = session.run();
    signals.stop();  // before the session (and its channels) go
  }
  if (end.ok()) {
    log::info("{}: ended", who);
    return 0;
  }
  if (signals.signalled()) {
    // `remora run` stops its private server as soon as the program exits, which can overtake the
    // guest's goodbye: not worth a warning.
    log::info("{}: ended by a signal ({})", who, end.str());
    return 0;
  }
  log::warn("{}: ended: {}", who, end.str());
  return 1;
}

}  // namespace remora::server
