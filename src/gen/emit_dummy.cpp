// <api>_dummy.cpp: the recording dummy vendor library (docs/generated-code.md, "The recording dummy
// vendor library").
//
// Contract decisions (where the contract is silent):
// - Log values: integers and enums in decimal, floats with %g, structs by value as
//   `<value N bytes crc32=XXXXXXXX>`; IN buffers `<in N bytes crc32=XXXXXXXX>`, INOUT `<inout ...>`;
//   OUT buffers and OUT handle arrays `<out N>` (N in bytes / in handles), or `<out>` for a single
//   element; handle arrays `[@1,@2]`; strings/binaries `<strings N crc32=...>` / `<binaries N crc32=...>`
//   (crc over the entries in order); properties `[key,value,...,0]` with handle values as `@n`;
//   callbacks `<callback>`, user data `<user_data>`, errcode `<out>`; NULL as `NULL`.
// - A single integer OUT value (a count such as num_devices) is set to 1, matching "one object per
//   type" for query functions; other OUT buffers get the pattern byte i = (opcode + i) & 0xff.
// - A length_ret receives the capacity of its buffer in elements, or 16 when the buffer is NULL (the
//   size-query pattern), so applications size their next call by it.
// - OUT handles: REMORA_EXISTING ones get the type's single object in entry 0 (the rest NULL); others
//   get a new object each.
// - `once` callbacks are called before returning (zero scalars, "remora-dummy" strings, NULL bytes,
//   the type's object for handles); `many` callbacks never fire.
// - Length expressions are evaluated like in the guest (an overflow logs 0 bytes), so the dummy needs
//   the spec's helper functions linked in.
// - A function's answer can be modelled: when the library also defines remora_<api>_dummy_<fn> (same
//   signature; declared weak here), the dummy calls it after logging and filling the default outputs
//   and returns what it returns (CUDA's device model, apis/cuda/dummy_device.cpp).
#include <algorithm>

#include "gen/emit_common.h"
#include "gen/emitters.h"

