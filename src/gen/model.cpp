// Api::signature: what guest and server compare per opcode in the handshake.
#include <cctype>
#include <string>

#include "gen/model.h"

namespace remora::gen {
namespace {

// 64-bit FNV-1a. Every field is followed by a separator byte so that ("ab","c") and ("a","bc") differ;
// integers are fed little-endian so the hash does not depend on the host.
class Fnv {
 public:
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      h_ ^= b[i];
      h_ *= 0x100000001b3ull;
    }
  }
  Fnv& str(const std::string& s) {
    bytes(s.data(), s.size());
    sep();
    return *this;
  }
  Fnv& num(uint64_t v) {
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(v >> (8 * i));
    bytes(le, 8);
    sep();
    return *this;
  }
  uint64_t value() const { return h_; }

 private:
  void sep() {
    unsigned char z = 0xff;
    bytes(&z, 1);
  }
  uint64_t h_ = 0xcbf29ce484222325ull;
};

// An expression with each of `f`'s parameter names replaced by `$<position>` and blanks normalised, so
// that renaming a parameter (which the wire never sees) leaves the signature as it was, while any other
// change to the expression changes it.
std::string positional(const Function& f, const std::string& expr) {
  std::string out;
  size_t i = 0;
  while (i < expr.size()) {
    const char c = expr[i];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < expr.size() && (std::isalnum(static_cast<unsigned char>(expr[j])) || expr[j] == '_')) ++j;
      const std::string word = expr.substr(i, j - i);
      std::string replaced = word;
      for (size_t k = 0; k < f.params.size(); ++k)
        if (f.params[k].name == word) replaced = "$" + std::to_string(k);
      out += replaced;
      i = j;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      // Blanks matter only between two words ("unsigned int").
      size_t j = i;
      while (j < expr.size() && std::isspace(static_cast<unsigned char>(expr[j]))) ++j;
      const auto word_char = [](char x) { return std::isalnum(static_cast<unsigned char>(x)) || x == '_'; };
      if (!out.empty() && j < expr.size() && word_char(out.back()) && word_char(expr[j])) out += ' ';
      i = j;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

}  // namespace

uint64_t Api::signature(const Function& f) const {
  if (f.opcode == 0) return 0;
  Fnv h;
  h.str("remora-signature-1");
  // A thread-state prefix comes before every call's arguments.
  h.num(!thread_state_guest.empty());
  const auto expr = [&](const std::string& e) -> Fnv& { return h.str(positional(f, e)); };
  h.str(f.name).str(f.return_type).num(static_cast<uint64_t>(f.returns)).str(f.return_handle_type);
  h.num(f.async);
  expr(f.blocking_if);  // decides deferred data on both sides
  h.num(f.params.size());
  for (const Param& p : f.params) {
    h.str(p.c_type).num(static_cast<uint64_t>(p.kind)).num(static_cast<uint64_t>(p.dir));
    h.str(p.handle_type).num(p.existing).str(p.elem_type);
    expr(p.count_expr);
    expr(p.bytes_expr);
    expr(p.length_ret);
    h.num(p.handles_when.size());
    for (const HandlesWhen& w : p.handles_when) {
      expr(w.selector);
      h.str(w.value).str(w.handle_type).num(w.property_keys.size());
      for (const PropertyHandleKey& k : w.property_keys) h.str(k.key).str(k.handle_type);
    }
    h.num(p.struct_handles.size());
    for (const StructHandleField& s : p.struct_handles) h.str(s.field).str(s.handle_type);
    // Appended so that parameters without them hash as before.
    if (!p.device_pointer_fields.empty() || !p.zero_fields.empty()) {
      h.str("pointer-fields").num(p.device_pointer_fields.size());
      for (const std::string& f : p.device_pointer_fields) h.str(f);
      h.num(p.zero_fields.size());
      for (const std::string& f : p.zero_fields) h.str(f);
    }
    h.num(p.property_handles.size());
    for (const PropertyHandleKey& k : p.property_handles) h.str(k.key).str(k.handle_type);
    expr(p.count_param);
    expr(p.lengths_param);
    expr(p.deferred_event);
    h.num(p.consumed);
    h.num(p.callback.has_value());
    if (p.callback) {
      h.num(p.callback->once).num(p.callback->args.size());
      for (const CallbackArg& a : p.callback->args)
        h.str(a.c_type).num(static_cast<uint64_t>(a.kind)).str(a.handle_type).str(a.bytes_size_arg);
    }
  }
  // 0 means "no such opcode" in the tables.
  return h.value() == 0 ? 1 : h.value();
}

}  // namespace remora::gen
