// remora-gen's front end, parameters: applies the defaults that follow from each parameter's C type,
// then its annotations, and refuses anything an emitter would have to guess (a pointer with no length,
// a function pointer without a callback description, ...).
#include <algorithm>
#include <map>

#include "gen/spec_clang.h"
#include "gen/spec_reader.h"

namespace remora::gen::detail {

using namespace clangx;

namespace {

bool has_param(const Function& f, const std::string& name) {
  return std::any_of(f.params.begin(), f.params.end(), [&](const Param& p) { return p.name == name; });
}

Param* find_param(Function& f, const std::string& name) {
  for (Param& p : f.params)
    if (p.name == name) return &p;
  return nullptr;
}

// The parameter declarations of a function-pointer parameter's own signature, written inline
// (`void (*pfn)(cl_program program, void *user_data)`) or through a typedef.
std::vector<CXCursor> callback_parm_decls(CXCursor param) {
  std::vector<CXCursor> out;
  visit_children(param, [&](CXCursor c) {
    CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_ParmDecl) {
      out.push_back(c);
    } else if (k == CXCursor_TypeRef && out.empty()) {
      CXCursor decl = clang_getCursorReferenced(c);
      if (clang_getCursorKind(decl) == CXCursor_TypedefDecl)
        visit_children(decl, [&](CXCursor d) {
          if (clang_getCursorKind(d) == CXCursor_ParmDecl) out.push_back(d);
          return CXChildVisit_Continue;
        });
    }
    return CXChildVisit_Continue;
  });
  return out;
}

}  // namespace

// One parameter under classification: the reader, the function, the parameter and its annotations.
class ParamClassifier {
 public:
  ParamClassifier(SpecReader& r, Function& f, Param& p, CXCursor c, Annotations& a, bool checked)
      : r_(r), f_(f), p_(p), c_(c), a_(a), checked_(checked), type_(clang_getCursorType(c)) {}

  void run(const std::set<std::string>& user_data_names);

 private:
  void fail(const std::string& message) {
    if (checked_) r_.error(p_.loc, "parameter '" + p_.name + "' of '" + f_.name + "' " + message);
  }
  void expr(const std::string& e, const std::string& what) {
    if (checked_) r_.check_expr(e, f_, what + " of parameter '" + p_.name + "'", p_.loc);
  }
  // Names given as bare identifiers must be parameters of the function.
  bool param_name(const std::string& name, const std::string& what) {
    if (has_param(f_, name)) return true;
    fail("has " + what + " naming '" + name + "', which is not a parameter of '" + f_.name + "'");
    return false;
  }
  Direction direction(bool is_const);
  void length();
  void array_extras();
  void check_record(CXType record, bool by_value, const std::string& prefix = "");
  void callback(const std::string& spec);
  void strings(const std::string& spec, bool binaries);
  void properties(const std::string& spec);
  void pointer(CXType pointee);

  SpecReader& r_;
  Function& f_;
  Param& p_;
  CXCursor c_;
  Annotations& a_;
  bool checked_;
  CXType type_;
};

Direction ParamClassifier::direction(bool is_const) {
  bool in = a_.flag("in"), out = a_.flag("out"), inout = a_.flag("inout");
  if (in + out + inout > 1) fail("has more than one of REMORA_IN, REMORA_OUT, REMORA_INOUT");
  if (inout) return Direction::kInOut;
  if (out) return Direction::kOut;
  if (in) return Direction::kIn;
  return is_const ? Direction::kIn : Direction::kOut;
}

void ParamClassifier::length() {
  p_.count_expr = a_.value("count").value_or("");
  p_.bytes_expr = a_.value("bytes").value_or("");
  if (!p_.count_expr.empty() && !p_.bytes_expr.empty()) fail("has both REMORA_COUNT and REMORA_BYTES");
  if (!p_.count_expr.empty()) expr(p_.count_expr, "REMORA_COUNT(" + p_.count_expr + ")");
  if (!p_.bytes_expr.empty()) expr(p_.bytes_expr, "REMORA_BYTES(" + p_.bytes_expr + ")");
}

