// A small error type for the runtime. APIs' own error values never travel in a Status: a Status is
// about remora's machinery (transport, decoding, policy) and is turned into the API's error at the edge.
#pragma once

#include <string>
#include <utility>

namespace remora {

enum class Code {
  kOk = 0,
  kTimeout,    // a deadline passed
  kClosed,     // the peer closed the connection or went away
  kIo,         // a system call failed
  kMalformed,  // a message failed decoding or framing checks
  kRefused,    // the peer refused (handshake, policy)
  kTooLarge,   // over a configured cap
  kInvalid,    // bad input from a local caller (a bad endpoint string, a bad option)
};

const char* code_name(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "closed: server went away"
  std::string str() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// errno-based helper: Status(kIo, what + ": " + strerror(err)).
Status io_error(const std::string& what, int err);

}  // namespace remora