namespace remora::gen {
namespace {

const char* kPrelude = R"(namespace {

// The ICD loader reads the first pointer of every object: it points at this zeroed table.
void* remora_dummy_dispatch() {
  static void* table[512] = {};
  return table;
}

struct DummyObject {
  void* dispatch;
  uint32_t type;
  uint64_t serial;
};

uint64_t remora_dummy_next_serial() {
  static std::atomic<uint64_t> next{0};
  return ++next;
}

// Objects are never freed: a released handle stays readable, like a leak-checked test wants.
DummyObject* remora_dummy_new(uint32_t type) {
  return new DummyObject{remora_dummy_dispatch(), type, remora_dummy_next_serial()};
}

// The one object per type that queries (REMORA_EXISTING) return.
DummyObject* remora_dummy_the(uint32_t type) {
  static std::mutex mu;
  static std::map<uint32_t, DummyObject*> objects;
  std::lock_guard<std::mutex> lock(mu);
  DummyObject*& o = objects[type];
  if (o == nullptr) o = remora_dummy_new(type);
  return o;
}

uint32_t remora_dummy_crc32(const void* data, size_t n, uint32_t crc = 0) {
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string remora_dummy_hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08x", v);
  return buf;
}

std::string remora_dummy_handle(const void* h) {
  if (h == nullptr) return "NULL";
  return "@" + std::to_string(static_cast<const DummyObject*>(h)->serial);
}

template <typename T>
std::string remora_dummy_value(const T& v) {
  if constexpr (std::is_enum_v<T>) {
    return std::to_string(static_cast<std::underlying_type_t<T>>(v));
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(+v);
  } else if constexpr (std::is_floating_point_v<T>) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%g", static_cast<double>(v));
    return buf;
  } else {
    return "<value " + std::to_string(sizeof(T)) + " bytes crc32=" + remora_dummy_hex(remora_dummy_crc32(&v, sizeof(T))) + ">";
  }
}

std::string remora_dummy_bytes(const char* what, const void* p, uint64_t n) {
  if (p == nullptr) return "NULL";
  return std::string("<") + what + " " + std::to_string(n) + " bytes crc32=" +
         remora_dummy_hex(remora_dummy_crc32(p, n)) + ">";
}

std::string remora_dummy_string(const char* s) {
  if (s == nullptr) return "NULL";
  std::string out = "\"";
  for (const char* c = s; *c; ++c) {
    if (*c == '"' || *c == '\\') {
      out += '\\';
      out += *c;
    } else if (static_cast<unsigned char>(*c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(*c));
      out += buf;
    } else {
      out += *c;
    }
  }
  return out + "\"";
}

std::string remora_dummy_out(const void* p, uint64_t n, bool single) {
  if (p == nullptr) return "NULL";
  return single ? "<out>" : "<out " + std::to_string(n) + ">";
}

// Letters, NUL-terminated: info values are often strings (platform names, the ICD suffix the
// loader reads), and a pattern that is also a valid C string keeps callers on their normal path.
void remora_dummy_fill(void* p, uint64_t n, uint32_t opcode) {
  auto* b = static_cast<uint8_t*>(p);
  for (uint64_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>('A' + (opcode + i) % 26);
  if (n > 0) b[n - 1] = 0;
}

// A single OUT value: 1 for integers (a count), the pattern otherwise.
template <typename T>
void remora_dummy_single(T* p, uint32_t opcode) {
  if constexpr (std::is_integral_v<T>) {
    *p = 1;
  } else {
    remora_dummy_fill(p, sizeof(T), opcode);
  }
}

uint64_t remora_dummy_mul(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? 0 : r;
}

// One line per call, appended with a single write(2) so concurrent calls do not interleave.
void remora_dummy_log(std::string line) {
  static const int fd = [] {
    const char* path = std::getenv("REMORA_DUMMY_LOG");
    if (path == nullptr || *path == 0) return -1;
    return ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  }();
  if (fd < 0) return;
  line += '\n';
  ssize_t rc = ::write(fd, line.data(), line.size());
  (void)rc;
}

}  // namespace
)";

class DummyWriter {
 public:
  DummyWriter(const Api& api, const Function& f, CodeWriter& w) : api_(api), f_(f), w_(w) {}

  void emit() {
    w_.open("extern \"C\" __attribute__((visibility(\"default\"))) {} {{", prototype(f_, f_.name));
    w_.line("[[maybe_unused]] constexpr uint32_t kOpcode = {};", f_.opcode);
    w_.line("std::string line = \"{}\";", f_.name);
    // A function the guest does not forward as it is (local or hand-written there) has parameters
    // the spec does not describe: its buffers are only said to be there, never read or written,
    // and only a single out handle is made up. Its model (below) answers the rest.
    const bool described = is_forwarded(f_);
    for (const Param& p : f_.params) {
      if (described) log(p);
      else log_opaque(p);
    }
    w_.line("remora_dummy_log(std::move(line));");
    for (const Param& p : f_.params) {
      if (described) output(p);
      else if (p.kind == ParamKind::kHandleArray && p.dir != Direction::kIn && p.count_expr.empty())
        w_.line("if ({0} != nullptr) *{0} = reinterpret_cast<{1}>(remora_dummy_new({2}));", p.name, p.handle_type,
                type_index(p.handle_type));
    }
    if (described)
      for (const Param& p : f_.params) fire(p);
    // A device model of the API's glue may answer instead (apis/<api>/dummy_*.cpp): after the default
    // outputs, so it need only overwrite what it models.
    const std::string model = api_symbol(api_, "dummy_" + f_.name);
    w_.open("if (&{} != nullptr) {{", model);
    w_.line("{}{}({});", f_.returns == Function::Returns::kVoid ? "" : "return ", model, arg_names(f_));
    if (f_.returns == Function::Returns::kVoid) w_.line("return;");
    w_.close();
    const HandleType* h = api_.find_handle(f_.return_handle_type);
    switch (f_.returns) {
      case Function::Returns::kStatus: w_.line("return {};", api_.errors.success); break;
      case Function::Returns::kHandle:
        w_.line("return reinterpret_cast<{}>(remora_dummy_new({}));", f_.return_type, h ? h->index : 0);
        break;
      case Function::Returns::kScalar: w_.line("return {{}};"); break;
      case Function::Returns::kPointer: w_.line("return nullptr;"); break;
      case Function::Returns::kVoid: break;
    }
    w_.close();
    w_.blank();
  }