// LENGTH_RET and DEFERRED, shared by buffers and handle arrays.
void ParamClassifier::array_extras() {
  if (auto v = a_.value("length_ret")) {
    p_.length_ret = *v;
    if (param_name(*v, "REMORA_LENGTH_RET") && p_.dir == Direction::kIn)
      fail("is an input but has REMORA_LENGTH_RET: the real length only matters for outputs");
  }
  if (auto v = a_.value("deferred")) {
    p_.deferred_event = *v;
    // On an input: the vendor may read it until the command completes; the server keeps a copy.
    (void)param_name(*v, "REMORA_DEFERRED");
  }
}

// A struct crossing the wire as bytes must hold no pointers, except handle fields listed in
// REMORA_STRUCT_HANDLES (translated to ids). Nested structs are checked the same way, without listing.
void ParamClassifier::check_record(CXType record, bool by_value, const std::string& prefix) {
  std::string rname = unqualified_spelling(record);
  std::vector<Field> fields = fields_of(record);
  auto is_listed = [&](const std::string& name) {
    return std::any_of(p_.struct_handles.begin(), p_.struct_handles.end(),
                       [&](const StructHandleField& s) { return s.field == name; });
  };
  for (const Field& field : fields) {
    // A handle in an anonymous union is covered when any member of that union is listed: they are one
    // storage, translated once. Listing two of them would translate it twice.
    bool listed = is_listed(field.name);
    int listed_in_group = 0;
    if (field.union_group)
      for (const Field& other : fields)
        if (other.union_group == field.union_group && is_listed(other.name)) ++listed_in_group;
    if (listed && listed_in_group > 1 && !by_value)
      fail("lists '" + field.name + "' in REMORA_STRUCT_HANDLES with another member of the same union: list one");
    listed = listed || listed_in_group > 0;
    CXType pointee;
    if (r_.handle_of(field.type)) {
      if (by_value)
        fail("is a struct '" + rname + "' passed by value with handle field '" + field.name +
             "': remora cannot translate it");
      else if (!listed)
        fail("points to struct '" + rname + "' whose field '" + field.name +
             "' is a handle: list it in REMORA_STRUCT_HANDLES(\"" + field.name + ":<type>\")");
    } else if (pointee_of(field.type, &pointee)) {
      const std::string path = prefix + field.name;
      const auto named = [&](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), path) != v.end(); };
      if (!named(p_.device_pointer_fields) && !named(p_.zero_fields))
        fail("points to struct '" + rname + "' whose field '" + path +
             "' is a pointer remora cannot forward: REMORA_DEVICE_POINTERS or REMORA_ZERO_FIELDS if it may, else "
             "use REMORA_GUEST/REMORA_SERVER hooks");
    } else if (is_record(field.type)) {
      check_record(field.type, true, prefix + field.name + ".");
    }
  }
}

