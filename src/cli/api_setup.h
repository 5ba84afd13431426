// What `remora run` sets up for a program, declared by each API (apis/<api>/run.conf) instead of
// named here: the CLI knows no API. CMake copies every built API's declaration to
// build/lib/remora-run/<api>.conf (cmake/RemoraRunConf.cmake, which also reads it to make the
// build tree's links); `remora run` reads them all from there, in name order.
//
// The format: one directive a line, fields separated by blanks; `#` starts a comment. File names
// are plain names (no `/`), of files in build/lib beside remora-run/.
//
//   guest FILE [optional]   the API's guest library. Exactly one. Without `optional`, `remora run`
//                           fails when FILE is missing; with it, the API is left out of the run
//                           (nothing below is set up for it).
//   icd NAME                write NAME in the run's private directory, holding the guest library's
//                           path (an ICD loader's vendor file); ${icd} below is its path.
//   link NAME [ALIAS...]    link NAME in the private directory to the guest library, and put that
//                           directory first on LD_LIBRARY_PATH, so the program's loading of NAME
//                           (linked or dlopen'ed) finds remora's guest library. CMake also makes
//                           build/lib/<api>/NAME -> ../FILE and each ALIAS -> NAME there, for linking
//                           programs with -l (`link libcuda.so.1 libcuda.so`: -lcuda).
//   preload FILE            put FILE (when it exists) first on the program's LD_PRELOAD.
//   env NAME VALUE...       set NAME to VALUE (the rest of the line) in the program's environment,
//                           replacing any value it had. ${guest} (the guest library's path), ${icd}
//                           and ${dir} (the private directory) are expanded. Not LD_LIBRARY_PATH
//                           or LD_PRELOAD (link's and preload's), nor what `remora run` sets from
//                           its options (REMORA_CONNECT, ...); and two APIs may not set one name.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace remora::cli {

struct ApiSetup {
  std::string api;     // the declaration's name: "opencl" for opencl.conf
  std::string origin;  // the file, for messages
  std::string guest;
  bool optional = false;
  std::string icd;                                       // empty: none
  std::vector<std::string> links;                        // the NAMEs (aliases are the build tree's only)
  std::vector<std::string> preloads;
  std::vector<std::pair<std::string, std::string>> env;  // NAME, VALUE as written
};

// One declaration. Errors name `origin` and the line ("opencl.conf:3: ...").
Status parse_api_setup(std::string_view text, const std::string& api, const std::string& origin, ApiSetup* out);

// Every DIR/*.conf, in name order. An empty or missing DIR is an error (nothing to run with), as are
// two declarations that link the same name or set the same variable.
Status load_api_setups(const std::string& dir, std::vector<ApiSetup>* out);

// VALUE with ${guest}, ${icd} and ${dir} replaced (parse_api_setup refuses any other ${...}).
std::string expand_setup_value(std::string_view value, const std::string& guest, const std::string& icd,
                               const std::string& dir);

}  // namespace remora::cli
