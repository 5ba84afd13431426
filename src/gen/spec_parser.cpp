// remora-gen's front end: the translation unit, file-scope declarations (REMORA_API, REMORA_HANDLE, ...),
// the vendor headers, and function-level annotations. Parameters are in spec_params.cpp.
#include "gen/spec_parser.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <memory>

#include "gen/spec_clang.h"
#include "gen/spec_reader.h"

#ifndef REMORA_CLANG_RESOURCE_DIR
#define REMORA_CLANG_RESOURCE_DIR ""
#endif

namespace remora::gen {
namespace detail {

using namespace clangx;

// ---- Small string helpers -----------------------------------------------------------------------

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n')) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> split_list(std::string_view s, char sep) {
  std::vector<std::string> out;
  if (trim(s).empty()) return out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(trim(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start)));
    if (p == std::string_view::npos) return out;
    start = p + 1;
  }
}

bool is_identifier(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// ---- Annotations --------------------------------------------------------------------------------

Annotations Annotations::of(CXCursor c) {
  Annotations a;
  visit_children(c, [&](CXCursor child) {
    if (clang_getCursorKind(child) == CXCursor_AnnotateAttr) {
      std::string s = spelling(child);
      if (s.rfind("remora:", 0) == 0) {
        s.erase(0, 7);
        size_t eq = s.find('=');
        Item item;
        item.key = s.substr(0, eq);
        if (eq != std::string::npos) item.value = s.substr(eq + 1);
        a.items_.push_back(std::move(item));
      }
    }
    return CXChildVisit_Continue;
  });
  return a;
}

bool Annotations::flag(std::string_view key) {
  bool found = false;
  for (auto& i : items_)
    if (i.key == key) found = i.used = true;
  return found;
}

std::optional<std::string> Annotations::value(std::string_view key) {
  std::optional<std::string> v;
  for (auto& i : items_)
    if (i.key == key) {
      if (!v) v = i.value;
      i.used = true;
    }
  return v;
}

std::vector<std::string> Annotations::values(std::string_view key) {
  std::vector<std::string> v;
  for (auto& i : items_)
    if (i.key == key) {
      v.push_back(i.value);
      i.used = true;
    }
  return v;
}

namespace {
constexpr std::string_view kFunctionKeys[] = {"opcode", "async",  "blocking", "blocking_if", "cache",
                                              "cache_unless", "guest", "server", "local", "unsupported",
                                              "retains", "releases", "resource", "requires", "check",
                                              "record", "answer_if", "requires_error"};
constexpr std::string_view kParamKeys[] = {"in", "out", "inout", "count", "bytes", "length_ret",
                                           "nonnull", "errcode", "existing", "strings", "binaries",
                                           "handles_when", "properties_when", "struct_handles", "properties", "callback",
                                           "user_data", "deferred", "send", "device_pointers", "zero_fields"};
constexpr std::string_view kFileScopeKeys[] = {"api", "errors", "handle", "invalid", "thread_state",
                                               "refuse_unlisted", "on_retire", "accepts", "proc_typedefs",
                                               "proc_typedefs_hidden"};
// Keys that may be given more than once on one declaration.
constexpr std::string_view kRepeatableKeys[] = {"handles_when", "properties_when", "check", "requires"};

template <size_t N>
bool contains(const std::string_view (&keys)[N], std::string_view k) {
  return std::find(std::begin(keys), std::end(keys), k) != std::end(keys);
}
}  // namespace

bool is_function_key(std::string_view key) { return contains(kFunctionKeys, key); }
bool is_param_key(std::string_view key) { return contains(kParamKeys, key); }
bool is_file_scope_key(std::string_view key) { return contains(kFileScopeKeys, key); }

void SpecReader::report_leftovers(Annotations& anns, const SourceLoc& loc, const std::string& what,
                                  bool function_level) {
  std::set<std::string> seen;
  for (auto& i : anns.items()) {
    bool known = is_function_key(i.key) || is_param_key(i.key) || is_file_scope_key(i.key);
    if (!known) {
      error(loc, "unknown annotation 'remora:" + i.key + "' on " + what);
    } else if (!i.used) {
      std::string where = function_level && is_param_key(i.key)   ? " (it is a parameter annotation)"
                          : !function_level && is_function_key(i.key) ? " (it is a function annotation)"
                                                                       : "";
      error(loc, "annotation 'remora:" + i.key + "' does not apply to " + what + where);
    } else if (!seen.insert(i.key).second && !contains(kRepeatableKeys, i.key)) {
      error(loc, "annotation 'remora:" + i.key + "' is given more than once on " + what);
    }
  }
}

// ---- The reader ---------------------------------------------------------------------------------

void SpecReader::error(const SourceLoc& loc, std::string message) {
  diags_.push_back(Diagnostic{loc, std::move(message)});
}

bool SpecReader::in_main_file(CXCursor c) const {
  CXFile f = file_of(c);
  return f && clang_File_isEqual(f, main_file_);
}

const HandleType* SpecReader::handle_of(CXType t) const {
  t = peel(t);
  while (t.kind == CXType_Typedef) {
    if (const HandleType* h = api_.find_handle(take(clang_getTypedefName(t)))) return h;
    t = peel(clang_getTypedefDeclUnderlyingType(clang_getTypeDeclaration(t)));
  }
  return nullptr;
}

void SpecReader::check_expr(const std::string& expr, const Function& f, const std::string& what,
                            const SourceLoc& loc) {
  static constexpr std::string_view kKeywords[] = {
      "sizeof", "_Alignof", "const", "unsigned", "signed", "int", "char", "short", "long", "float",
      "double", "void", "struct", "union", "enum", "volatile", "_Bool"};
  size_t i = 0;
  while (i < expr.size()) {
    char c = expr[i];
    if (c == '"' || c == '\'') {  // skip literals
      size_t j = i + 1;
      while (j < expr.size() && expr[j] != c) j += expr[j] == '\\' ? 2 : 1;
      i = j + 1;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {  // numbers, including suffixes like 0x10u
      while (i < expr.size() && (std::isalnum(static_cast<unsigned char>(expr[i])) || expr[i] == '.')) ++i;
      continue;
    }
    if (!(std::isalpha(static_cast<unsigned char>(c)) || c == '_')) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < expr.size() && (std::isalnum(static_cast<unsigned char>(expr[j])) || expr[j] == '_')) ++j;
    std::string id = expr.substr(i, j - i);
    // Member names (after . or ->) and called names are not checked.
    size_t before = expr.find_last_not_of(' ', i == 0 ? std::string::npos : i - 1);
    bool member = i > 0 && before != std::string::npos &&
                  (expr[before] == '.' || (expr[before] == '>' && before > 0 && expr[before - 1] == '-'));
    size_t after = expr.find_first_not_of(' ', j);
    bool called = after != std::string::npos && expr[after] == '(';
    bool is_param = std::any_of(f.params.begin(), f.params.end(), [&](const Param& p) { return p.name == id; });
    if (!member && !called && !is_param && !contains(kKeywords, id) && !known_names_.count(id)) {
      error(loc, what + " of '" + f.name + "' names '" + id + "', which is not a parameter of '" + f.name + "'");
    }
    i = j;
  }
}

void SpecReader::collect(CXCursor tu_cursor) {
  visit_children(tu_cursor, [&](CXCursor c) {
    CXCursorKind kind = clang_getCursorKind(c);
    std::string name = spelling(c);
    switch (kind) {
      case CXCursor_InclusionDirective:
        if (in_main_file(c)) {
          Include inc;
          inc.spelling = name;
          inc.file = clang_getIncludedFile(c);
          // The directive's tokens tell <> from "".
          CXToken* tokens = nullptr;
          unsigned n = 0;
          clang_tokenize(tu_, clang_getCursorExtent(c), &tokens, &n);
          for (unsigned t = 0; t < n; ++t)
            if (take(clang_getTokenSpelling(tu_, tokens[t])).rfind("<", 0) == 0) inc.angled = true;
          clang_disposeTokens(tu_, tokens, n);
          includes_.push_back(std::move(inc));
        }
        break;
      case CXCursor_TypedefDecl:
        known_names_.insert(name);
        typedefs_.push_back(c);
        break;
      case CXCursor_MacroDefinition:
      case CXCursor_StructDecl:
      case CXCursor_UnionDecl:
        known_names_.insert(name);
        break;
      case CXCursor_EnumDecl:
        known_names_.insert(name);
        visit_children(c, [&](CXCursor e) {
          known_names_.insert(spelling(e));
          return CXChildVisit_Continue;
        });
        break;
      case CXCursor_VarDecl:
        known_names_.insert(name);
        if (in_main_file(c)) {
          Annotations a = Annotations::of(c);
          if (a.flag("handle")) {
            handle_vars_.push_back(c);
          } else if (a.value("api")) {
            api_vars_.push_back(c);
          } else if (a.value("thread_state")) {
            thread_state_vars_.push_back(c);
          } else if (a.value("refuse_unlisted")) {
            refusal_vars_.push_back(c);
          } else if (a.value("accepts")) {
            accepts_vars_.push_back(c);
          } else if (auto p = a.value("proc_typedefs")) {
            api_.proc_typedef_prefix = *p;
          } else if (auto h = a.value("proc_typedefs_hidden")) {
            const size_t comma = h->find(',');
            proc_hidden_header_ = trim(h->substr(0, comma));
            proc_hidden_define_ = comma == std::string::npos ? "" : trim(h->substr(comma + 1));
          }
        }
        break;
      case CXCursor_FunctionDecl:
        known_names_.insert(name);
        (in_main_file(c) ? spec_functions_ : other_functions_).push_back(c);
        break;
      default:
        break;
    }
    return CXChildVisit_Continue;
  });
}

void SpecReader::read_api(CXCursor var) {
  SourceLoc loc = location(var);
  Annotations a = Annotations::of(var);
  api_.name = a.value("api").value_or("");
  std::string errors = a.value("errors").value_or("");
  if (!is_identifier(api_.name)) error(loc, "REMORA_API name '" + api_.name + "' is not an identifier");
  std::map<std::string, std::string*> keys = {
      {"type", &api_.errors.type},           {"success", &api_.errors.success},
      {"transport", &api_.errors.transport}, {"unsupported", &api_.errors.unsupported},
      {"invalid", &api_.errors.invalid},     {"no_memory", &api_.errors.no_memory},
      {"quota", &api_.errors.quota},         {"deinitialized", &api_.errors.deinitialized}};
  for (const std::string& item : split_list(errors)) {
    size_t eq = item.find('=');
    std::string key = trim(item.substr(0, eq));
    auto it = keys.find(key);
    if (eq == std::string::npos || it == keys.end()) {
      error(loc, "REMORA_API errors: unknown entry '" + item +
                     "' (expected key=value with key one of type, success, transport, unsupported, "
                     "invalid, no_memory, quota, deinitialized)");
      continue;
    }
    *it->second = trim(item.substr(eq + 1));
  }
  // Optional: what a call answers once the guest library shut down at exit; the transport error if
  // the API has no word for it.
  if (api_.errors.deinitialized.empty()) api_.errors.deinitialized = api_.errors.transport;
  std::string missing;
  for (const auto& [key, field] : keys)
    if (field->empty()) missing += (missing.empty() ? "" : ", ") + key;
  if (!missing.empty()) error(loc, "REMORA_API errors list lacks: " + missing);
  report_leftovers(a, loc, "REMORA_API", false);
}

void SpecReader::read_thread_state(CXCursor var) {
  SourceLoc loc = location(var);
  Annotations a = Annotations::of(var);
  const std::string value = a.value("thread_state").value_or("");
  const size_t comma = value.find(',');
  if (comma != std::string::npos) {
    api_.thread_state_guest = trim(value.substr(0, comma));
    api_.thread_state_server = trim(value.substr(comma + 1));
  }
  if (!is_identifier(api_.thread_state_guest) || !is_identifier(api_.thread_state_server))
    error(loc, "REMORA_THREAD_STATE(" + value + ") does not name a guest and a server function");
  report_leftovers(a, loc, "REMORA_THREAD_STATE", false);
}

void SpecReader::read_refusal(CXCursor var) {
  Refusal r;
  r.loc = location(var);
  Annotations a = Annotations::of(var);
  r.value = trim(a.value("refuse_unlisted").value_or(""));
  // The macro declares a variable of the type, so that clang checks the value against it.
  CXType t = peel(clang_getCursorType(var));
  r.type = t.kind == CXType_Typedef ? take(clang_getTypedefName(t)) : unqualified_spelling(t);
  if (t.kind != CXType_Typedef) error(r.loc, "REMORA_REFUSE_UNLISTED type '" + r.type + "' is not a typedef name");
  if (r.value.empty()) error(r.loc, "REMORA_REFUSE_UNLISTED(" + r.type + ", ...) has no value");
  for (const Refusal& other : api_.refusals)
    if (other.type == r.type)
      error(r.loc, "REMORA_REFUSE_UNLISTED(" + r.type + ", ...) is given twice (first at " + other.loc.str() +
                       "): functions returning '" + r.type + "' can answer one value");
  report_leftovers(a, r.loc, "REMORA_REFUSE_UNLISTED(" + r.type + ")", false);
  api_.refusals.push_back(std::move(r));
}

void SpecReader::read_handle(CXCursor var) {
  SourceLoc loc = location(var);
  Annotations a = Annotations::of(var);
  a.flag("handle");
  HandleType h;
  h.loc = loc;
  h.invalid_error = a.value("invalid").value_or("");
  h.on_retire = trim(a.value("on_retire").value_or(""));
  if (!h.on_retire.empty() && !is_identifier(h.on_retire))
    error(loc, "REMORA_HANDLE_WITH_RECORD's '" + h.on_retire + "' is not a function name");
  CXType t = peel(clang_getCursorType(var));
  h.name = t.kind == CXType_Typedef ? take(clang_getTypedefName(t)) : spelling(t);
  if (t.kind != CXType_Typedef || resolve(t).kind != CXType_Pointer) {
    error(loc, "REMORA_HANDLE type '" + h.name + "' is not a typedef of a pointer");
  } else if (api_.find_handle(h.name)) {
    error(loc, "handle type '" + h.name + "' is declared twice");
  }
  if (h.invalid_error.empty()) error(loc, "REMORA_HANDLE(" + h.name + ", ...) has no invalid-handle error");
  h.index = static_cast<uint32_t>(api_.handle_types.size() + 1);
  report_leftovers(a, loc, "REMORA_HANDLE(" + h.name + ")", false);
  api_.handle_types.push_back(std::move(h));
}

namespace {
bool parse_u32(const std::string& s, uint32_t* v) {
  std::string t = trim(s);
  int base = 10;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    t.erase(0, 2);
    base = 16;
  }
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), *v, base);
  return ec == std::errc() && p == t.data() + t.size() && !t.empty();
}
}  // namespace

