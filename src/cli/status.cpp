#include "cli/status.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>

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

}  // namespace

int status_command(const std::string& admin, bool json) {
  if (admin.empty()) {
    return complain("no admin endpoint: pass --connect unix:PATH (the daemon's --admin) or set REMORA_ADMIN");
  }
  transport::Endpoint ep;
  if (Status st = transport::Endpoint::parse(admin, &ep); !st.ok()) {
    return complain("invalid endpoint \"" + admin + "\": " + st.message());
  }
  transport::Fd fd;
  if (Status st = transport::dial(ep, &fd, transport::after(kStatusTimeout)); !st.ok()) {
    return complain("cannot reach the daemon at " + admin + ": " + st.message() + " (is `remora serve --admin " +
                    admin + "` running?)");
  }
  std::string text;
  if (Status st = read_document(fd.get(), &text); !st.ok()) return complain(st.message());
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return complain("the daemon's answer is not a JSON document");
  if (json) {
    std::printf("%s\n", doc.dump(2).c_str());
    return 0;
  }
  std::string listen;
  for (const auto& l : doc.value("listen", nlohmann::json::array())) {
    if (!listen.empty()) listen += ", ";
    listen += l.is_string() ? l.get<std::string>() : l.dump();
  }
  std::printf("daemon pid %s, listening on %s\n", field(doc, "pid").c_str(), listen.c_str());
  const nlohmann::json sessions = doc.value("sessions", nlohmann::json::array());
  if (sessions.empty()) {
    std::printf("no sessions\n");
    return 0;
  }
  std::printf("%-6s %-8s %-9s %-20s %-12s %-9s %-20s %s\n", "ID", "PID", "GUEST", "PROGRAM", "TENANT", "TRANSPORT",
              "STARTED", "UPTIME");
  for (const auto& s : sessions) {
    std::printf("%-6s %-8s %-9s %-20s %-12s %-9s %-20s %ss\n", field(s, "id").c_str(), field(s, "pid").c_str(),
                field(s, "guest_pid").c_str(), field(s, "program").c_str(), field(s, "tenant").c_str(),
                field(s, "transport").c_str(), field(s, "started").c_str(), field(s, "uptime_s").c_str());
  }
  return 0;
}

}  // namespace remora::cli