 private:
  uint32_t type_index(const std::string& name) const {
    const HandleType* h = api_.find_handle(name);
    return h ? h->index : 0;
  }
  bool single(const Param& p) const { return p.count_expr.empty() && p.bytes_expr.empty(); }
  // Bytes of a buffer (0 for NULL); the variable <p>_bytes.
  void bytes_of(const Param& p) {
    std::string e;
    if (!p.count_expr.empty()) e = fmt::format("remora_dummy_mul(static_cast<uint64_t>({}), {})", p.count_expr, elem_size(p));
    else if (!p.bytes_expr.empty()) e = fmt::format("static_cast<uint64_t>({})", p.bytes_expr);
    else e = elem_size(p);
    w_.line("const uint64_t {0}_bytes = {0} != nullptr ? {1} : 0;", p.name, e);
  }

  void log(const Param& p) {
    const std::string& n = p.name;
    std::string v;
    switch (p.kind) {
      case ParamKind::kScalar: v = "remora_dummy_value(" + n + ")"; break;
      case ParamKind::kHandle: v = "remora_dummy_handle(" + n + ")"; break;
      case ParamKind::kString: v = "remora_dummy_string(" + n + ")"; break;
      case ParamKind::kBuffer:
        bytes_of(p);
        if (p.dir == Direction::kOut) v = fmt::format("remora_dummy_out({0}, {0}_bytes, {1})", n, single(p) ? "true" : "false");
        else v = fmt::format("remora_dummy_bytes(\"{}\", {}, {}_bytes)", p.dir == Direction::kIn ? "in" : "inout", n, n);
        break;
      case ParamKind::kHandleArray:
        w_.line("const uint64_t {0}_count = {0} != nullptr ? static_cast<uint64_t>({1}) : 0;", n,
                p.count_expr.empty() ? "1" : p.count_expr);
        if (p.dir == Direction::kIn) {
          w_.line("std::string {}_text = \"NULL\";", n);
          w_.open("if ({} != nullptr) {{", n);
          w_.line("{}_text = \"[\";", n);
          w_.line("for (uint64_t i = 0; i < {0}_count; ++i) {0}_text += (i ? \",\" : \"\") + remora_dummy_handle({0}[i]);", n);
          w_.line("{}_text += \"]\";", n);
          w_.close();
          v = n + "_text";
        } else {
          v = fmt::format("remora_dummy_out({0}, {0}_count, {1})", n, p.count_expr.empty() ? "true" : "false");
        }
        break;
      case ParamKind::kStrings:
      case ParamKind::kBinaries: {
        const char* what = p.kind == ParamKind::kStrings ? "strings" : "binaries";
        const std::string& lens = p.lengths_param;
        w_.line("std::string {}_text = \"NULL\";", n);
        w_.open("if ({} != nullptr) {{", n);
        w_.line("const uint64_t remora_count = static_cast<uint64_t>({});", p.count_param);
        w_.line("uint32_t crc = 0;");
        w_.open("for (uint64_t i = 0; i < remora_count; ++i) {{");
        if (lens.empty())
          w_.line("const size_t len = {0}[i] != nullptr ? std::strlen(reinterpret_cast<const char*>({0}[i])) : 0;", n);
        else if (p.kind == ParamKind::kStrings)
          w_.line("const size_t len = {0}[i] == nullptr ? 0 : ({1} == nullptr || {1}[i] == 0) ? std::strlen({0}[i]) : {1}[i];", n, lens);
        else
          w_.line("const size_t len = {0}[i] != nullptr && {1} != nullptr ? {1}[i] : 0;", n, lens);
        w_.line("if ({}[i] != nullptr) crc = remora_dummy_crc32({}[i], len, crc);", n, n);
        w_.close();
        w_.line("{}_text = \"<{} \" + std::to_string(remora_count) + \" crc32=\" + remora_dummy_hex(crc) + \">\";", n, what);
        w_.close();
        v = n + "_text";
        break;
      }
      case ParamKind::kProperties:
        w_.line("std::string {}_text = \"NULL\";", n);
        w_.open("if ({} != nullptr) {{", n);
        w_.line("{}_text = \"[\";", n);
        w_.line("size_t i = 0;");
        w_.open("for (; {}[i] != 0 && i < 4096; i += 2) {{", n);
        w_.line("std::string value = remora_dummy_value({}[i + 1]);", n);
        for (const PropertyHandleKey& k : p.property_handles)
          w_.line("if ({0}[i] == static_cast<{1}>({2})) value = remora_dummy_handle(reinterpret_cast<const void*>(static_cast<intptr_t>({0}[i + 1])));",
                  n, p.elem_type, k.key);
        w_.line("{0}_text += remora_dummy_value({0}[i]) + \",\" + value + \",\";", n);
        w_.close();
        w_.line("{}_text += \"0]\";", n);
        w_.close();
        v = n + "_text";
        break;
      case ParamKind::kCallback: v = fmt::format("std::string({} != nullptr ? \"<callback>\" : \"NULL\")", n); break;
      case ParamKind::kUserData: v = fmt::format("std::string({} != nullptr ? \"<user_data>\" : \"NULL\")", n); break;
      case ParamKind::kErrcode: v = fmt::format("std::string({} != nullptr ? \"<out>\" : \"NULL\")", n); break;
    }
    w_.line("line += \" {}=\" + {};", n, v);
  }

