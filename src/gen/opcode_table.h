// The committed opcode table of an API (apis/<api>/<api>.opcodes): what makes "append-only" a fact.
//
// A guest built from an older spec must keep working against a newer server, so an opcode, once
// published, keeps its function and its wire signature (Api::signature) for ever. The table records
// every opcode ever used; `remora-gen --check-opcodes FILE` (a ctest per API) fails when the spec
// reuses a number, changes a published signature, or drops an opcode without retiring it, and
// `--update-opcodes FILE` appends the spec's new opcodes (and retires dropped ones), never rewriting
// an existing entry.
//
// Format, one entry per line ('#' starts a comment):
//   <opcode> <function> <signature as 0x + 16 hex digits>
//   <opcode> <function> retired
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gen/model.h"
#include "gen/spec_parser.h"

namespace remora::gen {

struct OpcodeEntry {
  uint32_t opcode = 0;
  std::string function;
  uint64_t signature = 0;  // 0 when retired
  bool retired = false;
  unsigned line = 0;
};

// Parses a table's text. Errors (a malformed line, a number listed twice) go to *diags at path:line.
bool parse_opcode_table(const std::string& path, const std::string& text, std::vector<OpcodeEntry>* out,
                        std::vector<Diagnostic>* diags);

// Checks the spec's opcodes against the table. Each problem is a Diagnostic at the spec's function (or,
// for an entry the spec lost, at the table's line) that says what to do.
bool check_opcode_table(const Api& api, const std::string& path, const std::vector<OpcodeEntry>& table,
                        std::vector<Diagnostic>* diags);

// The table's text with the spec's new opcodes appended and the opcodes the spec dropped retired.
// Refuses (false, with diagnostics) what no update may do: a reused number or a changed signature.
bool update_opcode_table(const Api& api, const std::string& path, const std::string& text,
                         std::string* updated, std::vector<Diagnostic>* diags);

// The header a new table starts with.
std::string opcode_table_header(const Api& api);

}  // namespace remora::gen
