// <api>_coverage.md and the --print-coverage summary.
//
// Contract decision: "generated (async)" covers every async-capable function (REMORA_ASYNC, and
// REMORA_BLOCKING_IF, which is asynchronous when its condition is false). Rows keep spec order, then
// the functions the spec does not declare, sorted by name.
#include <algorithm>
#include <map>

#include "gen/emit_common.h"
#include "gen/emitters.h"

namespace remora::gen {
namespace {

struct Row {
  std::string name;
  std::string opcode;
  std::string category;  // for totals
  std::string status;    // the full text
  bool refused = false;  // not in spec, answered by a REMORA_REFUSE_UNLISTED refusal
};

std::vector<Row> rows(const Api& api) {
  std::vector<Row> out;
  for (const Function& f : api.functions) {
    Row r{f.name, f.opcode ? std::to_string(f.opcode) : "", "", ""};
    switch (f.impl) {
      case Implementation::kGenerated:
        r.category = async_capable(f) ? "generated (async)" : "generated";
        r.status = r.category;
        break;
      case Implementation::kGuestHook:
        r.category = "hand-written guest";
        r.status = "hand-written guest (" + f.hook + ")";
        if (!f.server_hook.empty()) r.status += " and server (" + f.server_hook + ")";
        break;
      case Implementation::kServerHook:
        r.category = "hand-written server";
        r.status = "hand-written server (" + f.server_hook + ")";
        break;
      case Implementation::kLocal:
        r.category = "local";
        r.status = "local (" + f.hook + ")";
        break;
      case Implementation::kUnsupported:
        r.category = "unsupported";
        r.status = "unsupported: " + f.unsupported_reason;
        break;
    }
    if (f.auxiliary) {
      r.category = "remora's own";
      r.status = "remora's own call, served by " + f.server_hook;
    }
    out.push_back(std::move(r));
  }
  std::vector<UnlistedFunction> missing = api.undeclared;
  std::sort(missing.begin(), missing.end(),
            [](const UnlistedFunction& a, const UnlistedFunction& b) { return a.name < b.name; });
  for (const UnlistedFunction& u : missing) {
    if (u.refusal.empty())
      out.push_back(Row{u.name, "", "not in spec", "not in spec"});
    else
      out.push_back(Row{u.name, "", "not in spec", "not in spec: answers " + u.refusal, true});
  }
  return out;
}

const char* const kCategories[] = {"generated",   "generated (async)", "hand-written guest", "hand-written server",
                                   "local",       "unsupported",       "not in spec",       "remora's own"};

std::string totals(const std::vector<Row>& rs, const char* bullet) {
  std::map<std::string, size_t> n;
  size_t refused = 0;
  for (const Row& r : rs) {
    ++n[r.category];
    if (r.refused) ++refused;
  }
  std::string out;
  for (const char* c : kCategories) out += fmt::format("{}{}: {}\n", bullet, c, n[c]);
  size_t forwarded = n["generated"] + n["generated (async)"] + n["hand-written guest"] + n["hand-written server"] + n["local"];
  out += fmt::format("{}total: {} functions, {} implemented, {} unsupported, {} not in spec", bullet, rs.size(),
                     forwarded, n["unsupported"], n["not in spec"]);
  if (refused != 0) out += fmt::format(" ({} of them refused)", refused);  // REMORA_REFUSE_UNLISTED
  return out + "\n";
}

std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

}  // namespace

std::string emit_coverage_report(const Api& api) {
  std::vector<Row> rs = rows(api);
  std::string out = "<!-- " + generated_banner(api).substr(3) + " -->\n\n";
  out += fmt::format("# Coverage of the {} API\n\n", api.name);
  out += fmt::format("Every function declared by the vendor headers the spec includes ({}).\n\n", [&] {
    std::string h;
    for (const std::string& s : api.headers) h += (h.empty() ? "" : ", ") + std::string("`") + s + "`";
    return h;
  }());
  out += "## Totals\n\n" + totals(rs, "- ") + "\n";
  out += "## Functions\n\n| function | opcode | status |\n| --- | --- | --- |\n";
  for (const Row& r : rs) out += fmt::format("| `{}` | {} | {} |\n", r.name, r.opcode, cell(r.status));
  return out;
}

std::string coverage_summary(const Api& api) {
  std::vector<Row> rs = rows(api);
  std::string out = fmt::format("remora-gen: {} coverage\n", api.name) + totals(rs, "  ");
  // Only the refusals the spec states are listed here, with their reasons (the report has every
  // function): the build log shows what remora declines and why, not what it implements by hand.
  for (const Row& r : rs)
    if (r.category == "unsupported") out += fmt::format("  {}: {}\n", r.name, r.status);
  out += fmt::format("  (full table: {}_coverage.md in the generated folder)\n", api.name);
  return out;
}

}  // namespace remora::gen
