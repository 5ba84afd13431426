// Tests of remora-gen's front end: the model of tests/gen/mini/mini.spec.c (pinned by a golden dump),
// the negative specs in tests/gen/bad/ (each pins its error to a file:line:col), opcode signatures, and the
// change-only output writer.
//
// To regenerate the golden file after an intended model change:
//   REMORA_UPDATE_GOLDEN=1 ./build/bin/remora_gen_tests --gtest_filter='SpecParser.MiniGolden'
// then review the diff of tests/gen/golden/mini.model.txt like code.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "gen/emitters.h"
#include "gen/output.h"
#include "gen/spec_parser.h"

namespace remora::gen {
namespace {

namespace fs = std::filesystem;

const std::string kData = REMORA_GEN_TESTDATA;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

ParseOptions options_for(const std::string& spec) {
  ParseOptions o;
  o.spec_path = spec;
  o.include_dirs = {std::string(REMORA_SOURCE_DIR) + "/include", kData};
  return o;
}

std::string joined(const std::vector<Diagnostic>& diags) {
  std::string s;
  for (const auto& d : diags) s += d.str() + "\n";
  return s;
}

class MiniSpec : public ::testing::Test {
 protected:
  void SetUp() override {
    ok_ = parse_spec(options_for(kData + "/mini/mini.spec.c"), &api_, &diags_);
    ASSERT_TRUE(ok_) << joined(diags_);
  }
  const Function& fn(const std::string& name) {
    for (const auto& f : api_.functions)
      if (f.name == name) return f;
    ADD_FAILURE() << "no function " << name;
    static const Function none;
    return none;
  }
  const Param& param(const std::string& f, const std::string& p) {
    for (const auto& q : fn(f).params)
      if (q.name == p) return q;
    ADD_FAILURE() << "no parameter " << f << "." << p;
    static const Param none;
    return none;
  }
  bool ok_ = false;
  Api api_;
  std::vector<Diagnostic> diags_;
};

TEST_F(MiniSpec, MiniGolden) {
  const fs::path golden = kData + "/golden/mini.model.txt";
  std::string dump = dump_model(api_);
  if (const char* u = std::getenv("REMORA_UPDATE_GOLDEN"); u && *u == '1') {
    std::ofstream(golden, std::ios::binary) << dump;
    GTEST_SKIP() << "rewrote " << golden;
  }
  ASSERT_TRUE(fs::exists(golden)) << golden << " missing: run with REMORA_UPDATE_GOLDEN=1";
  EXPECT_EQ(read_file(golden), dump) << "model changed: review, then regenerate with REMORA_UPDATE_GOLDEN=1";
}

TEST_F(MiniSpec, ApiHandlesHeaders) {
  EXPECT_EQ(api_.name, "mini");
  EXPECT_EQ(api_.errors.type, "mini_status");
  EXPECT_EQ(api_.errors.success, "MINI_SUCCESS");
  EXPECT_EQ(api_.errors.quota, "MINI_OUT_OF_RESOURCES");
  ASSERT_EQ(api_.headers, (std::vector<std::string>{"mini/mini.h", "mini/mini_ext.h"}));
  ASSERT_EQ(api_.handle_types.size(), 6u);
  EXPECT_EQ(api_.handle_types[0].name, "mini_device");
  EXPECT_EQ(api_.handle_types[0].index, 1u);
  EXPECT_EQ(api_.handle_types[5].name, "mini_program");
  EXPECT_EQ(api_.handle_types[5].index, 6u);
  EXPECT_EQ(api_.find_handle("mini_context")->invalid_error, "MINI_INVALID_CONTEXT");
  EXPECT_EQ(api_.find_handle("mini_context")->retain_fn, "mini_retain_context");
  EXPECT_EQ(api_.find_handle("mini_context")->release_fn, "mini_release_context");
  EXPECT_EQ(api_.find_handle("mini_event")->release_fn, "mini_release_event");
  std::vector<std::string> undeclared;
  for (const UnlistedFunction& u : api_.undeclared) undeclared.push_back(u.name);
  EXPECT_EQ(undeclared, (std::vector<std::string>{"mini_not_in_spec", "mini_set_handler_not_in_spec",
                                                  "mini_count_not_in_spec", "mini_print_not_in_spec",
                                                  "mini_inline_not_in_spec", "mini_ext_not_in_spec"}));
  EXPECT_TRUE(fn("mini_ext_set_level").extension);
  EXPECT_FALSE(fn("mini_get_devices").extension);
}

TEST_F(MiniSpec, RefusalsOfUnlistedFunctions) {
  ASSERT_EQ(api_.refusals.size(), 2u);
  EXPECT_EQ(api_.refusals[0].type, "mini_status");
  EXPECT_EQ(api_.refusals[0].value, "MINI_INVALID_OPERATION");  // as written, not the macro's expansion
  EXPECT_EQ(api_.refusals[1].type, "mini_flags");  // no function returns it: allowed
  std::map<std::string, const UnlistedFunction*> by_name;
  for (const UnlistedFunction& u : api_.undeclared) by_name[u.name] = &u;
  ASSERT_EQ(by_name.size(), 6u);
  const UnlistedFunction& handler = *by_name["mini_set_handler_not_in_spec"];
  EXPECT_EQ(handler.return_type, "mini_status");
  EXPECT_EQ(handler.param_types, (std::vector<std::string>{"void (*)(mini_event, void *)", "void *"}));
  EXPECT_EQ(handler.refusal, "MINI_INVALID_OPERATION");
  EXPECT_EQ(by_name["mini_not_in_spec"]->refusal, "MINI_INVALID_OPERATION");
  EXPECT_EQ(by_name["mini_ext_not_in_spec"]->refusal, "MINI_INVALID_OPERATION");
  // Another return type, a variadic function, and one the header defines: not refused.
  EXPECT_EQ(by_name["mini_count_not_in_spec"]->return_type, "mini_uint");
  EXPECT_EQ(by_name["mini_count_not_in_spec"]->refusal, "");
  EXPECT_EQ(by_name["mini_print_not_in_spec"]->refusal, "");
  EXPECT_EQ(by_name["mini_inline_not_in_spec"]->refusal, "");
}

TEST_F(MiniSpec, ParameterKinds) {
  EXPECT_EQ(param("mini_get_devices", "num_entries").kind, ParamKind::kScalar);
  EXPECT_EQ(param("mini_get_devices", "num_entries").scalar_size, 4u);
  const Param& devices = param("mini_get_devices", "devices");
  EXPECT_EQ(devices.kind, ParamKind::kHandleArray);
  EXPECT_EQ(devices.dir, Direction::kOut);
  EXPECT_TRUE(devices.existing);
  EXPECT_EQ(devices.count_expr, "num_entries");
  // A pointer to one scalar with no annotation: one element out.
  const Param& num = param("mini_get_devices", "num_devices");
  EXPECT_EQ(num.kind, ParamKind::kBuffer);
  EXPECT_EQ(num.dir, Direction::kOut);
  EXPECT_EQ(num.elem_type, "mini_uint");
  EXPECT_TRUE(num.count_expr.empty() && num.bytes_expr.empty());

  const Param& value = param("mini_get_device_info", "param_value");
  EXPECT_EQ(value.kind, ParamKind::kBuffer);
  EXPECT_EQ(value.elem_type, "void");
  EXPECT_EQ(value.bytes_expr, "param_value_size");
  EXPECT_EQ(value.length_ret, "param_value_size_ret");
  ASSERT_EQ(value.handles_when.size(), 1u);
  EXPECT_EQ(value.handles_when[0].value, "MINI_DEVICE_PARENT");
  EXPECT_EQ(fn("mini_get_device_info").cache_unless, "param_name == MINI_DEVICE_PARENT");

  const Function& create = fn("mini_create_context");
  EXPECT_EQ(create.returns, Function::Returns::kHandle);
  EXPECT_EQ(create.return_handle_type, "mini_context");
  EXPECT_EQ(create.errcode_param, "errcode_ret");
  EXPECT_EQ(param("mini_create_context", "properties").kind, ParamKind::kProperties);
  ASSERT_EQ(param("mini_create_context", "properties").property_handles.size(), 1u);
  EXPECT_TRUE(param("mini_create_context", "devices").nonnull);
  const Param& notify = param("mini_create_context", "pfn_notify");
  ASSERT_EQ(notify.kind, ParamKind::kCallback);
  ASSERT_TRUE(notify.callback.has_value());
  EXPECT_FALSE(notify.callback->once);
  EXPECT_EQ(notify.callback->user_data_param, "user_data");
  ASSERT_EQ(notify.callback->args.size(), 4u);
  EXPECT_EQ(notify.callback->args[0].kind, CallbackArg::Kind::kString);
  EXPECT_EQ(notify.callback->args[1].kind, CallbackArg::Kind::kBytes);
  EXPECT_EQ(notify.callback->args[1].bytes_size_arg, "cb");
  EXPECT_EQ(notify.callback->args[2].kind, CallbackArg::Kind::kScalar);
  EXPECT_EQ(notify.callback->args[3].kind, CallbackArg::Kind::kUserData);
  EXPECT_EQ(param("mini_create_context", "user_data").kind, ParamKind::kUserData);
  EXPECT_TRUE(param("mini_create_context", "user_data").consumed);
  EXPECT_EQ(param("mini_create_context", "errcode_ret").kind, ParamKind::kErrcode);

  const Param& build_cb = param("mini_build_program", "pfn_notify");
  ASSERT_TRUE(build_cb.callback.has_value());
  EXPECT_EQ(build_cb.callback->args[0].kind, CallbackArg::Kind::kHandle);
  EXPECT_EQ(build_cb.callback->args[0].handle_type, "mini_program");
  EXPECT_EQ(param("mini_build_program", "options").kind, ParamKind::kString);

  EXPECT_EQ(param("mini_create_image", "format").kind, ParamKind::kScalar);
  EXPECT_EQ(param("mini_create_image", "format").scalar_size, 8u);
  ASSERT_EQ(param("mini_create_image", "desc").struct_handles.size(), 1u);
  EXPECT_EQ(param("mini_create_image", "desc").struct_handles[0].handle_type, "mini_buffer");
  EXPECT_EQ(param("mini_create_buffer", "host_ptr").dir, Direction::kIn);
  ASSERT_TRUE(fn("mini_create_buffer").resource.has_value());
  EXPECT_EQ(fn("mini_create_buffer").resource->bytes_expr, "size");

  const Param& strings = param("mini_create_program_with_source", "strings");
  EXPECT_EQ(strings.kind, ParamKind::kStrings);
  EXPECT_EQ(strings.count_param, "count");
  EXPECT_EQ(strings.lengths_param, "lengths");
  EXPECT_TRUE(param("mini_create_program_with_source", "lengths").consumed);
  EXPECT_EQ(param("mini_create_program_with_binary", "binaries").kind, ParamKind::kBinaries);
  EXPECT_TRUE(param("mini_create_program_with_binary", "lengths").consumed);

  const Function& write = fn("mini_enqueue_write");
  EXPECT_TRUE(write.async);
  EXPECT_EQ(param("mini_enqueue_write", "event").kind, ParamKind::kHandleArray);
  EXPECT_EQ(param("mini_enqueue_write", "event").dir, Direction::kOut);
  EXPECT_EQ(param("mini_enqueue_write", "event_wait_list").dir, Direction::kIn);
  EXPECT_EQ(param("mini_enqueue_write", "ptr").dir, Direction::kIn);
  EXPECT_EQ(fn("mini_enqueue_read").blocking_if, "blocking_read");
  EXPECT_EQ(param("mini_enqueue_read", "ptr").deferred_event, "event");
  EXPECT_TRUE(fn("mini_finish").blocking);

  EXPECT_EQ(fn("mini_svm_alloc").impl, Implementation::kUnsupported);
  EXPECT_EQ(fn("mini_svm_alloc").opcode, 0u);
  EXPECT_EQ(fn("mini_get_extension_address").impl, Implementation::kLocal);
  EXPECT_EQ(fn("mini_get_extension_address").returns, Function::Returns::kPointer);
  EXPECT_EQ(fn("mini_get_version").impl, Implementation::kServerHook);
  EXPECT_EQ(fn("mini_get_version").returns, Function::Returns::kScalar);
  EXPECT_EQ(fn("mini_log").impl, Implementation::kGuestHook);
  EXPECT_EQ(fn("mini_log").returns, Function::Returns::kVoid);
}

// One function's signature changes with what changes its calls on the wire, and only with that.
TEST_F(MiniSpec, SignaturesAreStableAndSensitive) {
  Api again;
  std::vector<Diagnostic> d;
  ASSERT_TRUE(parse_spec(options_for(kData + "/mini/mini.spec.c"), &again, &d));
  ASSERT_EQ(again.functions.size(), api_.functions.size());
  for (size_t i = 0; i < api_.functions.size(); ++i)
    EXPECT_EQ(api_.signature(api_.functions[i]), again.signature(again.functions[i])) << api_.functions[i].name;

  // Every forwarded function has one, and no two are alike (names are part of it).
  std::set<uint64_t> seen;
  for (const Function& f : api_.functions) {
    if (f.opcode == 0) {
      EXPECT_EQ(api_.signature(f), 0u) << f.name;
      continue;
    }
    EXPECT_NE(api_.signature(f), 0u) << f.name;
    EXPECT_TRUE(seen.insert(api_.signature(f)).second) << f.name;
  }

  const Function& base = api_.functions[1];
  ASSERT_GE(base.params.size(), 3u);
  const uint64_t sig = api_.signature(base);
  auto changed = [&](auto edit) {
    Api a = api_;
    edit(a.functions[1]);
    return a.signature(a.functions[1]);
  };
  EXPECT_NE(changed([](Function& f) { f.params[2].dir = Direction::kInOut; }), sig);
  EXPECT_NE(changed([](Function& f) { f.params[2].c_type += " *"; }), sig);
  EXPECT_NE(changed([](Function& f) { f.async = !f.async; }), sig);
  EXPECT_NE(changed([](Function& f) { f.name += "_v2"; }), sig);
  EXPECT_NE(changed([](Function& f) { f.params.pop_back(); }), sig);
  // The opcode is where the signature sits, not part of it; hooks and blocking stay on one side.
  EXPECT_EQ(changed([](Function& f) { f.opcode = 99; }), sig);
  EXPECT_EQ(changed([](Function& f) { f.blocking = !f.blocking; }), sig);
  EXPECT_EQ(changed([](Function& f) { f.server_hook = "some_hook"; }), sig);
  // A renamed parameter is the same on the wire, also where an expression names it.
  EXPECT_EQ(changed([](Function& f) {
              const std::string old = f.params[2].name;  // param_value_size, param_value's length
              f.params[2].name = "renamed";
              for (Param& p : f.params)
                if (p.bytes_expr == old) p.bytes_expr = "renamed";
            }),
            sig);
  // An API-wide per-call prefix changes every call.
  Api with_state = api_;
  with_state.thread_state_guest = with_state.thread_state_server = "x";
  EXPECT_NE(with_state.signature(with_state.functions[1]), sig);
}

// Each tests/gen/bad/*.spec.c starts with one or more lines
//   // expect: <file>:<line>:<col>: error: <message substring>
// and must fail with a diagnostic at exactly that place whose message contains the substring.
TEST(SpecParser, NegativeSpecs) {
  std::vector<fs::path> specs;
  for (const auto& e : fs::directory_iterator(kData + "/bad"))
    if (e.path().string().ends_with(".spec.c")) specs.push_back(e.path());
  std::sort(specs.begin(), specs.end());
  ASSERT_GE(specs.size(), 8u);
  for (const fs::path& spec : specs) {
    SCOPED_TRACE(spec.filename().string());
    std::vector<std::string> expects;
    std::istringstream in(read_file(spec));
    for (std::string line; std::getline(in, line);)
      if (line.rfind("// expect: ", 0) == 0) expects.push_back(line.substr(11));
    ASSERT_FALSE(expects.empty()) << "no '// expect: ' line";

    Api api;
    std::vector<Diagnostic> diags;
    EXPECT_FALSE(parse_spec(options_for(spec.string()), &api, &diags));
    for (const std::string& want : expects) {
      size_t sep = want.find(": error: ");
      ASSERT_NE(sep, std::string::npos) << want;
      std::string where = want.substr(0, sep), message = want.substr(sep + 9);
      bool found = std::any_of(diags.begin(), diags.end(), [&](const Diagnostic& d) {
        std::string at = fs::path(d.loc.file).filename().string() + ":" + std::to_string(d.loc.line) + ":" +
                         std::to_string(d.loc.column);
        return at == where && d.message.find(message) != std::string::npos;
      });
      EXPECT_TRUE(found) << "expected: " << want << "\ngot:\n" << joined(diags);
    }
  }
}

TEST(SpecParser, MissingSpecFileIsAnError) {
  Api api;
  std::vector<Diagnostic> diags;
  EXPECT_FALSE(parse_spec(options_for(kData + "/no_such.spec.c"), &api, &diags));
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_NE(diags[0].str().find("no_such.spec.c:0:0: error: cannot read the spec file"), std::string::npos);
}

TEST(Output, WritesOnlyWhenChanged) {
  fs::path dir = fs::temp_directory_path() / ("remora_gen_out_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::string error;
  ASSERT_TRUE(write_outputs(dir.string(), {{"a.h", "one\n"}}, &error)) << error;
  fs::path a = dir / "a.h";
  EXPECT_EQ(read_file(a), "one\n");
  bool changed = true;
  auto before = fs::last_write_time(a);
  ASSERT_TRUE(write_if_changed(a.string(), "one\n", &changed, &error));
  EXPECT_FALSE(changed);
  EXPECT_EQ(fs::last_write_time(a), before);
  ASSERT_TRUE(write_if_changed(a.string(), "two\n", &changed, &error));
  EXPECT_TRUE(changed);
  EXPECT_EQ(read_file(a), "two\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1) << "temporary left behind";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace remora::gen
