#include "cli/api_setup.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace remora::cli {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kBlanks = " \t\r";
constexpr const char* kVariables[] = {"guest", "icd", "dir"};
// What `remora run` sets itself (run.cpp), from its options: a declaration may not set them too.
constexpr std::string_view kRunVariables[] = {"REMORA_CONNECT",  "REMORA_TRANSPORT", "REMORA_TENANT",
                                              "REMORA_TOKEN_FILE", "REMORA_TLS_CA",  "REMORA_TLS_CERT", "REMORA_TLS_KEY"};

std::string_view trim(std::string_view s) {
  const size_t b = s.find_first_not_of(kBlanks);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kBlanks) - b + 1);
}

// The first field of `s`, which then holds the rest (trimmed).
std::string_view next_field(std::string_view* s) {
  *s = trim(*s);
  const size_t end = std::min(s->find_first_of(kBlanks), s->size());
  const std::string_view field = s->substr(0, end);
  *s = trim(s->substr(end));
  return field;
}

bool plain_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos;
}

bool env_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return c == '_' || std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

// The first ${...} in `value` that is not one of kVariables, or "".
std::string unknown_variable(std::string_view value) {
  for (size_t at = value.find("${"); at != std::string_view::npos; at = value.find("${", at + 2)) {
    const size_t end = value.find('}', at);
    if (end == std::string_view::npos) return std::string(value.substr(at));
    const std::string_view name = value.substr(at + 2, end - at - 2);
    if (std::find(std::begin(kVariables), std::end(kVariables), name) == std::end(kVariables)) {
      return std::string(value.substr(at, end - at + 1));
    }
  }
  return "";
}

}  // namespace

Status parse_api_setup(std::string_view text, const std::string& api, const std::string& origin, ApiSetup* out) {
  *out = ApiSetup{};
  out->api = api;
  out->origin = origin;
  int number = 0;
  int guest_line = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t eol = std::min(rest.find('\n'), rest.size());
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(std::min(eol + 1, rest.size()));
    ++number;
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    auto bad = [&](const std::string& why) { return Status(Code::kInvalid, origin + ":" + std::to_string(number) + ": " + why); };
    const std::string directive(next_field(&line));
    std::vector<std::string> fields;
    for (std::string_view copy = line; !copy.empty();) fields.emplace_back(next_field(&copy));
    auto file_names = [&](size_t min, size_t max) -> Status {
      if (fields.size() < min || fields.size() > max) {
        return bad(directive + " takes " + (min == max ? std::to_string(min) : std::to_string(min) + " or more") +
                   " file name(s), not " + std::to_string(fields.size()));
      }
      for (const std::string& f : fields) {
        if (!plain_file_name(f)) return bad(directive + ": \"" + f + "\" is not a plain file name (no '/')");
      }
      return Status::Ok();
    };
    if (directive == "guest") {
      if (guest_line != 0) return bad("a second guest line (the first is line " + std::to_string(guest_line) + ")");
      const bool optional = fields.size() == 2 && fields[1] == "optional";
      if (fields.size() == 2 && !optional) return bad("guest FILE [optional]: \"" + fields[1] + "\" is not `optional`");
      if (optional) fields.pop_back();
      if (Status st = file_names(1, 1); !st.ok()) return st;
      out->guest = fields[0];
      out->optional = optional;
      guest_line = number;
    } else if (directive == "icd") {
      if (Status st = file_names(1, 1); !st.ok()) return st;
      if (!out->icd.empty()) return bad("a second icd line");
      out->icd = fields[0];
    } else if (directive == "link") {
      if (Status st = file_names(1, SIZE_MAX); !st.ok()) return st;
      out->links.push_back(fields[0]);  // the aliases are for the build tree (cmake/RemoraRunConf.cmake)
    } else if (directive == "preload") {
      if (Status st = file_names(1, 1); !st.ok()) return st;
      out->preloads.push_back(fields[0]);
    } else if (directive == "env") {
      std::string_view value = line;
      const std::string name(next_field(&value));
      if (!env_name(name) || value.empty()) return bad("env takes a variable name and a value");
      if (name == "LD_LIBRARY_PATH" || name == "LD_PRELOAD") {
        return bad(name + " is set up by link and preload lines, not env");
      }
      if (std::find(std::begin(kRunVariables), std::end(kRunVariables), name) != std::end(kRunVariables)) {
        return bad(name + " is set by remora run itself, from its options");
      }
      if (std::string v = unknown_variable(value); !v.empty()) {
        return bad("env " + name + ": unknown " + v + " (known: ${guest}, ${icd}, ${dir})");
      }
      for (const auto& [k, v] : out->env) {
        if (k == name) return bad("env " + name + " is set twice");
      }
      out->env.emplace_back(name, std::string(value));
    } else {
      return bad("unknown directive \"" + directive + "\" (known: guest, icd, link, preload, env)");
    }
  }
  if (out->guest.empty()) return Status(Code::kInvalid, origin + ": no guest line (the API's guest library)");
  for (const auto& [name, value] : out->env) {
    if (value.find("${icd}") != std::string::npos && out->icd.empty()) {
      return Status(Code::kInvalid, origin + ": env " + name + " uses ${icd}, but there is no icd line");
    }
  }
  return Status::Ok();
}

Status load_api_setups(const std::string& dir, std::vector<ApiSetup>* out) {
  out->clear();
  std::error_code ec;
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".conf") files.push_back(e.path());
  }
  if (files.empty()) {
    return Status(Code::kInvalid, "no API declarations (*.conf) in " + dir + "; build remora with `make build`");
  }
  std::sort(files.begin(), files.end());
  std::map<std::string, std::string> links, vars;  // what is set up -> the declaration that does it
  for (const fs::path& f : files) {
    std::ifstream in(f);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) return Status(Code::kIo, "cannot read " + f.string());
    ApiSetup setup;
    if (Status st = parse_api_setup(text.str(), f.stem().string(), f.string(), &setup); !st.ok()) return st;
    for (const std::string& name : setup.links) {
      if (auto [it, fresh] = links.emplace(name, setup.origin); !fresh) {
        return Status(Code::kInvalid, setup.origin + ": link " + name + " is " + it->second + "'s already");
      }
    }
    for (const auto& [name, value] : setup.env) {
      if (auto [it, fresh] = vars.emplace(name, setup.origin); !fresh) {
        return Status(Code::kInvalid, setup.origin + ": env " + name + " is set by " + it->second + " already");
      }
    }
    out->push_back(std::move(setup));
  }
  return Status::Ok();
}

std::string expand_setup_value(std::string_view value, const std::string& guest, const std::string& icd,
                               const std::string& dir) {
  std::string out;
  for (size_t at = 0; at < value.size();) {
    const size_t open = value.find("${", at);
    const size_t close = open == std::string_view::npos ? open : value.find('}', open);
    if (close == std::string_view::npos) {
      out.append(value.substr(at));
      break;
    }
    out.append(value.substr(at, open - at));
    const std::string_view name = value.substr(open + 2, close - open - 2);
    out += name == "guest" ? guest : name == "icd" ? icd : name == "dir" ? dir : std::string(value.substr(open, close - open + 1));
    at = close + 1;
  }
  return out;
}

}  // namespace remora::cli