void ParamClassifier::callback(const std::string& spec) {
  CXType fn_type;
  if (!pointee_of(type_, &fn_type) || !is_function(fn_type)) {
    fail("has REMORA_CALLBACK but is not a function pointer");
    return;
  }
  size_t c1 = spec.find(',');
  size_t c2 = c1 == std::string::npos ? c1 : spec.find(',', c1 + 1);
  if (c2 == std::string::npos) {
    fail("has a malformed REMORA_CALLBACK(\"" + spec + "\"): expected (user_data, once|many, \"args\")");
    return;
  }
  Callback cb;
  cb.user_data_param = trim(spec.substr(0, c1));
  std::string lifetime = trim(spec.substr(c1 + 1, c2 - c1 - 1));
  std::string overrides = spec.substr(c2 + 1);
  if (lifetime != "once" && lifetime != "many") fail("has REMORA_CALLBACK lifetime '" + lifetime + "': use once or many");
  cb.once = lifetime == "once";
  cb.typedef_name = "remora_" + f_.name + "_" + p_.name + "_fn";
  param_name(cb.user_data_param, "REMORA_CALLBACK user data");

  CXType canonical = clang_getCanonicalType(fn_type);
  cb.return_type = spelling(clang_getResultType(fn_type));
  int n = clang_getNumArgTypes(canonical);
  std::vector<CXCursor> decls = callback_parm_decls(c_);
  bool named = static_cast<int>(decls.size()) == n;
  for (int i = 0; i < n; ++i) {
    CallbackArg arg;
    CXType at = named ? clang_getCursorType(decls[i]) : clang_getArgType(canonical, i);
    arg.name = named ? spelling(decls[i]) : "";
    if (arg.name.empty()) arg.name = "arg" + std::to_string(i);
    arg.c_type = spelling(at);
    cb.args.push_back(std::move(arg));
  }

  // Overrides: "name:bytes(size_param)[, ...]".
  std::map<std::string, std::string> bytes_of;
  for (const std::string& item : split_list(overrides)) {
    size_t colon = item.find(':');
    std::string name = trim(item.substr(0, colon));
    std::string rest = colon == std::string::npos ? "" : trim(item.substr(colon + 1));
    bool ok = rest.size() > 7 && rest.rfind("bytes(", 0) == 0 && rest.back() == ')';
    std::string size = ok ? trim(rest.substr(6, rest.size() - 7)) : "";
    auto is_arg = [&](const std::string& a) {
      return std::any_of(cb.args.begin(), cb.args.end(), [&](const CallbackArg& x) { return x.name == a; });
    };
    if (!ok) {
      fail("has a malformed REMORA_CALLBACK argument \"" + item + "\": expected \"name:bytes(size_param)\"");
    } else if (!is_arg(name) || !is_arg(size)) {
      fail("has REMORA_CALLBACK argument \"" + item + "\" naming '" + (is_arg(name) ? size : name) +
           "', which is not a parameter of the callback");
    } else {
      bytes_of[name] = size;
    }
  }

  bool has_user_data = false;
  for (int i = 0; i < n; ++i) {
    CallbackArg& arg = cb.args[i];
    CXType at = named ? clang_getCursorType(decls[i]) : clang_getArgType(canonical, i);
    CXType pointee;
    if (auto it = bytes_of.find(arg.name); it != bytes_of.end()) {
      arg.kind = CallbackArg::Kind::kBytes;
      arg.bytes_size_arg = it->second;
    } else if (const HandleType* h = r_.handle_of(at)) {
      arg.kind = CallbackArg::Kind::kHandle;
      arg.handle_type = h->name;
    } else if (pointee_of(at, &pointee) && is_char(pointee) && clang_isConstQualifiedType(pointee)) {
      arg.kind = CallbackArg::Kind::kString;
    } else if (pointee_of(at, &pointee) && is_void(pointee) && i == n - 1) {
      arg.kind = CallbackArg::Kind::kUserData;
      has_user_data = true;
    } else if (is_arithmetic(at)) {
      arg.kind = CallbackArg::Kind::kScalar;
    } else {
      fail("is a callback whose parameter '" + arg.name + "' (" + arg.c_type +
           ") remora cannot forward: describe it in REMORA_CALLBACK's args, e.g. \"" + arg.name +
           ":bytes(size_param)\"");
    }
  }
  if (!has_user_data)
    fail("is a callback without a trailing 'void *user_data' parameter: remora routes callbacks through it");
  p_.kind = ParamKind::kCallback;
  p_.callback = std::move(cb);
}

