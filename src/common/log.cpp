#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

namespace remora::log {
namespace {

std::atomic<const char*> g_side{"remora"};

Level level_from_env() {
  const char* v = std::getenv("REMORA_LOG");
  if (v == nullptr) return Level::kWarn;
  if (std::strcmp(v, "error") == 0) return Level::kError;
  if (std::strcmp(v, "info") == 0) return Level::kInfo;
  if (std::strcmp(v, "debug") == 0) return Level::kDebug;
  return Level::kWarn;
}

Level current() {
  static const Level level = level_from_env();
  return level;
}

const char* level_name(Level l) {
  switch (l) {
    case Level::kError: return "error";
    case Level::kWarn: return "warn";
    case Level::kInfo: return "info";
    case Level::kDebug: return "debug";
  }
  return "?";
}

}  // namespace

void set_side(const char* side) { g_side.store(side); }

bool enabled(Level level) { return static_cast<int>(level) <= static_cast<int>(current()); }

void write(Level level, std::string_view message) {
  // One write(2) per line so lines from several threads and processes do not interleave.
  std::string line = fmt::format("remora[{} {}] {}: {}\n", g_side.load(), getpid(), level_name(level), message);
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace remora::log
