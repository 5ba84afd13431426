#include "common/status.h"

#include <cstring>

namespace remora {

const char* code_name(Code c) {
  switch (c) {
    case Code::kOk: return "ok";
    case Code::kTimeout: return "timeout";
    case Code::kClosed: return "closed";
    case Code::kIo: return "io";
    case Code::kMalformed: return "malformed";
    case Code::kRefused: return "refused";
    case Code::kTooLarge: return "too large";
    case Code::kInvalid: return "invalid";
  }
  return "unknown";
}

std::string Status::str() const {
  if (ok()) return "ok";
  return std::string(code_name(code_)) + ": " + message_;
}

Status io_error(const std::string& what, int err) {
  return Status(Code::kIo, what + ": " + std::strerror(err));
}

}  // namespace remora
