// remora-gen: reads an annotated API spec and writes the generated remoting stack for it.
//
//   remora-gen --spec FILE --out DIR [-I DIR]... [--print-coverage] [--depfile FILE]
//   remora-gen --spec FILE --check-opcodes TABLE [-I DIR]...    (writes nothing)
//   remora-gen --spec FILE --update-opcodes TABLE [-I DIR]...   (appends new opcodes to TABLE)
//   remora-gen --spec FILE --dump-model [-I DIR]...
//
// Exit status: 0 on success, 1 on any error in the spec (each printed as file:line:col: error: ...)
// or when an output cannot be written.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "gen/emitters.h"
#include "gen/opcode_table.h"
#include "gen/output.h"
#include "gen/spec_parser.h"

namespace {

// Every back end of emitters.h, and the file each writes.
std::vector<remora::gen::OutputFile> render_outputs(const remora::gen::Api& api) {
  using namespace remora::gen;
  const std::string& n = api.name;
  return {
      {n + "_protocol.h", emit_protocol_header(api)}, {n + "_guest.h", emit_guest_header(api)},
      {n + "_guest.cpp", emit_guest_source(api)},     {n + "_server.h", emit_server_header(api)},
      {n + "_server.cpp", emit_server_source(api)},   {n + "_dummy.cpp", emit_dummy_source(api)},
      {n + "_coverage.md", emit_coverage_report(api)},
  };
}

// A Makefile-syntax dependency file (what Ninja's depfile reads): every generated file depends on
// every file the spec read. Spaces in paths are escaped.
std::string depfile_text(const std::vector<std::string>& targets, const std::vector<std::string>& inputs) {
  auto escape = [](const std::string& p) {
    std::string out;
    for (char c : p) {
      if (c == ' ' || c == '#') out += '\\';
      if (c == '$') out += '$';
      out += c;
    }
    return out;
  };
  std::string text;
  for (size_t i = 0; i < targets.size(); ++i) text += (i ? " " : "") + escape(targets[i]);
  text += ":";
  for (const std::string& in : inputs) text += " \\\n  " + escape(in);
  return text + "\n";
}

bool read_whole(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *text = s.str();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace remora::gen;
  CLI::App app{"remora-gen: generates API remoting code from an annotated spec"};
  ParseOptions opts;
  std::string out_dir;
  bool print_coverage = false;
  bool dump = false;
  std::string depfile, check_opcodes, update_opcodes;
  app.add_option("--spec", opts.spec_path, "the annotated spec (a C file)")->required();
  app.add_option("--out", out_dir, "folder for the generated files");
  app.add_option("-I", opts.include_dirs, "include folder for the spec (repeatable)");
  app.add_option("--resource-dir", opts.resource_dir, "clang resource folder (default: the one found at build time)");
  app.add_flag("--print-coverage", print_coverage, "print the coverage summary to stdout");
  app.add_flag("--dump-model", dump, "print the parsed model to stdout and write nothing");
  app.add_option("--depfile", depfile, "also write a dependency file (every file the spec read) for the build");
  app.add_option("--check-opcodes", check_opcodes,
                 "check the spec's opcodes against this committed table and write nothing");
  app.add_option("--update-opcodes", update_opcodes,
                 "append the spec's new opcodes to this table (and retire dropped ones), write nothing else");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every usage error exits 1 like any other failure.
    return app.exit(e) == 0 ? 0 : 1;
  }
  const bool table_only = !check_opcodes.empty() || !update_opcodes.empty();
  if (!dump && !table_only && out_dir.empty()) {
    std::cerr << "remora-gen: --out is required (unless --dump-model, --check-opcodes or --update-opcodes)\n";
    return 1;
  }

  Api api;
  std::vector<Diagnostic> diags;
  bool ok = parse_spec(opts, &api, &diags);
  for (const Diagnostic& d : diags) std::cerr << d.str() << "\n";
  if (!ok) {
    std::cerr << "remora-gen: " << diags.size() << " error(s) in " << opts.spec_path << "\n";
    return 1;
  }
  if (dump) {
    std::cout << dump_model(api);
    return 0;
  }
  if (!check_opcodes.empty()) {
    std::string text;
    if (!read_whole(check_opcodes, &text)) {
      std::cerr << check_opcodes << ":0:0: error: cannot read the opcode table (create it with --update-opcodes)\n";
      return 1;
    }
    std::vector<OpcodeEntry> table;
    std::vector<Diagnostic> problems;
    const bool ok = parse_opcode_table(check_opcodes, text, &table, &problems) &&
                    check_opcode_table(api, check_opcodes, table, &problems);
    for (const Diagnostic& d : problems) std::cerr << d.str() << "\n";
    if (!ok) return 1;
    std::cout << "remora-gen: " << table.size() << " opcodes of " << api.name << " match " << check_opcodes << "\n";
    return 0;
  }
  if (!update_opcodes.empty()) {
    std::string text, updated;
    read_whole(update_opcodes, &text);  // a missing table starts empty
    std::vector<Diagnostic> problems;
    const bool ok = update_opcode_table(api, update_opcodes, text, &updated, &problems);
    for (const Diagnostic& d : problems) std::cerr << d.str() << "\n";
    if (!ok) return 1;
    std::string error;
    bool changed = false;
    if (!write_if_changed(update_opcodes, updated, &changed, &error)) {
      std::cerr << "remora-gen: " << error << "\n";
      return 1;
    }
    std::cout << "remora-gen: " << update_opcodes << (changed ? " updated\n" : " already up to date\n");
    return 0;
  }

  try {
    std::string error;
    const std::vector<OutputFile> outputs = render_outputs(api);
    if (!write_outputs(out_dir, outputs, &error)) {
      std::cerr << "remora-gen: " << error << "\n";
      return 1;
    }
    if (!depfile.empty()) {
      std::vector<std::string> targets;
      for (const OutputFile& f : outputs) targets.push_back(out_dir + "/" + f.name);
      bool changed = false;
      if (!write_if_changed(depfile, depfile_text(targets, api.inputs), &changed, &error)) {
        std::cerr << "remora-gen: " << error << "\n";
        return 1;
      }
    }
    if (print_coverage) std::cout << coverage_summary(api);
  } catch (const std::exception& e) {
    // An emitter refusing the model is a generator bug or an unsupported construct: say so and fail.
    std::cerr << "remora-gen: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
