// remora_gen_emit_fixture <out dir>: writes every file the back ends produce for the fake API, so the
// build can compile them (src/gen/CMakeLists.txt). Rewrites a file only when its content changed.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "fake_api_model.h"
#include "gen/emitters.h"

namespace {

bool write_if_changed(const std::filesystem::path& path, const std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::stringstream old;
    old << in.rdbuf();
    if (old.str() == text) return true;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: remora_gen_emit_fixture <out dir>\n");
    return 2;
  }
  using namespace remora::gen;
  const Api api = testing::fake_api_model();
  std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  const std::pair<const char*, std::string> files[] = {
      {"fake_protocol.h", emit_protocol_header(api)}, {"fake_guest.h", emit_guest_header(api)},
      {"fake_guest.cpp", emit_guest_source(api)},     {"fake_server.h", emit_server_header(api)},
      {"fake_server.cpp", emit_server_source(api)},   {"fake_dummy.cpp", emit_dummy_source(api)},
      {"fake_coverage.md", emit_coverage_report(api)}};
  for (const auto& [name, text] : files) {
    if (!write_if_changed(dir / name, text)) {
      std::fprintf(stderr, "remora_gen_emit_fixture: cannot write %s\n", (dir / name).c_str());
      return 1;
    }
  }
  return 0;
}
