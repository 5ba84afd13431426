// Writing remora-gen's outputs: each file is replaced only when its content changed, so that an
// unchanged spec does not make the build recompile what depends on the generated files. main.cpp runs
// the emitters; this file only writes, so it is tested without them.
#pragma once

#include <string>
#include <vector>

namespace remora::gen {

struct OutputFile {
  std::string name;  // file name inside the output folder, e.g. "opencl_guest.cpp"
  std::string content;
};

// Writes `content` to `path` unless the file already holds exactly that. Writes a temporary file beside
// it and renames it over the target, so a reader never sees a half-written file. Sets *changed to
// whether the file was (re)written. On failure returns false with a message in *error.
bool write_if_changed(const std::string& path, const std::string& content, bool* changed, std::string* error);

// Creates `dir` if needed and writes every file with write_if_changed.
bool write_outputs(const std::string& dir, const std::vector<OutputFile>& files, std::string* error);

}  // namespace remora::gen