void ParamClassifier::strings(const std::string& spec, bool binaries) {
  const char* macro = binaries ? "REMORA_BINARIES" : "REMORA_STRINGS";
  std::vector<std::string> parts = split_list(spec);
  p_.kind = binaries ? ParamKind::kBinaries : ParamKind::kStrings;
  p_.nonnull = a_.flag("nonnull");
  if (parts.size() != 2) {
    fail(std::string("has a malformed ") + macro + ": expected (count, lengths)");
    return;
  }
  p_.count_param = parts[0];
  p_.lengths_param = parts[1] == "NULL" ? "" : parts[1];
  param_name(p_.count_param, std::string(macro) + " count");
  if (!p_.lengths_param.empty()) param_name(p_.lengths_param, std::string(macro) + " lengths");
  if (binaries && p_.lengths_param.empty()) fail("has REMORA_BINARIES without lengths: binaries are not NUL-terminated");
  CXType p1, p2;
  bool shape = pointee_of(type_, &p1) && pointee_of(p1, &p2) && clang_isConstQualifiedType(p2) &&
               (binaries ? is_uchar(p2) : is_char(p2));
  if (!shape) fail(std::string("has ") + macro + " but is not a '" + (binaries ? "const unsigned char **" : "const char **") + "'");
}

void ParamClassifier::properties(const std::string& spec) {
  p_.kind = ParamKind::kProperties;
  p_.dir = Direction::kIn;
  p_.nonnull = a_.flag("nonnull");
  CXType pointee;
  if (!pointee_of(type_, &pointee) || !is_arithmetic(pointee) || !clang_isConstQualifiedType(pointee))
    fail("has REMORA_PROPERTIES but is not a pointer to const integer properties");
  else
    p_.elem_type = unqualified_spelling(pointee);
  for (const std::string& item : split_list(spec)) {
    size_t colon = item.find(':');
    PropertyHandleKey k{trim(item.substr(0, colon)), colon == std::string::npos ? "" : trim(item.substr(colon + 1))};
    if (k.key.empty() || !r_.handle_types_has(k.handle_type))
      fail("has REMORA_PROPERTIES entry \"" + item + "\": expected \"KEY:handle_type\" with a REMORA_HANDLE type");
    p_.property_handles.push_back(std::move(k));
  }
}