  void log_opaque(const Param& p) {
    const std::string& n = p.name;
    std::string v;
    switch (p.kind) {
      case ParamKind::kScalar: v = "remora_dummy_value(" + n + ")"; break;
      case ParamKind::kHandle: v = "remora_dummy_handle(" + n + ")"; break;
      case ParamKind::kString: v = "remora_dummy_string(" + n + ")"; break;
      default: v = fmt::format("std::string({} != nullptr ? \"<ptr>\" : \"NULL\")", n); break;
    }
    w_.line("line += \" {}=\" + {};", n, v);
  }

  void output(const Param& p) {
    const std::string& n = p.name;
    if (p.kind == ParamKind::kBuffer && p.dir == Direction::kOut && !is_length_ret(f_, p)) {
      w_.open("if ({} != nullptr) {{", n);
      if (single(p) && p.elem_type != "void") {
        w_.line("remora_dummy_single({}, kOpcode);", n);
      } else {
        w_.line("remora_dummy_fill({0}, {0}_bytes, kOpcode);", n);
      }
      // A query answered with handles (HANDLES_WHEN) gets the type's object in every slot: the
      // server turns what the vendor wrote into ids, and a pattern is no object.
      for (const HandlesWhen& h : p.handles_when) {
        if (h.handle_type.empty()) continue;
        w_.open("if ({} == {}) {{", h.selector, h.value);
        w_.line("for (uint64_t i = 0; i + sizeof(void*) <= {0}_bytes; i += sizeof(void*)) {{ void* o = remora_dummy_the({1}); std::memcpy(static_cast<char*>({0}) + i, &o, sizeof o); }}",
                n, type_index(h.handle_type));
        w_.close();
      }
      w_.close();
      if (!p.length_ret.empty()) {
        std::string unit = elem_size(p);
        w_.line("if ({0} != nullptr) *{0} = {1} != nullptr ? {1}_bytes / {2} : 16;", p.length_ret, n, unit);
      }
    } else if (p.kind == ParamKind::kHandleArray && p.dir != Direction::kIn) {
      w_.open("for (uint64_t i = 0; i < {}_count; ++i) {{", n);
      if (p.existing)
        w_.line("{0}[i] = i == 0 ? reinterpret_cast<{1}>(remora_dummy_the({2})) : nullptr;", n, p.handle_type, type_index(p.handle_type));
      else
        w_.line("{0}[i] = reinterpret_cast<{1}>(remora_dummy_new({2}));", n, p.handle_type, type_index(p.handle_type));
      w_.close();
      // Its real count: one existing object per type (so a size query answers 1), else all it asked.
      if (!p.length_ret.empty())
        w_.line("if ({0} != nullptr) *{0} = {1};", p.length_ret,
                p.existing ? "1" : fmt::format("{0} != nullptr ? static_cast<decltype(+*{1})>({0}_count) : 1", n, p.length_ret));
    } else if (p.kind == ParamKind::kErrcode) {
      w_.line("if ({0} != nullptr) *{0} = {1};", n, api_.errors.success);
    }
  }