void SpecReader::read_function(CXCursor fc) {
  Function f;
  f.name = spelling(fc);
  f.loc = location(fc);
  Annotations a = Annotations::of(fc);
  const std::string what = "'" + f.name + "'";

  if (clang_isCursorDefinition(fc)) error(f.loc, "spec function " + what + " has a body: a spec only declares");

  // The header's declaration comes first, so the canonical cursor is in the vendor header unless the
  // header does not declare the function at all.
  CXCursor first = clang_getCanonicalCursor(fc);
  if (in_main_file(first) && proc_typedef_names(abi_base(f.name))) {
    // An older ABI of a vendor function (REMORA_PROC_TYPEDEFS): the vendor exports it although its
    // header declares it no more; forwarded like the header's own.
    f.legacy_abi = true;
  } else if (in_main_file(first)) {
    // remora's own calls: declared only here, served by a hand-written server hook (checked below).
    f.auxiliary = true;
    f.extension = true;
  } else {
    f.extension = !(core_header_ && clang_File_isEqual(file_of(first), core_header_));
  }

  // Implementation and escape hatches.
  // GUEST and SERVER may go together (both sides hand-written around generated marshalling); LOCAL
  // and UNSUPPORTED exclude everything else.
  int exclusive = 0, sides = 0;
  if (auto v = a.value("server")) f.impl = Implementation::kServerHook, f.server_hook = *v, ++sides;
  if (auto v = a.value("guest")) f.impl = Implementation::kGuestHook, f.hook = *v, ++sides;
  if (auto v = a.value("local")) f.impl = Implementation::kLocal, f.hook = *v, ++exclusive;
  if (auto v = a.value("unsupported")) f.impl = Implementation::kUnsupported, f.unsupported_reason = *v, ++exclusive;
  if (exclusive > 1 || (exclusive == 1 && sides > 0))
    error(f.loc, what + " has more than one of REMORA_GUEST, REMORA_SERVER, REMORA_LOCAL, REMORA_UNSUPPORTED");
  if (!f.hook.empty() && !is_identifier(f.hook))
    error(f.loc, "hook '" + f.hook + "' of " + what + " is not a function name");
  if (!f.server_hook.empty() && !is_identifier(f.server_hook))
    error(f.loc, "hook '" + f.server_hook + "' of " + what + " is not a function name");
  if (f.auxiliary && f.server_hook.empty())
    error(f.loc, "function " + what +
                     " is not declared by the vendor headers the spec includes; a remora call of its own needs "
                     "REMORA_SERVER(hook)");
  const bool forwarded = f.impl != Implementation::kLocal && f.impl != Implementation::kUnsupported;

  if (auto v = a.value("opcode")) {
    if (!parse_u32(*v, &f.opcode) || f.opcode == 0)
      error(f.loc, "REMORA_OPCODE(" + *v + ") of " + what + " is not a number in 1..2^32-1");
    if (f.impl == Implementation::kLocal) error(f.loc, "REMORA_LOCAL function " + what + " must not have an opcode");
  } else if (forwarded) {
    error(f.loc, "function " + what + " is forwarded but has no REMORA_OPCODE(n)");
  }

  f.async = a.flag("async");
  f.blocking = a.flag("blocking");
  f.blocking_if = a.value("blocking_if").value_or("");
  f.cache = a.flag("cache");
  f.cache_unless = a.value("cache_unless").value_or("");
  if (!f.cache_unless.empty()) f.cache = true;
  if (f.blocking && !f.blocking_if.empty())
    error(f.loc, what + " has both REMORA_BLOCKING and REMORA_BLOCKING_IF");
  if (f.async && f.sync_point())
    error(f.loc, what + " is REMORA_ASYNC and blocking: an asynchronous call cannot be a sync point");
  if (f.async && f.cache) error(f.loc, what + " is REMORA_ASYNC and REMORA_CACHE: nothing comes back to cache");
  f.retains = a.value("retains").value_or("");
  f.releases = a.value("releases").value_or("");
  if (auto v = a.value("resource")) {
    size_t colon = v->find(':');
    Resource r{trim(v->substr(0, colon)), colon == std::string::npos ? "" : trim(v->substr(colon + 1))};
    if (r.kind != "device_memory") error(f.loc, "REMORA_RESOURCE kind '" + r.kind + "' of " + what + " is not one of: device_memory");
    if (r.bytes_expr.empty()) error(f.loc, "REMORA_RESOURCE of " + what + " has no byte count");
    f.resource = r;
  }
  for (const std::string& v : a.values("requires")) {
    for (const std::string& name : split_list(v)) {
      if (!is_identifier(trim(name))) error(f.loc, "REMORA_REQUIRES(" + v + ") of " + what + ": '" + name + "' is not a function name");
      f.requires_vendor.push_back(trim(name));
    }
    if (f.server_hook.empty())
      error(f.loc, "REMORA_REQUIRES on " + what + ", which has no REMORA_SERVER hook: the generated call needs only its own function");
  }
  f.requires_error = trim(a.value("requires_error").value_or(""));
  for (const std::string& v : a.values("check")) {
    const size_t semi = v.find(';');
    Check c{semi == std::string::npos ? "" : trim(v.substr(semi + 1)), trim(v.substr(0, semi))};
    if (c.cond.empty() || c.error.empty()) error(f.loc, "REMORA_CHECK of " + what + " needs an error and a condition");
    f.checks.push_back(std::move(c));
  }
  f.record = trim(a.value("record").value_or(""));
  if (auto v = a.value("answer_if")) {
    const size_t semi = v->find(';');
    f.answer_value = trim(v->substr(0, semi));
    f.answer_if = semi == std::string::npos ? "" : trim(v->substr(semi + 1));
    if (f.answer_if.empty() || f.answer_value.empty())
      error(f.loc, "REMORA_ANSWER_IF of " + what + " needs a value and a condition");
  }
  report_leftovers(a, f.loc, "function " + what, true);

  // Return value.
  CXType rt = clang_getResultType(clang_getCursorType(fc));
  f.return_type = spelling(rt);
  CXType pointee;
  if (is_void(rt)) {
    f.returns = Function::Returns::kVoid;
  } else if (const HandleType* h = handle_of(rt)) {
    f.returns = Function::Returns::kHandle;
    f.return_handle_type = h->name;
  } else if (unqualified_spelling(rt) == api_.errors.type) {
    f.returns = Function::Returns::kStatus;
  } else if (pointee_of(rt, &pointee)) {
    f.returns = Function::Returns::kPointer;
  } else if (is_arithmetic(rt)) {
    f.returns = Function::Returns::kScalar;
  } else if (forwarded) {
    error(f.loc, "return type '" + f.return_type + "' of " + what + " cannot be forwarded");
  }

  // The generated refusal answers the API's status type with its `unsupported` error, a handle or
  // pointer with NULL; any other value (another library's status enum, a count) could only be 0,
  // which the caller cannot tell from a real answer (0 is success for cudaError_t and friends).
  if (f.impl == Implementation::kUnsupported && f.returns == Function::Returns::kScalar)
    error(f.loc, "REMORA_UNSUPPORTED on function " + what + ", which returns '" + f.return_type +
                     "', not the API's status type: the generated refusal could only answer 0; refuse it "
                     "in the function's own terms with a REMORA_LOCAL hook");
  read_params(fc, &f, forwarded);

  // Lifetime annotations name a handle parameter.
  for (auto [name, key] : {std::pair{f.retains, "REMORA_RETAINS"}, std::pair{f.releases, "REMORA_RELEASES"}}) {
    if (name.empty()) continue;
    auto p = std::find_if(f.params.begin(), f.params.end(), [&](const Param& q) { return q.name == name; });
    if (p == f.params.end()) {
      error(f.loc, std::string(key) + "(" + name + ") of " + what + " names no parameter of " + what);
    } else if (p->kind != ParamKind::kHandle) {
      error(f.loc, std::string(key) + "(" + name + ") of " + what + " names parameter '" + name +
                       "', which is not a handle");
    }
  }
  if (!f.blocking_if.empty()) check_expr(f.blocking_if, f, "REMORA_BLOCKING_IF(" + f.blocking_if + ")", f.loc);
  for (const Check& c : f.checks) check_expr(c.cond, f, "REMORA_CHECK(" + c.error + ", " + c.cond + ")", f.loc);
  if (!f.record.empty()) {
    check_expr(f.record, f, "REMORA_RECORD(" + f.record + ")", f.loc);
    if (f.returns != Function::Returns::kHandle)
      error(f.loc, "REMORA_RECORD on " + what + ", which does not return a new handle");
    else if (const HandleType* h = api_.find_handle(f.return_handle_type); h != nullptr && h->on_retire.empty())
      error(f.loc, "REMORA_RECORD on " + what + ": its handle type " + h->name +
                       " needs REMORA_HANDLE_WITH_RECORD, so that the record is dropped with the object");
  }
  if (!f.answer_if.empty()) {
    check_expr(f.answer_if, f, "REMORA_ANSWER_IF(" + f.answer_value + ", " + f.answer_if + ")", f.loc);
    if (f.returns != Function::Returns::kStatus)
      error(f.loc, "REMORA_ANSWER_IF on " + what + ", which does not return the API's status");
  }
  if ((!f.record.empty() || !f.answer_if.empty()) && (f.impl == Implementation::kLocal || f.impl == Implementation::kUnsupported))
    error(f.loc, what + " has guest annotations (REMORA_RECORD, REMORA_ANSWER_IF) but no generated guest stub");
  if (!f.cache_unless.empty()) check_expr(f.cache_unless, f, "REMORA_CACHE_UNLESS(" + f.cache_unless + ")", f.loc);
  if (f.resource) check_expr(f.resource->bytes_expr, f, "REMORA_RESOURCE(" + f.resource->bytes_expr + ")", f.loc);
  if (f.async) check_async(f);

  api_.functions.push_back(std::move(f));
}

