// remora-gen: reads an annotated API spec and writes the generated remoting stack for it.
//
//   remora-gen --spec FILE --out DIR [-I DIR]... [--print-coverage] [--dump-model]
//
// Exit status: 0 on success, 1 on any error in the spec (each printed as file:line:col: error: ...)
// or when an output cannot be written.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "gen/emitters.h"
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

}  // namespace

int main(int argc, char** argv) {
  using namespace remora::gen;
  CLI::App app{"remora-gen: generates API remoting code from an annotated spec"};
  ParseOptions opts;
  std::string out_dir;
  bool print_coverage = false;
  bool dump = false;
  app.add_option("--spec", opts.spec_path, "the annotated spec (a C file)")->required();
  app.add_option("--out", out_dir, "folder for the generated files");
  app.add_option("-I", opts.include_dirs, "include folder for the spec (repeatable)");
  app.add_option("--resource-dir", opts.resource_dir, "clang resource folder (default: the one found at build time)");
  app.add_flag("--print-coverage", print_coverage, "print the coverage summary to stdout");
  app.add_flag("--dump-model", dump, "print the parsed model to stdout and write nothing");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every usage error exits 1 like any other failure.
    return app.exit(e) == 0 ? 0 : 1;
  }
  if (!dump && out_dir.empty()) {
    std::cerr << "remora-gen: --out is required (unless --dump-model)\n";
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

  try {
    std::string error;
    if (!write_outputs(out_dir, render_outputs(api), &error)) {
      std::cerr << "remora-gen: " << error << "\n";
      return 1;
    }
    if (print_coverage) std::cout << coverage_summary(api);
  } catch (const std::exception& e) {
    // An emitter refusing the model is a generator bug or an unsupported construct: say so and fail.
    std::cerr << "remora-gen: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
