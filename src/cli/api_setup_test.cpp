#include "cli/api_setup.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace remora::cli {
namespace {

TEST(ApiSetup, ParsesEveryDirective) {
  ApiSetup s;
  const Status st = parse_api_setup(R"(# a comment
guest libremora-x.so optional   # trailing comment
icd remora.icd
link libx.so.1 libx.so
link liby.so.2
preload libremora-x-preload.so
env X_VENDORS ${icd}
env X_NAMES  ${guest}:${dir}/more  words
)",
                                    "x", "x.conf", &s);
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_EQ(s.api, "x");
  EXPECT_EQ(s.guest, "libremora-x.so");
  EXPECT_TRUE(s.optional);
  EXPECT_EQ(s.icd, "remora.icd");
  EXPECT_EQ(s.links, (std::vector<std::string>{"libx.so.1", "liby.so.2"}));
  EXPECT_EQ(s.preloads, (std::vector<std::string>{"libremora-x-preload.so"}));
  ASSERT_EQ(s.env.size(), 2u);
  EXPECT_EQ(s.env[0], (std::pair<std::string, std::string>{"X_VENDORS", "${icd}"}));
  EXPECT_EQ(s.env[1].second, "${guest}:${dir}/more  words");
  EXPECT_EQ(expand_setup_value(s.env[1].second, "/lib/g.so", "/d/remora.icd", "/d"), "/lib/g.so:/d/more  words");
  EXPECT_EQ(expand_setup_value("${icd}", "g", "/d/remora.icd", "/d"), "/d/remora.icd");
}

TEST(ApiSetup, RefusesWhatItCannotSetUpNamingTheLine) {
  ApiSetup s;
  auto error = [&](const std::string& text) { return parse_api_setup(text, "x", "x.conf", &s).message(); };
  EXPECT_EQ(error("guest a.so\nlinks b.so\n"),
            "x.conf:2: unknown directive \"links\" (known: guest, icd, link, preload, env)");
  EXPECT_EQ(error("link b.so\n"), "x.conf: no guest line (the API's guest library)");
  EXPECT_EQ(error("guest a.so\nguest b.so\n"), "x.conf:2: a second guest line (the first is line 1)");
  EXPECT_EQ(error("guest a.so maybe\n"), "x.conf:1: guest FILE [optional]: \"maybe\" is not `optional`");
  EXPECT_EQ(error("guest ../a.so\n"), "x.conf:1: guest: \"../a.so\" is not a plain file name (no '/')");
  EXPECT_EQ(error("guest a.so\nlink\n"), "x.conf:2: link takes 1 or more file name(s), not 0");
  EXPECT_EQ(error("guest a.so\nenv LD_PRELOAD x\n"), "x.conf:2: LD_PRELOAD is set up by link and preload lines, not env");
  EXPECT_EQ(error("guest a.so\nenv REMORA_CONNECT x\n"), "x.conf:2: REMORA_CONNECT is set by remora run itself, from its options");
  EXPECT_EQ(error("guest a.so\nenv A ${home}\n"), "x.conf:2: env A: unknown ${home} (known: ${guest}, ${icd}, ${dir})");
  EXPECT_EQ(error("guest a.so\nenv A\n"), "x.conf:2: env takes a variable name and a value");
  EXPECT_EQ(error("guest a.so\nenv A 1\nenv A 2\n"), "x.conf:3: env A is set twice");
  EXPECT_EQ(error("guest a.so\nenv A ${icd}\n"), "x.conf: env A uses ${icd}, but there is no icd line");
}

// The declarations the build installs are the ones this parser accepts (the CMake side reads them too).
TEST(ApiSetup, TheRepositorysDeclarationsParse) {
  for (const char* api : {"opencl", "cuda"}) {
    const std::string path = std::string(REMORA_SOURCE_DIR "/apis/") + api + "/run.conf";
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ApiSetup s;
    const Status st = parse_api_setup(text, api, path, &s);
    EXPECT_TRUE(st.ok()) << st.str();
  }
}

TEST(ApiSetup, LoadsADirectoryInNameOrderAndRefusesClashes) {
  char templ[] = "/tmp/remora-api-setup-test-XXXXXX";
  ASSERT_NE(::mkdtemp(templ), nullptr);
  const std::string dir = templ;
  std::vector<ApiSetup> setups;
  EXPECT_NE(load_api_setups(dir, &setups).message().find("no API declarations"), std::string::npos);
  std::ofstream(dir + "/b.conf") << "guest libb.so\nlink libx.so.1\nenv B 1\n";
  std::ofstream(dir + "/a.conf") << "guest liba.so\nenv A 1\n";
  std::ofstream(dir + "/README") << "not a declaration\n";
  Status st = load_api_setups(dir, &setups);
  ASSERT_TRUE(st.ok()) << st.str();
  ASSERT_EQ(setups.size(), 2u);
  EXPECT_EQ(setups[0].api, "a");
  EXPECT_EQ(setups[1].api, "b");
  std::ofstream(dir + "/c.conf") << "guest libc.so\nlink libx.so.1\n";
  st = load_api_setups(dir, &setups);
  EXPECT_NE(st.message().find("c.conf: link libx.so.1 is " + dir + "/b.conf's already"), std::string::npos) << st.str();
  std::ofstream(dir + "/c.conf") << "guest libc.so\nenv A 2\n";
  st = load_api_setups(dir, &setups);
  EXPECT_NE(st.message().find("c.conf: env A is set by " + dir + "/a.conf already"), std::string::npos) << st.str();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace remora::cli