// "cuMemAlloc_v2" -> "cuMemAlloc" (and its ABI rank 1); a name without a version suffix is rank 0.
std::string SpecReader::abi_base(const std::string& name, unsigned* rank) {
  if (rank != nullptr) *rank = 0;
  const size_t v = name.rfind("_v");
  if (v == std::string::npos || v + 2 >= name.size()) return name;
  for (size_t i = v + 2; i < name.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return name;
  if (rank != nullptr) *rank = static_cast<unsigned>(std::stoul(name.substr(v + 2))) - 1;
  return name.substr(0, v);
}

namespace {
// "PFN_cuMemAlloc_v3020" with prefix "PFN_" -> base cuMemAlloc, version 3020; per-thread forms and
// other names -> false.
bool parse_proc_typedef(const std::string& name, const std::string& prefix, std::string* base, uint32_t* version) {
  if (prefix.empty() || name.rfind(prefix, 0) != 0) return false;
  if (name.ends_with("_ptsz") || name.ends_with("_ptds")) return false;
  const size_t v = name.rfind("_v");
  if (v == std::string::npos || v <= prefix.size() || v + 2 >= name.size()) return false;
  for (size_t i = v + 2; i < name.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return false;
  *base = name.substr(prefix.size(), v - prefix.size());
  *version = static_cast<uint32_t>(std::stoul(name.substr(v + 2)));
  return true;
}
}  // namespace

bool SpecReader::proc_typedef_names(const std::string& base) { return proc_abis_.count(base) != 0; }

// The typedefs of REMORA_PROC_TYPEDEFS: those the spec sees, and those of REMORA_PROC_TYPEDEFS_HIDDEN's
// header under its define (CUDA's cudaTypedefs.h declares the oldest ABIs only for the driver's own
// build): parsed once more, on their own, with the spec's include paths.
void SpecReader::collect_proc_abis() {
  if (api_.proc_typedef_prefix.empty()) return;
  auto add = [&](CXCursor t, bool hidden) {
    std::string base;
    uint32_t version = 0;
    if (!parse_proc_typedef(spelling(t), api_.proc_typedef_prefix, &base, &version)) return;
    const CXType pointee = clang_getPointeeType(clang_getCanonicalType(clang_getTypedefDeclUnderlyingType(t)));
    if (clang_getNumArgTypes(pointee) < 0) return;  // not a function pointer
    ProcAbi abi;
    abi.version = version;
    abi.signature = spelling(clang_getCanonicalType(pointee));
    abi.return_type = spelling(clang_getResultType(
        clang_getPointeeType(clang_getTypedefDeclUnderlyingType(t))));
    abi.hidden = hidden;
    proc_abis_[base].push_back(std::move(abi));
  };
  for (CXCursor t : typedefs_) add(t, false);

  if (!proc_hidden_header_.empty()) {
    const std::string source = (proc_hidden_define_.empty() ? "" : "#define " + proc_hidden_define_ + "\n") +
                               "#include <" + proc_hidden_header_ + ">\n";
    const char* name = "remora-proc-typedefs.c";
    CXUnsavedFile file{name, source.c_str(), static_cast<unsigned long>(source.size())};
    std::vector<const char*> argv;
    for (const auto& a : clang_args_) argv.push_back(a.c_str());
    std::unique_ptr<void, void (*)(CXIndex)> index(clang_createIndex(0, 0), clang_disposeIndex);
    CXTranslationUnit tu = nullptr;
    const SourceLoc loc{api_.spec_path, 0, 0};
    if (clang_parseTranslationUnit2(index.get(), name, argv.data(), static_cast<int>(argv.size()), &file, 1,
                                    CXTranslationUnit_SkipFunctionBodies, &tu) != CXError_Success ||
        tu == nullptr) {
      error(loc, "REMORA_PROC_TYPEDEFS_HIDDEN: libclang could not parse <" + proc_hidden_header_ + ">");
    } else {
      std::unique_ptr<CXTranslationUnitImpl, void (*)(CXTranslationUnit)> owner(tu, clang_disposeTranslationUnit);
      for (unsigned i = 0, n = clang_getNumDiagnostics(tu); i < n; ++i) {
        CXDiagnostic d = clang_getDiagnostic(tu, i);
        if (clang_getDiagnosticSeverity(d) >= CXDiagnostic_Error)
          error(loc, "REMORA_PROC_TYPEDEFS_HIDDEN: <" + proc_hidden_header_ + "> with " + proc_hidden_define_ +
                         ": " + take(clang_getDiagnosticSpelling(d)));
        clang_disposeDiagnostic(d);
      }
      std::set<std::string> seen;
      for (CXCursor t : typedefs_) seen.insert(spelling(t));
      visit_children(clang_getTranslationUnitCursor(tu), [&](CXCursor c) {
        if (clang_getCursorKind(c) == CXCursor_TypedefDecl && !seen.count(spelling(c))) add(c, true);
        return CXChildVisit_Continue;
      });
    }
  }
  for (auto& [base, abis] : proc_abis_) {
    std::sort(abis.begin(), abis.end(), [](const ProcAbi& a, const ProcAbi& b) { return a.version < b.version; });
    abis.erase(std::unique(abis.begin(), abis.end(),
                           [](const ProcAbi& a, const ProcAbi& b) { return a.version == b.version; }),
               abis.end());
  }
}

namespace {
std::string abi_symbol(const std::string& base, size_t rank) {
  return rank == 0 ? base : base + "_v" + std::to_string(rank + 1);
}
}  // namespace

// REMORA_PROC_TYPEDEFS: each function's ABI version is that of its rank among its base name's ABIs
// (cuMemAlloc_v2: the second), and the typedef of that version must have its very signature. The
// ABIs no function of the spec implements are the guest's refusals (Api::refused_abis).
void SpecReader::read_abi_versions() {
  if (api_.proc_typedef_prefix.empty()) return;
  std::map<std::string, CXCursor> cursors;
  for (CXCursor c : spec_functions_) cursors[spelling(c)] = c;
  std::set<std::string> implemented;
  for (Function& f : api_.functions) {
    if (f.auxiliary) continue;
    unsigned rank = 0;
    const std::string base = abi_base(f.name, &rank);
    auto it = proc_abis_.find(base);
    auto c = cursors.find(f.name);
    if (it == proc_abis_.end() || c == cursors.end()) continue;
    if (rank >= it->second.size()) {
      error(f.loc, "'" + f.name + "' is ABI " + std::to_string(rank + 1) + " of " + base + ", which has " +
                       std::to_string(it->second.size()) + " " + api_.proc_typedef_prefix + base + "_v* typedefs");
      continue;
    }
    const ProcAbi& abi = it->second[rank];
    const std::string mine = spelling(clang_getCanonicalType(clang_getCursorType(c->second)));
    if (mine != abi.signature) {
      error(f.loc, "'" + f.name + "' is ABI " + std::to_string(rank + 1) + " of " + base + ", " +
                       api_.proc_typedef_prefix + base + "_v" + std::to_string(abi.version) + ", whose signature is '" +
                       abi.signature + "', not '" + mine + "'");
      continue;
    }
    f.abi_version = abi.version;
    implemented.insert(f.name);
  }
  // What the headers declare the spec leaves out is refused under its header name (api_.undeclared);
  // the older ABIs no header declares are refused here, by name only.
  std::set<std::string> declared;
  for (CXCursor c : other_functions_) declared.insert(spelling(c));
  for (const auto& [base, abis] : proc_abis_) {
    for (size_t rank = 0; rank < abis.size(); ++rank) {
      const std::string symbol = abi_symbol(base, rank);
      if (implemented.count(symbol)) continue;
      RefusedAbi r;
      r.base = base;
      r.symbol = symbol;
      r.version = abis[rank].version;
      r.declared = declared.count(symbol) != 0;
      for (const Refusal& ref : api_.refusals)
        if (ref.type == abis[rank].return_type) r.refusal = ref.value;
      api_.refused_abis.push_back(std::move(r));
    }
  }
}

// An asynchronous call returns before the server has run it, so the guest must be able to produce
// every output itself: the status (success), and new handles it names (the event).
void SpecReader::check_async(const Function& f) {
  const std::string what = "REMORA_ASYNC function '" + f.name + "'";
  if (f.returns != Function::Returns::kStatus && f.returns != Function::Returns::kVoid)
    error(f.loc, what + " returns '" + f.return_type + "', which the guest cannot produce before the call runs");
  for (const Param& p : f.params) {
    bool out = p.dir != Direction::kIn;
    bool bad = false;
    if (p.kind == ParamKind::kBuffer && out && p.deferred_event.empty()) bad = true;
    if (p.kind == ParamKind::kHandleArray && out &&
        (p.existing || !(p.count_expr.empty() || p.count_expr == "1")))
      bad = true;
    if (p.kind == ParamKind::kErrcode) bad = true;
    if (bad)
      error(p.loc, what + " has output '" + p.name +
                       "', which the guest cannot produce before the call runs (only a new handle of count 1 "
                       "and the status may come out of an asynchronous call)");
  }
}

void SpecReader::finish() {
  // Opcodes are unique; the first use wins and later ones are errors.
  std::map<uint32_t, const Function*> by_opcode;
  for (const Function& f : api_.functions) {
    if (f.opcode == 0) continue;
    auto [it, fresh] = by_opcode.emplace(f.opcode, &f);
    if (!fresh)
      error(f.loc, "opcode " + std::to_string(f.opcode) + " of '" + f.name + "' is already used by '" +
                       it->second->name + "' at " + it->second->loc.str());
  }
  std::set<std::string> names;
  for (const Function& f : api_.functions)
    if (!names.insert(f.name).second) error(f.loc, "function '" + f.name + "' is declared twice in the spec");

  // Lifetime functions per handle type.
  for (const Function& f : api_.functions) {
    for (auto [param, field, key] : {std::tuple{f.retains, &HandleType::retain_fn, "retain"},
                                     std::tuple{f.releases, &HandleType::release_fn, "release"}}) {
      if (param.empty()) continue;
      auto p = std::find_if(f.params.begin(), f.params.end(), [&](const Param& q) { return q.name == param; });
      if (p == f.params.end() || p->kind != ParamKind::kHandle) continue;  // reported already
      for (HandleType& h : api_.handle_types) {
        if (h.name != p->handle_type) continue;
        if (!(h.*field).empty())
          error(f.loc, "handle type '" + h.name + "' already has a " + key + " function, '" + (h.*field) + "'");
        else
          h.*field = f.name;
      }
    }
  }

  // REMORA_REQUIRES names vendor functions of the spec (loaded into the server's Vendor table).
  for (const Function& f : api_.functions) {
    for (const std::string& req : f.requires_vendor) {
      auto it = std::find_if(api_.functions.begin(), api_.functions.end(),
                             [&](const Function& g) { return g.name == req; });
      if (it == api_.functions.end() || it->auxiliary || it->impl == Implementation::kUnsupported)
        error(f.loc, "REMORA_REQUIRES(" + req + ") of '" + f.name +
                         "' is not a vendor function of the spec (declare it, so the server loads it)");
    }
  }

  // Functions the vendor headers declare that the spec does not.
  std::set<std::string> seen = names;
  for (CXCursor c : other_functions_) {
    CXFile file = file_of(c);
    if (!file || vendor_dir_.empty()) continue;
    std::error_code ec;
    std::string path = std::filesystem::weakly_canonical(take(clang_getFileName(file)), ec).string();
    if (path.rfind(vendor_dir_, 0) != 0) continue;
    UnlistedFunction u;
    u.name = spelling(c);
    if (!seen.insert(u.name).second) continue;
    const CXType type = clang_getCursorType(c);
    const CXType rt = clang_getResultType(type);
    u.return_type = spelling(rt);
    for (int i = 0, n = clang_getNumArgTypes(type); i < n; ++i)
      u.param_types.push_back(spelling(clang_getArgType(type, i)));
    // Not refused: a variadic function (the parameter types kept here have no ellipsis, so the
    // refusal could not be defined with the header's prototype; none of the headers at hand declares
    // one), and a function the header defines itself (static or inline: no library exports it, and
    // the guest source, which includes the header, cannot define it again).
    const bool defined_by_header =
        clang_Cursor_getStorageClass(c) == CX_SC_Static || !clang_Cursor_isNull(clang_getCursorDefinition(c));
    if (!clang_isFunctionTypeVariadic(type) && !defined_by_header) {
      for (const Refusal& r : api_.refusals)
        if (r.type == unqualified_spelling(rt)) u.refusal = r.value;
    }
    api_.undeclared.push_back(std::move(u));
  }
}

bool SpecReader::read(const ParseOptions& opts) {
  api_ = Api{};
  api_.spec_path = opts.spec_path;
  std::vector<std::string> args = {"-x", "c", "-std=gnu11"};
  std::string resource_dir = opts.resource_dir.empty() ? REMORA_CLANG_RESOURCE_DIR : opts.resource_dir;
  if (!resource_dir.empty()) args.insert(args.end(), {"-resource-dir", resource_dir});
  for (const auto& d : opts.include_dirs) args.insert(args.end(), {"-I", d});
  args.insert(args.end(), opts.extra_args.begin(), opts.extra_args.end());
  std::vector<const char*> argv;
  for (const auto& s : args) argv.push_back(s.c_str());
  clang_args_ = args;

  SourceLoc spec_loc{opts.spec_path, 1, 1};
  std::error_code ec;
  if (!std::filesystem::is_regular_file(opts.spec_path, ec)) {
    error(SourceLoc{opts.spec_path, 0, 0}, "cannot read the spec file");
    return false;
  }

  std::unique_ptr<void, void (*)(CXIndex)> index(clang_createIndex(0, 0), clang_disposeIndex);
  CXTranslationUnit tu = nullptr;
  CXErrorCode rc = clang_parseTranslationUnit2(
      index.get(), opts.spec_path.c_str(), argv.data(), static_cast<int>(argv.size()), nullptr, 0,
      CXTranslationUnit_DetailedPreprocessingRecord | CXTranslationUnit_SkipFunctionBodies, &tu);
  if (rc != CXError_Success || !tu) {
    error(spec_loc, "libclang could not parse the spec (error " + std::to_string(rc) + ")");
    return false;
  }
  std::unique_ptr<CXTranslationUnitImpl, void (*)(CXTranslationUnit)> tu_owner(tu, clang_disposeTranslationUnit);
  tu_ = tu;

  // Clang's own errors first: a spec that does not compile has no trustworthy model.
  bool clang_failed = false;
  for (unsigned i = 0, n = clang_getNumDiagnostics(tu); i < n; ++i) {
    CXDiagnostic d = clang_getDiagnostic(tu, i);
    if (clang_getDiagnosticSeverity(d) >= CXDiagnostic_Error) {
      error(location(clang_getDiagnosticLocation(d)), take(clang_getDiagnosticSpelling(d)));
      clang_failed = true;
    }
    clang_disposeDiagnostic(d);
  }
  if (clang_failed) return false;

  main_file_ = clang_getFile(tu, opts.spec_path.c_str());
  collect(clang_getTranslationUnitCursor(tu));
  // Every file the spec read, for the build's dependency file (remora-gen --depfile).
  clang_getInclusions(
      tu,
      [](CXFile file, CXSourceLocation*, unsigned, CXClientData data) {
        static_cast<std::vector<std::string>*>(data)->push_back(take(clang_getFileName(file)));
      },
      &api_.inputs);

  // Vendor headers: the spec's <...> includes other than remora's own.
  for (const Include& inc : includes_) {
    if (!inc.angled || inc.spelling.find("remora/") == 0) continue;
    api_.headers.push_back(inc.spelling);
    if (!core_header_ && inc.file) {
      core_header_ = inc.file;
      std::filesystem::path p = std::filesystem::weakly_canonical(take(clang_getFileName(inc.file)), ec);
      vendor_dir_ = p.parent_path().string() + "/";
    }
  }
  if (api_.headers.empty()) error(spec_loc, "the spec includes no vendor header (#include <...>)");

  if (api_vars_.empty()) error(spec_loc, "the spec has no REMORA_API(name, errors)");
  for (size_t i = 0; i < api_vars_.size(); ++i) {
    if (i > 0) {
      error(location(api_vars_[i]), "a second REMORA_API: a spec describes one API");
      continue;
    }
    read_api(api_vars_[i]);
  }
  for (CXCursor h : handle_vars_) read_handle(h);
  for (size_t i = 0; i < thread_state_vars_.size(); ++i) {
    if (i > 0) {
      error(location(thread_state_vars_[i]), "a second REMORA_THREAD_STATE: an API has one thread state");
      continue;
    }
    read_thread_state(thread_state_vars_[i]);
  }
  for (CXCursor r : refusal_vars_) read_refusal(r);
  for (CXCursor v : accepts_vars_) {
    const SourceLoc loc = location(v);
    Annotations a = Annotations::of(v);
    const std::string value = a.value("accepts").value_or("");
    const size_t comma = value.find(',');
    const std::string type = trim(value.substr(0, comma));
    const std::string other = comma == std::string::npos ? "" : trim(value.substr(comma + 1));
    HandleType* h = nullptr;
    for (HandleType& t : api_.handle_types)
      if (t.name == type) h = &t;
    if (h == nullptr || api_.find_handle(other) == nullptr || type == other)
      error(loc, "REMORA_HANDLE_ACCEPTS(" + value + ") does not name two declared handle types");
    else
      h->accepts.push_back(other);
    report_leftovers(a, loc, "REMORA_HANDLE_ACCEPTS", false);
  }
  collect_proc_abis();
  for (CXCursor f : spec_functions_) read_function(f);
  read_abi_versions();
  finish();
  return diags_.empty();
}

}  // namespace detail

bool parse_spec(const ParseOptions& opts, Api* out, std::vector<Diagnostic>* diags) {
  size_t before = diags->size();
  std::vector<Diagnostic> mine;
  detail::SpecReader reader(out, &mine);
  bool ok = reader.read(opts);
  diags->insert(diags->end(), mine.begin(), mine.end());
  return ok && diags->size() == before;
}

}  // namespace remora::gen
