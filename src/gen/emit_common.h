// Helpers shared by the back ends: C spelling of types and declarations, the banner, names derived
// from the API name, and a small code writer that keeps indentation.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "gen/model.h"

namespace remora::gen {

// Accumulates generated text line by line. open()/close() indent by two spaces per level.
class CodeWriter {
 public:
  template <typename... Args>
  void line(fmt::format_string<Args...> f, Args&&... args) {
    raw_line(fmt::format(f, std::forward<Args>(args)...));
  }
  void raw_line(std::string_view s);
  void blank() { text_ += '\n'; }
  // A line ending in `{` (or any opener); the following lines are indented one level more.
  template <typename... Args>
  void open(fmt::format_string<Args...> f, Args&&... args) {
    raw_line(fmt::format(f, std::forward<Args>(args)...));
    ++depth_;
  }
  // Dedents, then writes the closer (default "}").
  void close(std::string_view closer = "}") {
    if (depth_ > 0) --depth_;
    raw_line(closer);
  }
  // "} else {": dedents for the closer and indents again after it.
  void middle(std::string_view s) {
    close(s);
    ++depth_;
  }
  const std::string& str() const { return text_; }

 private:
  std::string text_;
  int depth_ = 0;
};

// "void *" + "p" -> "void *p"; function pointer types get the name inside: "void (*p)(int)".
std::string declare(const std::string& c_type, const std::string& name);
// "const T" -> "T" (top level only; pointers keep their pointee's qualifiers).
std::string strip_top_const(const std::string& c_type);
// The full C prototype of `f` under another name: "cl_int name(cl_uint a, void *b)".
std::string prototype(const Function& f, const std::string& name);
// A REMORA_SERVER hook's prototype: the call, then the API function's parameters.
std::string hook_prototype(const Function& f, const std::string& name);
// "a, b, c": the parameter names, for forwarding calls.
std::string arg_names(const Function& f);

std::string upper(std::string s);
// "<api>" in a symbol: remora_opencl_runtime etc.
inline std::string api_symbol(const Api& api, std::string_view what) {
  return fmt::format("remora_{}_{}", api.name, what);
}
// The guest function that implements `f` as an application entry point: the generated stub, the
// guest hook, or the refusal of an unsupported function.
inline std::string guest_entry(const Function& f) {
  switch (f.impl) {
    case Implementation::kGuestHook:
    case Implementation::kLocal: return f.hook;
    case Implementation::kUnsupported: return "remora_unsupported_" + f.name;
    case Implementation::kGenerated:
    case Implementation::kServerHook: break;
  }
  return "remora_remote_" + f.name;
}
inline std::string op_const(const Function& f) { return "kOp_" + f.name; }
inline std::string type_const(const std::string& handle_type) { return "kType_" + handle_type; }

uint32_t max_opcode(const Api& api);
// Declarations of the older ABIs only the spec declares (Function::legacy_abi), for every generated
// file that includes the vendor headers: the header may name them as macros of the current ABI.
std::string legacy_abi_declarations(const Api& api);
// Functions with an opcode whose call reaches the server (generated, or with a hook on one side).
bool is_forwarded(const Function& f);
// Loaded from the vendor library into the server's Vendor table: every vendor function the spec
// declares except unsupported ones (LOCAL ones too: hand-written server code may need them, e.g.
// clGetExtensionFunctionAddressForPlatform). remora's own auxiliary calls have no vendor symbol.
bool in_vendor_table(const Function& f);
// Batched when the runtime allows (REMORA_ASYNC). BLOCKING_IF only tells the server a call may block.
inline bool async_capable(const Function& f) { return f.async; }
const Param* find_param(const Function& f, const std::string& name);
// The parameter carrying the deferred data of `f` (REMORA_DEFERRED), or null.
const Param* deferred_param(const Function& f);
// The element size expression of a buffer: "1" for void, else "sizeof(T)".
std::string elem_size(const Param& p);
// An OUT handle array whose ids the guest chooses: the single event of an async-capable function, or
// of one with deferred data (the server then always has the command's event at hand).
inline bool guest_chosen(const Function& f, const Param& p) {
  return (async_capable(f) || deferred_param(f) != nullptr) && p.kind == ParamKind::kHandleArray &&
         p.dir != Direction::kIn;
}
// Is `p` some other parameter's length_ret?
bool is_length_ret(const Function& f, const Param& p);
// C string literal of `s`.
std::string quote(std::string_view s);

}  // namespace remora::gen
