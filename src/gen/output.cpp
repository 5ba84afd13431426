#include "gen/output.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>


namespace remora::gen {

bool write_if_changed(const std::string& path, const std::string& content, bool* changed, std::string* error) {
  *changed = false;
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream old;
      old << in.rdbuf();
      if (old.str() == content) return true;
    }
  }
  // The pid keeps two concurrent generator runs (parallel builds) from sharing a temporary file.
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) {
      *error = "cannot write " + tmp + ": " + std::strerror(errno);
      std::filesystem::remove(tmp);
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    *error = "cannot rename " + tmp + " to " + path + ": " + ec.message();
    std::filesystem::remove(tmp);
    return false;
  }
  *changed = true;
  return true;
}

bool write_outputs(const std::string& dir, const std::vector<OutputFile>& files, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    *error = "cannot create " + dir + ": " + ec.message();
    return false;
  }
  for (const OutputFile& f : files) {
    bool changed = false;
    if (!write_if_changed((std::filesystem::path(dir) / f.name).string(), f.content, &changed, error)) return false;
  }
  return true;
}

}  // namespace remora::gen
