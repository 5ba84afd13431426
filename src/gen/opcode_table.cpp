#include "gen/opcode_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "gen/emit_common.h"

namespace remora::gen {
namespace {

SourceLoc at(const std::string& path, unsigned line) { return SourceLoc{path, line, 1}; }

std::string entry_line(const Api& api, const Function& f) {
  return fmt::format("{} {} {:#018x}", f.opcode, f.name, api.signature(f));
}

// The spec's forwarded functions by opcode (the ones that travel, so the ones a table pins).
std::map<uint32_t, const Function*> spec_opcodes(const Api& api) {
  std::map<uint32_t, const Function*> out;
  for (const Function& f : api.functions)
    if (is_forwarded(f)) out[f.opcode] = &f;
  return out;
}

}  // namespace

bool parse_opcode_table(const std::string& path, const std::string& text, std::vector<OpcodeEntry>* out,
                        std::vector<Diagnostic>* diags) {
  std::istringstream in(text);
  std::string raw;
  unsigned line = 0;
  bool ok = true;
  std::map<uint32_t, unsigned> seen;
  while (std::getline(in, raw)) {
    ++line;
    if (const size_t hash = raw.find('#'); hash != std::string::npos) raw.resize(hash);
    std::istringstream words(raw);
    std::string number, function, signature, extra;
    if (!(words >> number)) continue;  // blank or comment
    OpcodeEntry e;
    e.line = line;
    char* end = nullptr;
    const unsigned long op = std::strtoul(number.c_str(), &end, 10);
    if (*end != '\0' || op == 0 || op > 0xffffffffu || !(words >> function >> signature) || (words >> extra)) {
      diags->push_back({at(path, line), "expected `<opcode> <function> <signature>` or `<opcode> <function> retired`"});
      ok = false;
      continue;
    }
    e.opcode = static_cast<uint32_t>(op);
    e.function = function;
    if (signature == "retired") {
      e.retired = true;
    } else {
      e.signature = std::strtoull(signature.c_str(), &end, 16);
      if (signature.rfind("0x", 0) != 0 || signature.size() != 18 || *end != '\0' || e.signature == 0) {
        diags->push_back({at(path, line), "the signature must be 0x and 16 hex digits (or `retired`)"});
        ok = false;
        continue;
      }
    }
    if (auto [it, fresh] = seen.emplace(e.opcode, line); !fresh) {
      diags->push_back({at(path, line), fmt::format("opcode {} is listed twice (first at line {})", e.opcode, it->second)});
      ok = false;
      continue;
    }
    out->push_back(e);
  }
  return ok;
}

bool check_opcode_table(const Api& api, const std::string& path, const std::vector<OpcodeEntry>& table,
                        std::vector<Diagnostic>* diags) {
  const size_t before = diags->size();
  std::map<uint32_t, const OpcodeEntry*> by_opcode;
  for (const OpcodeEntry& e : table) by_opcode[e.opcode] = &e;
  const auto spec = spec_opcodes(api);
  for (const auto& [op, f] : spec) {
    auto it = by_opcode.find(op);
    if (it == by_opcode.end()) {
      diags->push_back({f->loc, fmt::format("opcode {} ({}) is not in {}: append `{}` (remora-gen --update-opcodes)",
                                            op, f->name, path, entry_line(api, *f))});
      continue;
    }
    const OpcodeEntry& e = *it->second;
    if (e.retired) {
      diags->push_back({f->loc, fmt::format("opcode {} was retired ({}:{}, {}); a number is never used again: "
                                            "give {} a new opcode",
                                            op, path, e.line, e.function, f->name)});
    } else if (e.function != f->name) {
      diags->push_back({f->loc, fmt::format("opcode {} belongs to {} ({}:{}); a number is never reused: give {} a "
                                            "new opcode",
                                            op, e.function, path, e.line, f->name)});
    } else if (e.signature != api.signature(*f)) {
      diags->push_back({f->loc, fmt::format("opcode {} ({}) changed its wire signature ({:#018x} at {}:{}, now "
                                            "{:#018x}): guests built before would mis-encode it. Give the new "
                                            "form a new opcode and mark {} `retired`",
                                            op, f->name, e.signature, path, e.line, api.signature(*f), op)});
    }
  }
  for (const OpcodeEntry& e : table) {
    if (e.retired || spec.count(e.opcode) != 0) continue;
    diags->push_back({at(path, e.line), fmt::format("opcode {} ({}) is gone from the spec: mark it `retired` so its "
                                                    "number is never reused (remora-gen --update-opcodes)",
                                                    e.opcode, e.function)});
  }
  return diags->size() == before;
}

bool update_opcode_table(const Api& api, const std::string& path, const std::string& text, std::string* updated,
                         std::vector<Diagnostic>* diags) {
  std::vector<OpcodeEntry> table;
  if (!parse_opcode_table(path, text, &table, diags)) return false;
  std::vector<Diagnostic> problems;
  check_opcode_table(api, path, table, &problems);
  // What an update may not fix: the spec must be changed instead.
  bool refused = false;
  for (const Diagnostic& d : problems) {
    if (d.message.find("is not in") != std::string::npos || d.message.find("is gone from") != std::string::npos)
      continue;
    diags->push_back(d);
    refused = true;
  }
  if (refused) return false;
  const auto spec = spec_opcodes(api);
  std::map<uint32_t, const OpcodeEntry*> by_opcode;
  for (const OpcodeEntry& e : table) by_opcode[e.opcode] = &e;
  // Retire in place: the line keeps its place and its function, its signature gives way.
  std::istringstream in(text);
  std::string raw, out;
  unsigned line = 0;
  for (const OpcodeEntry* gone = nullptr; std::getline(in, raw); gone = nullptr) {
    ++line;
    for (const OpcodeEntry& e : table)
      if (e.line == line && !e.retired && spec.count(e.opcode) == 0) gone = &e;
    out += gone ? fmt::format("{} {} retired", gone->opcode, gone->function) : raw;
    out += '\n';
  }
  if (text.empty()) out = opcode_table_header(api);
  for (const auto& [op, f] : spec)
    if (by_opcode.count(op) == 0) out += entry_line(api, *f) + "\n";
  *updated = out;
  return true;
}

std::string opcode_table_header(const Api& api) {
  return fmt::format(
      "# The opcodes of the {0} API ({1}): append-only, checked by the ctest\n"
      "# gen.opcodes.{0}.\n"
      "# An opcode keeps its function and its wire signature for ever, so that guests built from an older\n"
      "# spec keep working (docs/generated-code.md, \"Compatibility\"). To add functions, give them new\n"
      "# opcodes and run `remora-gen --update-opcodes` (it appends them); a changed signature needs a new\n"
      "# opcode too, and the old number stays here, `retired`.\n"
      "#\n"
      "# opcode function signature\n",
      api.name, std::filesystem::path(api.spec_path).filename().string());
}

}  // namespace remora::gen
