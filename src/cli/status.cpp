#include "cli/status.h"

#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "transport/sockets.h"

namespace remora::cli {

namespace {

constexpr auto kStatusTimeout = std::chrono::seconds(5);
constexpr size_t kMaxDocument = 16 << 20;

int complain(const std::string& message) {
  std::fprintf(stderr, "remora status: %s\n", message.c_str());
  return 1;
}

// Reads the whole document: the daemon closes the connection after writing it.
Status read_document(int fd, std::string* out) {
  const auto deadline = transport::after(kStatusTimeout);
  char buf[16 * 1024];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - transport::Clock::now()).count();
    if (left <= 0) return Status(Code::kTimeout, "the daemon did not answer within 5 s");
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno != EINTR) return io_error("poll", errno);
    if (n <= 0) continue;
    const ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return io_error("read", errno);
    if (got == 0) return Status::Ok();
    out->append(buf, static_cast<size_t>(got));
    if (out->size() > kMaxDocument) return Status(Code::kTooLarge, "the daemon's answer is implausibly large");
  }
}

std::string field(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return "-";
  const nlohmann::json& v = j[key];
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  return v.dump();
}

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.1f%s", v, units[u]);
  return buf;
}

uint64_t number(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number_unsigned() ? j[key].get<uint64_t>() : 0;
}

// Fetches the admin document. On failure returns a message for the user (empty on success).
std::string fetch(const std::string& admin, nlohmann::json* doc) {
  if (admin.empty()) return "no admin endpoint: pass --connect unix:PATH (the daemon's --admin) or set REMORA_ADMIN";
  transport::Endpoint ep;
  if (Status st = transport::Endpoint::parse(admin, &ep); !st.ok()) {
    return "invalid endpoint \"" + admin + "\": " + st.message();
  }
  transport::Fd fd;
  if (Status st = transport::dial(ep, &fd, transport::after(kStatusTimeout)); !st.ok()) {
    return "cannot reach the daemon at " + admin + ": " + st.message() + " (is `remora serve --admin " + admin +
           "` running?)";
  }
  std::string text;
  if (Status st = read_document(fd.get(), &text); !st.ok()) return st.message();
  *doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc->is_discarded() || !doc->is_object()) return "the daemon's answer is not a JSON document";
  return "";
}

// The human-readable report: the daemon, its tenants and their usage, its sessions.
std::string render(const nlohmann::json& doc) {
  std::string out;
  auto line = [&out](const char* f, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, f, args...);
    out += buf;
  };
  std::string listen;
  for (const auto& l : doc.value("listen", nlohmann::json::array())) {
    if (!listen.empty()) listen += ", ";
    listen += l.is_string() ? l.get<std::string>() : l.dump();
  }
  line("daemon pid %s, listening on %s\n", field(doc, "pid").c_str(), listen.c_str());
  if (doc.contains("metrics")) line("metrics at http://%s/metrics\n", field(doc, "metrics").substr(4).c_str());
  if (doc.contains("authentication")) {
    line("authentication: %s\n", doc["authentication"] == true ? "tenants and tokens" : "none (private mode)");
  }
  const nlohmann::json tenants = doc.value("tenants", nlohmann::json::array());
  if (!tenants.empty()) {
    line("\n%-16s %8s %12s %10s %10s %21s %8s %8s %10s\n", "TENANT", "SESSIONS", "CALLS", "IN", "OUT",
         "DEVICE MEMORY/LIMIT", "REFUSED", "ERRORS", "DEVICE s");
    for (const auto& t : tenants) {
      const uint64_t limit = number(t, "device_memory_limit");
      const std::string mem = human_bytes(number(t, "device_memory")) + "/" + (limit == 0 ? "-" : human_bytes(limit));
      line("%-16s %8llu %12llu %10s %10s %21s %8llu %8llu %10.3f\n", field(t, "name").c_str(),
           static_cast<unsigned long long>(number(t, "sessions")), static_cast<unsigned long long>(number(t, "calls")),
           human_bytes(number(t, "bytes_in")).c_str(), human_bytes(number(t, "bytes_out")).c_str(), mem.c_str(),
           static_cast<unsigned long long>(number(t, "quota_refusals")),
           static_cast<unsigned long long>(number(t, "errors")), t.value("device_time_s", 0.0));
    }
  }
  const nlohmann::json sessions = doc.value("sessions", nlohmann::json::array());
  if (sessions.empty()) {
    line("\nno sessions\n");
    return out;
  }
  line("\n%-6s %-8s %-9s %-20s %-12s %-9s %-20s %-8s %s\n", "ID", "PID", "GUEST", "PROGRAM", "TENANT", "TRANSPORT",
       "STARTED", "UPTIME", "AUTH");
  for (const auto& s : sessions) {
    const std::string uptime = field(s, "uptime_s") + "s";
    // AUTH: how the session authenticated ("token", "client certificate CN=...", "none").
    line("%-6s %-8s %-9s %-20s %-12s %-9s %-20s %-8s %s\n", field(s, "id").c_str(), field(s, "pid").c_str(),
         field(s, "guest_pid").c_str(), field(s, "program").c_str(), field(s, "tenant").c_str(),
         field(s, "transport").c_str(), field(s, "started").c_str(), uptime.c_str(), field(s, "auth").c_str());
  }
  return out;
}

// Puts the terminal into non-canonical, no-echo mode without signals (^C arrives as a byte, so `top`
// can restore the terminal before it quits) and restores it when destroyed.
class RawTerminal {
 public:
  RawTerminal() {
    if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  bool active() const { return active_; }

 private:
  termios saved_{};
  bool active_ = false;
};

}  // namespace

int status_command(const std::string& admin, bool json) {
  nlohmann::json doc;
  if (std::string why = fetch(admin, &doc); !why.empty()) return complain(why);
  if (json) {
    std::printf("%s\n", doc.dump(2).c_str());
    return 0;
  }
  std::fputs(render(doc).c_str(), stdout);
  return 0;
}

int top_command(const std::string& admin) {
  RawTerminal term;
  for (;;) {
    nlohmann::json doc;
    const std::string why = fetch(admin, &doc);
    // Home, clear, redraw: one write, so the screen does not flicker line by line.
    std::string screen = "\x1b[H\x1b[2J";
    screen += why.empty() ? render(doc) : "remora top: " + why + "\n";
    screen += term.active() ? "\n(q quits)\n" : "\n(^C quits)\n";
    std::fputs(screen.c_str(), stdout);
    std::fflush(stdout);
    const auto next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{STDIN_FILENO, POLLIN, 0};
      const int n = ::poll(&p, 1, static_cast<int>(left.count()));
      if (n <= 0 || !term.active()) {
        if (n > 0) std::this_thread::sleep_for(left);  // not a terminal: input is not ours to read
        continue;
      }
      char c = 0;
      if (::read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q' || c == 3 /* ^C */ || c == 4 /* ^D */)) return 0;
    }
  }
}

}  // namespace remora::cli