void ParamClassifier::pointer(CXType pointee) {
  p_.nonnull = a_.flag("nonnull");
  bool is_const = clang_isConstQualifiedType(pointee);
  if (is_function(pointee)) {
    p_.kind = ParamKind::kCallback;
    fail("is a function pointer without REMORA_CALLBACK(user_data, once|many, \"args\")");
    return;
  }
  if (const HandleType* h = r_.handle_of(pointee)) {
    p_.kind = ParamKind::kHandleArray;
    p_.handle_type = p_.elem_type = h->name;
    p_.dir = direction(is_const);
    p_.existing = a_.flag("existing");
    length();
    if (!p_.bytes_expr.empty()) fail("is an array of handles: give its length with REMORA_COUNT, not REMORA_BYTES");
    // An out handle with no count is the `cl_event *event` pattern: one new object.
    if (p_.dir != Direction::kOut && p_.count_expr.empty())
      fail("is an array of handles with no known length: add REMORA_COUNT(expr)");
    if (p_.existing && p_.dir == Direction::kIn) fail("has REMORA_EXISTING but is an input");
    array_extras();
    return;
  }
  if (is_char(pointee) && is_const && a_.value("count") == std::nullopt && a_.value("bytes") == std::nullopt) {
    p_.kind = ParamKind::kString;
    p_.dir = direction(true);
    if (p_.dir != Direction::kIn) fail("is a 'const char *' string but is marked as an output");
    return;
  }
  if (!(is_void(pointee) || is_arithmetic(pointee) || is_record(pointee))) {
    p_.kind = ParamKind::kBuffer;
    fail("is a pointer to '" + spelling(pointee) +
         "' with no known length or layout: annotate it (REMORA_STRINGS, REMORA_BINARIES) or hand-write the "
         "function (REMORA_GUEST, REMORA_SERVER, REMORA_UNSUPPORTED)");
    return;
  }
  p_.kind = ParamKind::kBuffer;
  p_.elem_type = is_void(pointee) ? "void" : unqualified_spelling(pointee);
  p_.dir = direction(is_const);
  length();
  bool sized = !p_.count_expr.empty() || !p_.bytes_expr.empty();
  if (is_void(pointee) && !sized)
    fail("is a pointer with no known length: add REMORA_BYTES(expr)");
  else if (is_void(pointee) && !p_.count_expr.empty())
    fail("points to void: give its length in bytes with REMORA_BYTES, not REMORA_COUNT");
  else if (is_char(pointee) && !sized)
    fail("is a 'char *' with no known length: add REMORA_COUNT(expr)");
  array_extras();
  for (const std::string& hw : a_.values("handles_when")) {
    std::vector<std::string> parts = split_list(hw);
    if (parts.size() != 3) {
      fail("has a malformed REMORA_HANDLES_WHEN(" + hw + ")");
      continue;
    }
    param_name(parts[0], "REMORA_HANDLES_WHEN selector");
    if (!r_.handle_types_has(parts[2]))
      fail("has REMORA_HANDLES_WHEN type '" + parts[2] + "', which is not a REMORA_HANDLE type");
    p_.handles_when.push_back(HandlesWhen{parts[0], parts[1], parts[2]});
  }
  for (const std::string& pw : a_.values("properties_when")) {
    std::vector<std::string> parts = split_list(pw);
    if (parts.size() < 3) {
      fail("has a malformed REMORA_PROPERTIES_WHEN(" + pw + ")");
      continue;
    }
    param_name(parts[0], "REMORA_PROPERTIES_WHEN selector");
    HandlesWhen w{parts[0], parts[1], "", {}};
    for (size_t i = 2; i < parts.size(); ++i) {
      const size_t colon = parts[i].find(':');
      const std::string type = colon == std::string::npos ? "" : parts[i].substr(colon + 1);
      if (colon == std::string::npos || !r_.handle_types_has(type)) {
        fail("has REMORA_PROPERTIES_WHEN key '" + parts[i] + "': expected KEY:type with a REMORA_HANDLE type");
        continue;
      }
      w.property_keys.push_back(PropertyHandleKey{parts[i].substr(0, colon), type});
    }
    p_.handles_when.push_back(std::move(w));
  }
  if (!p_.handles_when.empty() && p_.dir == Direction::kIn) fail("has REMORA_HANDLES_WHEN but is an input");
  for (auto [key, list] : {std::pair{"device_pointers", &p_.device_pointer_fields}, std::pair{"zero_fields", &p_.zero_fields}}) {
    if (auto v = a_.value(key)) {
      if (!is_record(pointee)) fail(std::string("has ") + key + " but does not point to a struct");
      for (const std::string& item : split_list(*v)) list->push_back(trim(item));
    }
  }
  if (auto sh = a_.value("struct_handles")) {
    if (!is_record(pointee)) fail("has REMORA_STRUCT_HANDLES but does not point to a struct");
    std::vector<Field> fields = is_record(pointee) ? fields_of(pointee) : std::vector<Field>{};
    for (const std::string& item : split_list(*sh)) {
      size_t colon = item.find(':');
      StructHandleField s{trim(item.substr(0, colon)), colon == std::string::npos ? "" : trim(item.substr(colon + 1))};
      if (!r_.handle_types_has(s.handle_type))
        fail("has REMORA_STRUCT_HANDLES entry \"" + item + "\" whose type is not a REMORA_HANDLE type");
      if (!std::any_of(fields.begin(), fields.end(), [&](const Field& fl) { return fl.name == s.field; }))
        fail("has REMORA_STRUCT_HANDLES field '" + s.field + "', which '" + spelling(pointee) + "' does not have");
      p_.struct_handles.push_back(std::move(s));
    }
  }
  if (is_record(pointee)) check_record(pointee, false);
}

