// The committed opcode table's checks (opcode_table.h): each way a spec could break guests built before
// it is refused with a message that says what to do, at the place to do it.
#include "gen/opcode_table.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace remora::gen {
namespace {

Function fn(const std::string& name, uint32_t opcode, unsigned line) {
  Function f;
  f.name = name;
  f.opcode = opcode;
  f.return_type = "int";
  f.loc = SourceLoc{"t.spec.c", line, 1};
  Param p;
  p.name = "x";
  p.c_type = "int";
  f.params.push_back(p);
  return f;
}

class OpcodeTableTest : public ::testing::Test {
 protected:
  OpcodeTableTest() {
    api_.name = "t";
    api_.spec_path = "t.spec.c";
    api_.functions = {fn("one", 1, 10), fn("two", 2, 20)};
  }
  std::string line_of(const Function& f) const { return fmt::format("{} {} {:#018x}\n", f.opcode, f.name, api_.signature(f)); }
  std::string table() const { return "# header\n" + line_of(api_.functions[0]) + line_of(api_.functions[1]); }

  std::vector<Diagnostic> check(const std::string& text) {
    std::vector<OpcodeEntry> entries;
    std::vector<Diagnostic> diags;
    EXPECT_TRUE(parse_opcode_table("t.opcodes", text, &entries, &diags));
    check_opcode_table(api_, "t.opcodes", entries, &diags);
    return diags;
  }

  Api api_;
};

TEST_F(OpcodeTableTest, AMatchingTablePasses) { EXPECT_TRUE(check(table()).empty()); }

TEST_F(OpcodeTableTest, ANewOpcodeMustBeAppended) {
  api_.functions.push_back(fn("three", 3, 30));
  const auto d = check(table());
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].loc.str(), "t.spec.c:30:1");
  EXPECT_NE(d[0].message.find("append `" + line_of(api_.functions[2]).substr(0, line_of(api_.functions[2]).size() - 1) + "`"),
            std::string::npos)
      << d[0].message;
}

TEST_F(OpcodeTableTest, AChangedSignatureIsRefused) {
  const std::string text = table();
  api_.functions[1].params[0].c_type = "long";
  const auto d = check(text);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].loc.str(), "t.spec.c:20:1");
  EXPECT_NE(d[0].message.find("opcode 2 (two) changed its wire signature"), std::string::npos) << d[0].message;
  EXPECT_NE(d[0].message.find("t.opcodes:3"), std::string::npos) << d[0].message;
}

TEST_F(OpcodeTableTest, AReusedNumberIsRefused) {
  const std::string text = table();
  api_.functions[1].name = "other";
  const auto d = check(text);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].message.find("opcode 2 belongs to two (t.opcodes:3)"), std::string::npos) << d[0].message;
}

TEST_F(OpcodeTableTest, ARetiredNumberStaysRetired) {
  const auto d = check("1 one retired\n" + line_of(api_.functions[1]));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].loc.str(), "t.spec.c:10:1");
  EXPECT_NE(d[0].message.find("opcode 1 was retired (t.opcodes:1"), std::string::npos) << d[0].message;
}

TEST_F(OpcodeTableTest, ADroppedOpcodeMustBeRetired) {
  const std::string text = table();
  api_.functions.pop_back();
  const auto d = check(text);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].loc.str(), "t.opcodes:3:1");
  EXPECT_NE(d[0].message.find("mark it `retired`"), std::string::npos) << d[0].message;
  EXPECT_TRUE(check("# header\n" + line_of(api_.functions[0]) + "2 two retired\n").empty());
}

TEST_F(OpcodeTableTest, MalformedTablesAreRefusedByLine) {
  std::vector<OpcodeEntry> entries;
  std::vector<Diagnostic> d;
  EXPECT_FALSE(parse_opcode_table("t.opcodes", "1 one 0x0000000000000001\n1 again retired\n", &entries, &d));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].str(), "t.opcodes:2:1: error: opcode 1 is listed twice (first at line 1)");
  d.clear();
  EXPECT_FALSE(parse_opcode_table("t.opcodes", "\n# c\nx one 0x1\n2 two 0x12\n", &entries, &d));
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].loc.line, 3u);
  EXPECT_EQ(d[1].loc.line, 4u);
  EXPECT_NE(d[1].message.find("16 hex digits"), std::string::npos);
}

TEST_F(OpcodeTableTest, UpdateAppendsAndRetiresButNeverRewrites) {
  const std::string text = table();
  Api next = api_;
  next.functions.erase(next.functions.begin());   // `one` dropped
  next.functions.push_back(fn("three", 3, 30));   // `three` added
  std::string updated;
  std::vector<Diagnostic> d;
  ASSERT_TRUE(update_opcode_table(next, "t.opcodes", text, &updated, &d)) << (d.empty() ? "" : d[0].str());
  EXPECT_EQ(updated, "# header\n1 one retired\n" + line_of(api_.functions[1]) +
                         fmt::format("3 three {:#018x}\n", next.signature(next.functions[1])));
  // A changed signature is the spec's to fix: no update.
  next = api_;
  next.functions[0].async = true;
  d.clear();
  EXPECT_FALSE(update_opcode_table(next, "t.opcodes", text, &updated, &d));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].message.find("changed its wire signature"), std::string::npos);
  // A table that does not exist yet starts with the header.
  d.clear();
  ASSERT_TRUE(update_opcode_table(api_, "t.opcodes", "", &updated, &d));
  EXPECT_EQ(updated, opcode_table_header(api_) + line_of(api_.functions[0]) + line_of(api_.functions[1]));
}

}  // namespace
}  // namespace remora::gen
