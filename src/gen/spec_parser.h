// The front end of remora-gen: parses an annotated spec with libclang and builds the checked model.
//
// The spec is parsed as C (gnu11) against the vendor's real headers. The parser reads the
// `annotate("remora:...")` attributes of include/remora/spec.h, applies the defaults that follow from
// the C types, and checks everything an emitter would otherwise have to guess. Every problem becomes a
// Diagnostic at the spec's file:line:col; the parser keeps going after an error so that one run reports
// as many problems as it can, but a model that came with any error must not be emitted.
#pragma once

#include <string>
#include <vector>

#include "gen/model.h"

namespace remora::gen {

struct Diagnostic {
  SourceLoc loc;
  std::string message;
  // "file:line:col: error: message", the form compilers use (editors and CI parse it).
  std::string str() const { return loc.str() + ": error: " + message; }
};

struct ParseOptions {
  std::string spec_path;
  std::vector<std::string> include_dirs;  // -I, in order
  // clang's resource directory (its builtin headers such as stddef.h). Empty: the one found when
  // remora-gen was configured (REMORA_CLANG_RESOURCE_DIR).
  std::string resource_dir;
  // Extra compiler arguments (tests use -D); the spec itself #defines what its headers need.
  std::vector<std::string> extra_args;
};

// Parses and checks the spec. Returns true and fills *out when there were no errors; otherwise returns
// false with at least one entry in *diags (and *out partially filled, for nothing but debugging).
bool parse_spec(const ParseOptions& opts, Api* out, std::vector<Diagnostic>* diags);

}  // namespace remora::gen