void ParamClassifier::run(const std::set<std::string>& user_data_names) {
  CXType pointee;
  if (a_.flag("errcode")) {
    p_.kind = ParamKind::kErrcode;
    p_.dir = Direction::kOut;
    if (!pointee_of(type_, &pointee) || !is_arithmetic(pointee) || clang_isConstQualifiedType(pointee))
      fail("has REMORA_ERRCODE but is not a pointer to the status type");
    else
      p_.elem_type = unqualified_spelling(pointee);
    if (!f_.errcode_param.empty()) fail("is a second REMORA_ERRCODE of the function");
    f_.errcode_param = p_.name;
  } else if (a_.flag("user_data") || user_data_names.count(p_.name)) {
    p_.kind = ParamKind::kUserData;
    p_.consumed = true;
    if (!pointee_of(type_, &pointee) || !is_void(pointee)) fail("is a callback's user data but not a 'void *'");
  } else if (auto cb = a_.value("callback")) {
    callback(*cb);
  } else if (auto s = a_.value("strings")) {
    strings(*s, false);
  } else if (auto b = a_.value("binaries")) {
    strings(*b, true);
  } else if (auto pr = a_.value("properties")) {
    properties(*pr);
  } else if (const HandleType* h = r_.handle_of(type_)) {
    p_.kind = ParamKind::kHandle;
    p_.handle_type = h->name;
  } else if (pointee_of(type_, &pointee)) {
    pointer(pointee);
  } else if (is_arithmetic(type_) || is_record(type_)) {
    p_.kind = ParamKind::kScalar;
    long long size = clang_Type_getSizeOf(type_);
    p_.scalar_size = size > 0 ? static_cast<uint64_t>(size) : 0;
    if (is_record(type_)) check_record(type_, true);
    if (auto v = a_.value("send")) {
      p_.send_expr = trim(*v);
      expr(p_.send_expr, "REMORA_SEND(" + p_.send_expr + ")");
    }
  } else {
    fail("has type '" + p_.c_type + "', which remora cannot forward");
  }
}

bool SpecReader::handle_types_has(const std::string& name) const { return api_.find_handle(name) != nullptr; }

void SpecReader::read_params(CXCursor fc, Function* f, bool checked) {
  int n = clang_Cursor_getNumArguments(fc);
  std::vector<CXCursor> cursors;
  std::vector<Annotations> anns;
  for (int i = 0; i < n; ++i) {
    CXCursor c = clang_Cursor_getArgument(fc, i);
    Param p;
    p.name = spelling(c);
    p.c_type = spelling(clang_getCursorType(c));
    p.loc = location(c);
    if (p.name.empty()) {
      error(p.loc, "parameter " + std::to_string(i + 1) + " of '" + f->name +
                       "' has no name: spec declarations name every parameter");
      p.name = "arg" + std::to_string(i);
    }
    cursors.push_back(c);
    anns.push_back(Annotations::of(c));
    f->params.push_back(std::move(p));
  }

  // Callbacks name their user data parameter; that parameter is then kUserData whatever its position.
  std::set<std::string> user_data_names;
  for (auto& a : anns)
    for (auto& item : a.items())
      if (item.key == "callback") user_data_names.insert(trim(item.value.substr(0, item.value.find(','))));

  for (int i = 0; i < n; ++i) {
    Param& p = f->params[i];
    ParamClassifier(*this, *f, p, cursors[i], anns[i], checked).run(user_data_names);
    if (checked) report_leftovers(anns[i], p.loc, "parameter '" + p.name + "' of '" + f->name + "'", false);
  }

  // A lengths array of strings/binaries is described by the strings parameter; emitters skip it.
  for (Param& p : f->params) {
    if ((p.kind != ParamKind::kStrings && p.kind != ParamKind::kBinaries) || p.lengths_param.empty()) continue;
    Param* lengths = find_param(*f, p.lengths_param);
    if (!lengths) continue;
    lengths->consumed = true;
    if (lengths->kind == ParamKind::kBuffer && lengths->count_expr.empty() && lengths->bytes_expr.empty())
      lengths->count_expr = p.count_param;
  }
}

}  // namespace remora::gen::detail
