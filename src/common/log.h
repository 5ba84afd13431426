// Logging to stderr (never stdout: in the guest, stdout belongs to the application).
//
// One line per event, "remora[<side> <pid>] <level>: <message>", with key=value fields where useful.
// The level comes from REMORA_LOG (error, warn, info, debug; default warn). Secrets (tokens) must never
// be passed here.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace remora::log {

enum class Level { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// "guest", "server", "daemon", "cli": set once at process start-up.
void set_side(const char* side);
bool enabled(Level level);
void write(Level level, std::string_view message);

template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kError)) write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kWarn)) write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kInfo)) write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kDebug)) write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace remora::log