  void fire(const Param& p) {
    if (p.kind != ParamKind::kCallback || !p.callback || !p.callback->once) return;
    std::string args;
    const Param* ud = find_param(f_, p.callback->user_data_param);
    for (const CallbackArg& a : p.callback->args) {
      if (!args.empty()) args += ", ";
      switch (a.kind) {
        case CallbackArg::Kind::kScalar: args += "{}"; break;
        case CallbackArg::Kind::kHandle:
          args += fmt::format("reinterpret_cast<{}>(remora_dummy_the({}))", a.handle_type, type_index(a.handle_type));
          break;
        case CallbackArg::Kind::kString: args += "\"remora-dummy\""; break;
        case CallbackArg::Kind::kBytes: args += "nullptr"; break;
        case CallbackArg::Kind::kUserData: args += ud ? ud->name : "nullptr"; break;
      }
    }
    w_.line("if ({0} != nullptr) {0}({1});", p.name, args);
  }

  const Api& api_;
  const Function& f_;
  CodeWriter& w_;
};

}  // namespace

std::string emit_dummy_source(const Api& api) {
  CodeWriter w;
  w.raw_line(generated_banner(api));
  w.line("// The recording dummy {} vendor library: logs every call to $REMORA_DUMMY_LOG.", api.name);
  w.line("#include <fcntl.h>");
  w.line("#include <unistd.h>");
  w.blank();
  w.line("#include <atomic>");
  w.line("#include <cstdint>");
  w.line("#include <cstdio>");
  w.line("#include <cstdlib>");
  w.line("#include <cstring>");
  w.line("#include <map>");
  w.line("#include <mutex>");
  w.line("#include <string>");
  w.line("#include <type_traits>");
  w.blank();
  for (const std::string& h : api.headers) w.line("#include <{}>", h);
  w.blank();
  if (const std::string legacy = legacy_abi_declarations(api); !legacy.empty()) {
    w.raw_line(legacy);
    w.blank();
  }
  w.raw_line(std::string(kPrelude));
  // The models a glue file may define (weak: most functions have none).
  // Every function the server may call: the forwarded ones and those the server's hooks call for a
  // guest-local or hand-written function (its vendor table).
  w.open("extern \"C\" {{");
  for (const Function& f : api.functions)
    if (in_vendor_table(f))
      w.line("__attribute__((weak)) {};", prototype(f, api_symbol(api, "dummy_" + f.name)));
  w.close("}  // extern \"C\"");
  w.blank();
  for (const Function& f : api.functions)
    if (in_vendor_table(f)) DummyWriter(api, f, w).emit();
  return w.str();
}

}  // namespace remora::gen
