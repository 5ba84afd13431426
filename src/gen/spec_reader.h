// The spec parser's internals, shared by spec_parser.cpp (translation unit, file scope, functions) and
// spec_params.cpp (parameters and callbacks). Not part of remora-gen's interface: use spec_parser.h.
#pragma once

#include <clang-c/Index.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gen/model.h"
#include "gen/spec_parser.h"

namespace remora::gen::detail {

// The remora annotations of one declaration, in source order. Each accessor marks what it read as
// used, so that whatever is left over afterwards is an annotation that does not apply there.
class Annotations {
 public:
  struct Item {
    std::string key;
    std::string value;  // after '='; empty for flags
    bool used = false;
  };

  static Annotations of(CXCursor c);

  bool flag(std::string_view key);
  std::optional<std::string> value(std::string_view key);
  std::vector<std::string> values(std::string_view key);
  std::vector<Item>& items() { return items_; }

 private:
  std::vector<Item> items_;
};

// Annotation keys by where they belong, to tell "unknown" from "misplaced".
bool is_function_key(std::string_view key);
bool is_param_key(std::string_view key);
bool is_file_scope_key(std::string_view key);

class SpecReader {
 public:
  SpecReader(Api* api, std::vector<Diagnostic>* diags) : api_(*api), diags_(*diags) {}
  bool read(const ParseOptions& opts);

  // ---- used by spec_params.cpp ----
  void error(const SourceLoc& loc, std::string message);
  const HandleType* handle_of(CXType t) const;
  bool handle_types_has(const std::string& name) const;
  // Reports identifiers in a C expression that name neither a parameter of `f` nor anything the
  // translation unit declares. Function-call names are not checked: they may be hooks-header helpers.
  void check_expr(const std::string& expr, const Function& f, const std::string& what, const SourceLoc& loc);
  // Reads and classifies the parameters of `fn` into f->params. `checked` is false for functions that
  // are never forwarded (local, unsupported): their parameters need only names and types.
  void read_params(CXCursor fn, Function* f, bool checked);
  // Reports annotations not consumed, as not applying to `what`.
  void report_leftovers(Annotations& anns, const SourceLoc& loc, const std::string& what, bool function_level);

 private:
  struct Include {
    std::string spelling;  // as written between <> or ""
    CXFile file = nullptr;
    bool angled = false;
  };
  struct VendorFunction {
    std::string name;
    std::string path;
  };

  void collect(CXCursor tu_cursor);
  void read_api(CXCursor var);
  void read_handle(CXCursor var);
  void read_thread_state(CXCursor var);
  void read_refusal(CXCursor var);
  void read_function(CXCursor fn);
  void check_async(const Function& f);
  void finish();
  bool in_main_file(CXCursor c) const;

  Api& api_;
  std::vector<Diagnostic>& diags_;
  CXTranslationUnit tu_ = nullptr;
  CXFile main_file_ = nullptr;
  std::vector<Include> includes_;
  std::vector<CXCursor> api_vars_;
  std::vector<CXCursor> handle_vars_;
  std::vector<CXCursor> thread_state_vars_;
  std::vector<CXCursor> refusal_vars_;
  std::vector<CXCursor> accepts_vars_;
  std::vector<CXCursor> typedefs_;  // every typedef the spec sees (REMORA_PROC_TYPEDEFS reads them)
  // REMORA_PROC_TYPEDEFS: each base name's ABIs, by ascending version (rank i is the symbol `base`
  // for i = 0, else `base_v<i+1>`), from the typedefs the spec sees and, with
  // REMORA_PROC_TYPEDEFS_HIDDEN, those its header declares only under the vendor's own define.
  struct ProcAbi {
    uint32_t version = 0;
    std::string signature;    // the function type, canonical spelling
    std::string return_type;  // as spelled
    bool hidden = false;
  };
  std::map<std::string, std::vector<ProcAbi>> proc_abis_;
  std::string proc_hidden_header_, proc_hidden_define_;
  std::vector<std::string> clang_args_;
  void collect_proc_abis();
  void read_abi_versions();
  bool proc_typedef_names(const std::string& base);
  static std::string abi_base(const std::string& name, unsigned* rank = nullptr);
  std::vector<CXCursor> spec_functions_;
  std::vector<CXCursor> other_functions_;
  std::set<std::string> known_names_;  // everything the TU declares, for check_expr
  CXFile core_header_ = nullptr;       // the first vendor header
  std::string vendor_dir_;             // its directory, with a trailing '/'
};

// Splits "a,b,c" at commas, trimming spaces (no nesting: annotation lists never need it).
std::vector<std::string> split_list(std::string_view s, char sep = ',');
std::string trim(std::string_view s);
bool is_identifier(std::string_view s);

}  // namespace remora::gen::detail
