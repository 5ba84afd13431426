// <api>_server.h / <api>_server.cpp: the Vendor table and its loader, one dispatch function per
// forwarded opcode, callback trampolines, handle release functions and server_api().
//
// Contract decisions (where docs/generated-code.md is silent):
// - Every dispatch function decodes all arguments into locals named exactly like the C parameters,
//   so spec expressions (COUNT, BYTES, BLOCKING_IF, RESOURCE) evaluate on the server as in the guest.
// - Lengths are re-evaluated on the server once the arguments are decoded and the handles checked:
//   an IN array shorter than its expression says, or an OUT capacity smaller than it, is malformed
//   (the guest computed the same expression). Longer IN data is harmless and accepted. OUT scratch is
//   allocated for the expression's length, not the guest's capacity.
// - OUT data, OUT handles and length_ret values travel back only when the call succeeded (a failing
//   call's outputs are undefined); otherwise they are absent. The errcode status always travels.
// - errcode_ret is always passed to the vendor (the reply needs the status even when the guest
//   passed NULL); the guest's `present` flag is decoded and not needed. A length_ret parameter
//   likewise always gets storage, since it bounds the data sent back.
// - A missing vendor symbol is not fatal: the loader leaves it null (logged) and the dispatch answers
//   errors.unsupported. Only a failing dlopen fails load_vendor.
// - Callback slots of a call that failed are freed at once (the vendor will not call them).
// - Hooks (REMORA_SERVER), remora_<api>_default_vendor_library() and
//   remora_<api>_server_extension_lookup() are declared here with C++ linkage at global scope, the
//   hooks extern "C" with the API function's signature; the API glue defines them.
// - REMORA_RESOURCE on a function that does not return a handle charges and refunds on failure but
//   cannot tie the charge to an object: the front end should refuse it.
#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "gen/emit_common.h"
#include "gen/emitters.h"

namespace remora::gen {
namespace {

std::string resource_kind(const std::string& kind) {
  if (kind == "device_memory") return "remora::server::ResourceKind::kDeviceMemory";
  return "remora::server::ResourceKind::kCount /* unknown resource kind " + kind + " */";
}

std::string callback_key(const Callback& cb) {
  std::string k = cb.return_type + "(";
  for (const CallbackArg& a : cb.args) k += a.c_type + ":" + std::to_string(static_cast<int>(a.kind)) + ":" + a.bytes_size_arg + ",";
  return k + ")" + (cb.once ? "once" : "many");
}

void emit_trampoline(CodeWriter& w, const Api& api, const Callback& cb, const std::string& name) {
  std::string params;
  for (const CallbackArg& a : cb.args) {
    if (!params.empty()) params += ", ";
    params += declare(a.c_type, a.name);
  }
  w.open("{} {{", declare(cb.return_type, name) + "(" + params + ")");
  const CallbackArg* ud = nullptr;
  for (const CallbackArg& a : cb.args)
    if (a.kind == CallbackArg::Kind::kUserData) ud = &a;
  w.line("auto* slot = static_cast<remora::server::CallbackSlot*>({});", ud ? ud->name : "nullptr");
  w.line("remora::wire::Writer w;");
  for (const CallbackArg& a : cb.args) {
    switch (a.kind) {
      case CallbackArg::Kind::kScalar: w.line("w.put({});", a.name); break;
      case CallbackArg::Kind::kHandle:
        w.line("w.put_u64({0} != nullptr ? slot->session->handles().id_for((void*){0}, {1}) : 0);", a.name,
               type_const(a.handle_type));
        break;
      case CallbackArg::Kind::kString: w.line("w.put_string({});", a.name); break;
      case CallbackArg::Kind::kBytes:
        w.line("w.put_bytes_copy({}, {} != nullptr ? static_cast<size_t>({}) : 0);", a.name, a.name, a.bytes_size_arg);
        break;
      case CallbackArg::Kind::kUserData: break;
    }
  }
  w.line("(void)slot->session->send_callback(slot->callback_id, w);");
  if (cb.once) w.line("slot->session->callback_fired(slot);");
  if (cb.return_type != "void") w.line("return {{}};  // the application's return value stays in the guest");
  w.close();
  w.blank();
}

class DispatchWriter {
 public:
  DispatchWriter(const Api& api, const Function& f, CodeWriter& w, const std::map<std::string, std::string>& tramps)
      : api_(api), f_(f), w_(w), tramps_(tramps) {}

  void emit() {
    w_.open("static void dispatch_{}(remora::server::Call& c) {{", f_.name);
    w_.line("remora::wire::Reader& r = c.args;");
    if (!api_.thread_state_server.empty()) w_.line("{}(c, r.get_u64());  // REMORA_THREAD_STATE", api_.thread_state_server);
    for (const Param& p : f_.params)
      if (!p.consumed || p.kind == ParamKind::kUserData) decode(p);  // the others come with their consumer
    w_.line("if (!r.ok()) return c.malformed(r.why());");
    deferred_ = deferred_param(f_);
    if (deferred_)
      w_.line("const bool remora_deferred = {};", f_.blocking_if.empty() ? "true" : "!(" + f_.blocking_if + ")");
    for (const Param& p : f_.params)
      if (!p.consumed) translate(p);
    declare_result();
    w_.open("do {{");
    w_.line("if (c.bad_handle_type != 0) {}", refuse("remora_invalid_handle_error(c.bad_handle_type)"));
    // The vendor functions the call needs: its own (unless it is remora's own call), and those a hook
    // declares it calls (REMORA_REQUIRES). A hook never checks for them itself.
    if (!f_.auxiliary) w_.line("if (vendor().{} == nullptr) {}", f_.name, refuse(api_.errors.unsupported));
    for (const std::string& fn : f_.requires_vendor)
      w_.line("if (vendor().{} == nullptr) {}", fn,
              refuse(f_.requires_error.empty() ? api_.errors.unsupported : f_.requires_error));
    for (const Param& p : f_.params)
      if (!p.consumed) prepare(p);
    // REMORA_CHECK: what no guest may make the vendor do.
    for (const Check& k : f_.checks) w_.line("if (!({})) {}", k.cond, refuse(k.error));
    if (f_.resource) {
      w_.line("const uint64_t remora_charge = static_cast<uint64_t>({});", f_.resource->bytes_expr);
      w_.line("if (!c.session.charge({}, remora_charge)) {{ {} break; }}", resource_kind(f_.resource->kind),
              set_error(api_.errors.quota));
    }
    for (const Param& p : f_.params) {
      if (p.kind != ParamKind::kCallback || !p.callback) continue;
      const Param* ud = find_param(f_, p.callback->user_data_param);
      w_.open("if ({}_cb != 0) {{", p.name);
      w_.line("{0}_slot = c.session.new_callback_slot({0}_cb, {1});", p.name, p.callback->once ? "true" : "false");
      w_.line("{} = &{};", p.name, tramps_.at(p.name));
      if (ud) w_.line("{} = {}_slot;", ud->name, p.name);
      w_.close();
    }
    if (f_.blocking) w_.line("c.about_to_block();");
    else if (!f_.blocking_if.empty()) w_.line("if ({}) c.about_to_block();", f_.blocking_if);
    // A hook gets the call (its session, policy and scratch) ahead of the API function's arguments.
    const std::string callee = !f_.server_hook.empty() ? f_.server_hook : "vendor()." + f_.name;
    std::string args = arg_names(f_);
    if (!f_.server_hook.empty()) args = args.empty() ? "c" : "c, " + args;
    if (f_.returns == Function::Returns::kVoid)
      w_.line("{}({});", callee, args);
    else
      w_.line("ret = {}({});", callee, args);
    switch (f_.returns) {
      case Function::Returns::kStatus: w_.line("remora_ok = ret == {};", api_.errors.success); break;
      case Function::Returns::kHandle: w_.line("remora_ok = ret != nullptr;"); break;
      default: w_.line("remora_ok = true;"); break;
    }
    for (const Param& p : f_.params)
      if (p.kind == ParamKind::kCallback && p.callback)
        w_.line("if ({0}_slot != nullptr) c.session.callback_call_done({0}_slot, remora_ok);", p.name);
    if (f_.resource) w_.line("if (!remora_ok) c.session.refund({}, remora_charge);", resource_kind(f_.resource->kind));
    if (f_.returns == Function::Returns::kHandle) {
      w_.open("if (ret != nullptr) {{");
      w_.line("ret_id = c.session.handles().insert_new({}, ret);", type_const(f_.return_handle_type));
      if (f_.resource)
        w_.line("c.session.handles().set_charge(ret_id, {}, remora_charge);", resource_kind(f_.resource->kind));
      w_.close();
    }
    for (const Param& p : f_.params)
      if (!p.consumed) post(p);
    if (!f_.retains.empty()) w_.line("if (remora_ok) c.session.handles().retain({}_id);", f_.retains);
    if (!f_.releases.empty()) w_.line("if (remora_ok) c.session.release_handle({}_id);", f_.releases);
    w_.close("} while (false);");
    // Asynchronous calls have no reply; a failure is reported at the next synchronisation point.
    w_.open("if (!c.sync) {{");
    if (f_.returns == Function::Returns::kStatus) w_.line("if (!remora_ok) c.async_failed(ret);");
    w_.line("return;");
    w_.close();
    w_.line("[[maybe_unused]] remora::wire::Writer& w = c.reply;");
    switch (f_.returns) {
      case Function::Returns::kStatus:
      case Function::Returns::kScalar: w_.line("w.put(ret);"); break;
      case Function::Returns::kHandle:
        w_.line("w.put_u64(ret_id);");
        if (!f_.errcode_param.empty()) w_.line("w.put({}_storage);", f_.errcode_param);
        break;
      case Function::Returns::kPointer:
        w_.line("w.put_u64(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(ret)));  // a hook's opaque token");
        break;
      case Function::Returns::kVoid: break;
    }
    for (const Param& p : f_.params)
      if (!p.consumed) reply(p);
    w_.close();
    w_.blank();
  }

 private:
  // Leaves the call block with `err` as the call's result (where the function has one to carry it).
  std::string refuse(const std::string& err) {
    const std::string set = set_error(err);
    return set.empty() ? "break;" : "{ " + set + " break; }";
  }
  std::string set_error(const std::string& err) {
    switch (f_.returns) {
      case Function::Returns::kStatus: return "ret = " + err + ";";
      case Function::Returns::kHandle:
        if (!f_.errcode_param.empty()) return f_.errcode_param + "_storage = " + err + ";";
        return "";
      default: return "";
    }
  }
  // Did the guest pass this (non-NULL) pointer?
  std::string present(const Param& p) const {
    return p.dir == Direction::kInOut ? "!" + p.name + "_absent" : p.name + "_cap != remora::wire::kAbsent";
  }
  bool out_buffer(const Param& p) const { return p.kind == ParamKind::kBuffer && p.dir != Direction::kIn; }
  bool out_handles(const Param& p) const {
    return p.kind == ParamKind::kHandleArray && p.dir != Direction::kIn && !guest_chosen(f_, p);
  }
  // Does the parameter's length expression read the parameter itself (e.g. a helper that walks a
  // terminated list)? Such helpers must stop at a run of kSelfSizedPadding zero bytes (spec.h).
  static bool sized_by_itself(const Param& p) {
    const std::regex self("\\b" + p.name + "\\b");
    return std::regex_search(p.count_expr, self) || std::regex_search(p.bytes_expr, self);
  }
  static constexpr int kSelfSizedPadding = 64;

  // `<p>_expect = <length in bytes>`; a failure to compute it is malformed.
  void expect_bytes(const Param& p) {
    if (!p.count_expr.empty())
      w_.line("if (remora::wire::mul_overflows(static_cast<uint64_t>({}), {}, &{}_expect)) return c.malformed(\"{}: length overflows\");",
              p.count_expr, elem_size(p), p.name, p.name);
    else if (!p.bytes_expr.empty())
      w_.line("{}_expect = static_cast<uint64_t>({});", p.name, p.bytes_expr);
    else
      w_.line("{}_expect = {};", p.name, elem_size(p));
  }

  void decode(const Param& p) {
    const std::string& n = p.name;
    switch (p.kind) {
      case ParamKind::kScalar:
        w_.line("{} = r.get<{}>();", declare(strip_top_const(p.c_type), n), strip_top_const(p.c_type));
        break;
      case ParamKind::kHandle:
        w_.line("const uint64_t {}_id = r.get_u64();", n);
        w_.line("{} = static_cast<{}>(c.handle({}_id, {}));", declare(p.c_type, n), p.handle_type, n, type_const(p.handle_type));
        break;
      case ParamKind::kString: w_.line("{} = r.get_string();", declare(p.c_type, n)); break;
      case ParamKind::kBuffer:
        w_.line("{} = nullptr;", declare(p.c_type, n));
        w_.line("uint64_t {}_expect = 0;", n);
        if (p.dir == Direction::kOut) {
          w_.line("const uint64_t {}_cap = r.get_u64();", n);
          if (is_length_ret(f_, p)) w_.line("{} {}_storage{{}};", p.elem_type, n);
          if (!p.deferred_event.empty()) w_.line("remora::HostBlock {}_deferred;", n);
        } else {
          w_.line("bool {}_absent = true;", n);
          w_.line("const std::span<const uint8_t> {0}_in = r.get_bytes(&{0}_absent);", n);
          if (!p.deferred_event.empty()) {
            // INOUT and deferred: the data travels in (the bytes the command must not disturb, e.g.
            // the gaps between a rect read's rows) and comes back later under this token. IN and
            // deferred: the vendor may read the data until the command completes (a non-blocking
            // write), so it is kept in a copy of its own until then.
            if (p.dir == Direction::kInOut) w_.line("const uint64_t {}_token = r.get_u64();", n);
            w_.line("remora::HostBlock {}_deferred;", n);
          }
        }
        if (p.dir != Direction::kIn) w_.line("uint64_t {}_out = 0;  // bytes sent back", n);
        break;
      case ParamKind::kHandleArray:
        w_.line("{} = nullptr;", declare(p.c_type, n));
        if (p.dir == Direction::kIn) {
          w_.line("bool {}_absent = true;", n);
          w_.line("uint64_t {}_n = 0;", n);
          w_.line("const uint64_t* {0}_ids = r.get_array<uint64_t>(&{0}_n, &{0}_absent);", n);
        } else if (guest_chosen(f_, p)) {
          w_.line("bool {}_absent = true;", n);
          w_.line("uint64_t {}_n = 0;", n);
          w_.line("const uint64_t* {0}_gids = r.get_array<uint64_t>(&{0}_n, &{0}_absent);", n);
          w_.line("{} {}_obj = nullptr;", p.handle_type, n);
        } else {
          w_.line("const uint64_t {}_cap = r.get_u64();", n);
          w_.line("uint64_t {}_expect = 0;", n);
          w_.line("std::vector<uint64_t> {}_out_ids;", n);
        }
        break;
      case ParamKind::kStrings:
      case ParamKind::kBinaries: {
        w_.line("{} = nullptr;", declare(p.c_type, n));
        const Param* lens = find_param(f_, p.lengths_param);
        if (lens) w_.line("{} = nullptr;", declare(strip_top_const(lens->c_type), lens->name));
        std::string entry = "std::remove_const_t<std::remove_pointer_t<" + strip_top_const(p.c_type) + ">>";
        w_.line("const uint64_t {}_count = r.get_u64();", n);
        w_.open("if ({}_count != remora::wire::kAbsent) {{", n);
        w_.line("// Every entry takes at least 8 bytes, so this bounds the allocation by the message size.");
        w_.line("if ({}_count > r.remaining() / 8) return c.malformed(\"{}: more entries than the message holds\");", n, n);
        w_.line("auto* ptrs = static_cast<{}*>(c.scratch({}_count * sizeof(void*) + 8));", entry, n);
        w_.line("auto* sizes = static_cast<size_t*>(c.scratch({}_count * sizeof(size_t) + 8));", n);
        w_.line("if (ptrs == nullptr || sizes == nullptr) return;");
        w_.open("for (uint64_t i = 0; i < {}_count; ++i) {{", n);
        w_.line("bool absent = true;");
        w_.line("const std::span<const uint8_t> b = r.get_bytes(&absent);");
        w_.line("ptrs[i] = absent ? nullptr : reinterpret_cast<{}>(b.data());", entry);
        w_.line("sizes[i] = b.size();");
        if (p.kind == ParamKind::kStrings && p.lengths_param.empty())
          w_.line("if (!absent && (b.empty() || b.back() != 0)) return c.malformed(\"{}: string without its NUL\");", n);
        w_.close();
        w_.line("{} = ptrs;", n);
        if (lens) w_.line("{} = sizes;", lens->name);
        w_.close();
        break;
      }
      case ParamKind::kProperties:
        w_.line("{} = nullptr;", declare(p.c_type, n));
        w_.line("bool {}_absent = true;", n);
        w_.line("uint64_t {}_n = 0;", n);
        w_.line("const {1}* {0}_list = r.get_array<{1}>(&{0}_n, &{0}_absent);", n, p.elem_type);
        break;
      case ParamKind::kCallback:
        w_.line("{} = nullptr;", declare(p.c_type, n));
        w_.line("const uint64_t {}_cb = r.get_u64();", n);
        w_.line("remora::server::CallbackSlot* {}_slot = nullptr;", n);
        break;
      case ParamKind::kUserData: w_.line("{} = nullptr;", declare(p.c_type, n)); break;
      case ParamKind::kErrcode:
        w_.line("const bool {}_want = r.get_u32() != 0;", n);
        w_.line("(void){}_want;  // the vendor always gets storage: the status travels back anyway", n);
        w_.line("{} {}_storage = {};", p.elem_type.empty() ? api_.errors.type : p.elem_type, n, api_.errors.success);
        w_.line("{0} = &{1}_storage;", declare(p.c_type, n), n);
        break;
    }
  }

  // After decoding: arrays of handles become arrays of real objects (may set bad_handle_type).
  void translate(const Param& p) {
    const std::string& n = p.name;
    if (p.kind == ParamKind::kHandleArray && p.dir == Direction::kIn) {
      w_.open("if (!{}_absent) {{", n);
      w_.line("auto* reals = static_cast<{}*>(c.scratch({}_n * sizeof({}) + 8));", p.handle_type, n, p.handle_type);
      w_.line("if (reals == nullptr) return;");
      w_.line("for (uint64_t i = 0; i < {0}_n; ++i) reals[i] = static_cast<{1}>(c.handle({0}_ids[i], {2}));", n,
              p.handle_type, type_const(p.handle_type));
      w_.line("{} = reals;", n);
      w_.close();
    } else if (p.kind == ParamKind::kProperties) {
      w_.open("if (!{}_absent) {{", n);
      w_.line("size_t end = 0;  // index of the terminating 0 key");
      w_.line("while (end < {0}_n && {0}_list[end] != 0) end += 2;", n);
      w_.line("if (end >= {}_n) return c.malformed(\"{}: property list without its terminator\");", n, n);
      w_.line("auto* list = static_cast<{}*>(c.scratch((end + 1) * sizeof({}) ));", p.elem_type, p.elem_type);
      w_.line("if (list == nullptr) return;");
      w_.line("std::memcpy(list, {}_list, (end + 1) * sizeof({}));", n, p.elem_type);
      if (!p.property_handles.empty()) {
        w_.open("for (size_t i = 0; i < end; i += 2) {{");
        for (const PropertyHandleKey& k : p.property_handles)
          w_.line("if (list[i] == static_cast<{0}>({1})) list[i + 1] = static_cast<{0}>(reinterpret_cast<intptr_t>(c.handle(static_cast<uint64_t>(list[i + 1]), {2})));",
                  p.elem_type, k.key, type_const(k.handle_type));
        w_.close();
      }
      w_.line("{} = list;", n);
      w_.close();
    } else if (p.kind == ParamKind::kBuffer && p.dir != Direction::kOut) {
      w_.open("if (!{}_absent) {{", n);
      const bool self_sized = sized_by_itself(p);
      if (p.dir == Direction::kInOut || !p.struct_handles.empty() || !p.zero_fields.empty() || self_sized) {
        // A length computed from the parameter's own contents (a list walked to its terminator) is
        // evaluated before it can be checked against what was received: the walk reads a copy
        // followed by kSelfSizedPadding zero bytes, so it stops there rather than past the message.
        if (self_sized) w_.line("// {}'s length depends on its contents: a zero-padded copy bounds the walk.", n);
        w_.line("void* copy = c.scratch({}_in.size() + {});", n, self_sized ? kSelfSizedPadding : 8);
        w_.line("if (copy == nullptr) return;");
        w_.line("std::memcpy(copy, {0}_in.data(), {0}_in.size());", n);
        // Call::scratch does not zero: the padding after the data is zeroed here.
        w_.line("std::memset(static_cast<uint8_t*>(copy) + {0}_in.size(), 0, {1});", n,
                self_sized ? kSelfSizedPadding : 8);
        w_.line("{} = static_cast<{}>(copy);", n, strip_top_const(p.c_type));
        if (!p.struct_handles.empty() || !p.zero_fields.empty()) {
          w_.open("for (uint64_t i = 0; i < {}_in.size() / sizeof({}); ++i) {{", n, p.elem_type);
          w_.line("[[maybe_unused]] auto& e = static_cast<{}*>(copy)[i];", p.elem_type);
          // REMORA_ZERO_FIELDS: whatever a guest put there, the vendor sees NULL.
          for (const std::string& z : p.zero_fields) w_.line("e.{} = nullptr;", z);
          for (const StructHandleField& s : p.struct_handles) {
            w_.line("uint64_t {}_id = 0;", s.field);
            w_.line("std::memcpy(&{0}_id, &e.{0}, sizeof(uint64_t));", s.field);
            w_.line("e.{0} = static_cast<decltype(e.{0})>(c.handle({0}_id, {1}));", s.field, type_const(s.handle_type));
          }
          w_.close();
        }
      } else {
        w_.line("{} = ({})({}_in.data());", n, strip_top_const(p.c_type), n);
      }
      w_.close();
    } else if (guest_chosen(f_, p)) {
      w_.open("if (!{}_absent) {{", n);
      w_.line("if ({}_n != 1) return c.malformed(\"{}: expected one guest-chosen id\");", n, n);
      w_.line("{0} = &{0}_obj;", n);
      w_.close();
    }
  }

  // Inside the call block, after the handle check: lengths and OUT storage.
  void prepare(const Param& p) {
    const std::string& n = p.name;
    if (p.kind == ParamKind::kBuffer && p.dir != Direction::kOut) {
      w_.open("if (!{}_absent) {{", n);
      expect_bytes(p);
      w_.line("if ({0}_in.size() < {0}_expect) return c.malformed(\"{0}: shorter than its length\");", n);
      if (p.dir == Direction::kInOut) w_.line("{0}_out = {0}_in.size();", n);
      if (!p.deferred_event.empty()) {
        w_.open("if (remora_deferred) {{");
        w_.line("{0}_deferred = remora::acquire_host_block({0}_in.size());", n);
        w_.line("if (!{}_deferred) {{ {} break; }}", n, set_error(api_.errors.no_memory));
        w_.line("std::memcpy({0}_deferred.get(), {0}_in.data(), {0}_in.size());", n);
        w_.line("{0}_expect = {0}_in.size();", n);
        w_.line("{0} = reinterpret_cast<{1}>({0}_deferred.get());", n, strip_top_const(p.c_type));
        w_.close();
      }
      w_.close();
      if (!p.deferred_event.empty()) deferred_event_storage(p);
    } else if (p.kind == ParamKind::kBuffer) {
      std::string alloc_target = is_length_ret(f_, p) ? fmt::format("{0} = &{0}_storage;", n) : "";
      w_.open("if ({}_cap != remora::wire::kAbsent) {{", n);
      expect_bytes(p);
      if (!p.deferred_event.empty()) {
        w_.open("if (remora_deferred) {{");
        // The session's per-call cap on out-parameters (SessionOptions::max_scratch_bytes) holds here
        // too, though the storage outlives the call.
        w_.line("if ({}_expect > c.session.options().max_scratch_bytes) return c.malformed(\"{}: larger than the per-call cap\");", n, n);
        w_.line("{0}_deferred = remora::acquire_host_block({0}_expect);", n);
        w_.line("if (!{}_deferred) {{ {} break; }}", n, set_error(api_.errors.no_memory));
        w_.line("{0} = reinterpret_cast<{1}>({0}_deferred.get());", n, strip_top_const(p.c_type));
        w_.middle("} else {");
      }
      w_.line("if ({0}_cap < {0}_expect) return c.malformed(\"{0}: capacity smaller than its length\");", n);
      w_.line("void* out = c.reply_scratch({0}_expect == 0 ? 1 : {0}_expect);", n);
      // Host memory for a large out-parameter can run out (max_session_host_memory): the call then
      // fails with the API's no-memory error and the session goes on.
      if (const std::string oom = api_.errors.no_memory.empty() ? "" : set_error(api_.errors.no_memory); !oom.empty()) {
        w_.line("if (out == nullptr) {{ if (c.out_of_host_memory()) {{ {} break; }} return; }}", oom);
      } else {
        w_.line("if (out == nullptr) return;");
      }
      w_.line("{} = static_cast<{}>(out);", n, strip_top_const(p.c_type));
      if (!p.deferred_event.empty()) w_.close();
      if (!alloc_target.empty()) {
        w_.middle("} else {");
        w_.line("{}", alloc_target);
      }
      w_.close();
      if (!p.deferred_event.empty()) deferred_event_storage(p);
    } else if (p.kind == ParamKind::kHandleArray && p.dir == Direction::kIn) {
      w_.line("if (!{0}_absent && {0}_n < static_cast<uint64_t>({1})) return c.malformed(\"{0}: fewer handles than its count\");",
              n, p.count_expr);
    } else if (out_handles(p)) {
      w_.open("if ({}_cap != remora::wire::kAbsent) {{", n);
      w_.line("{}_expect = static_cast<uint64_t>({});", n, p.count_expr.empty() ? "1" : p.count_expr);
      w_.line("if ({0}_cap < {0}_expect || {0}_expect > remora::wire::Limits{{}}.max_array_count) return c.malformed(\"{0}: capacity smaller than its count\");", n);
      w_.line("auto* reals = static_cast<{}*>(c.scratch({}_expect * sizeof({}) + 8));", p.handle_type, n, p.handle_type);
      w_.line("if (reals == nullptr) return;");
      w_.line("std::fill(reals, reals + {}_expect, nullptr);", n);
      w_.line("{} = reals;", n);
      w_.close();
    } else if ((p.kind == ParamKind::kStrings || p.kind == ParamKind::kBinaries)) {
      w_.line("if ({0}_count != remora::wire::kAbsent && {0}_count != static_cast<uint64_t>({1})) return c.malformed(\"{0}: entry count differs from {1}\");",
              n, p.count_param);
    }
  }

  // After a call: OUT lengths, new objects, deferred data.
  void post(const Param& p) {
    const std::string& n = p.name;
    if (out_buffer(p)) {
      std::string cond = fmt::format("remora_ok && {} && {} != nullptr", present(p), n);
      if (!p.deferred_event.empty()) cond += " && !remora_deferred";
      w_.open("if ({}) {{", cond);
      if (p.dir == Direction::kOut) w_.line("{0}_out = {0}_expect;", n);
      if (!p.length_ret.empty()) {
        const Param* lr = find_param(f_, p.length_ret);
        w_.line("uint64_t ret_len = 0;");
        w_.line("if (!remora::wire::mul_overflows(static_cast<uint64_t>(*{}), {}, &ret_len)) {}_out = std::min({}_out, ret_len);",
                lr ? lr->name : p.length_ret, elem_size(p), n, n);
      }
      for (const HandlesWhen& hw : p.handles_when) {
        if (hw.property_keys.empty()) {
          w_.line("if ({} == ({})) remora_handles_to_ids(c, {}, {}_out / sizeof(uint64_t), {});", hw.selector, hw.value, n, n,
                  type_const(hw.handle_type));
          continue;
        }
        w_.open("if ({} == ({})) {{", hw.selector, hw.value);
        w_.line("auto* list = reinterpret_cast<intptr_t*>({});", n);
        w_.open("for (uint64_t i = 0; i + 1 < {}_out / sizeof(intptr_t) && list[i] != 0; i += 2) {{", n);
        for (const PropertyHandleKey& k : hw.property_keys)
          w_.line("if (list[i] == static_cast<intptr_t>({})) list[i + 1] = static_cast<intptr_t>(c.session.handles().id_for(reinterpret_cast<void*>(list[i + 1]), {}));",
                  k.key, type_const(k.handle_type));
        w_.close();
        w_.close();
      }
      if (!p.struct_handles.empty() || !p.zero_fields.empty()) {
        w_.open("for (uint64_t i = 0; i < {}_out / sizeof({}); ++i) {{", n, p.elem_type);
        for (const StructHandleField& s : p.struct_handles)
          w_.line("remora_handles_to_ids(c, &{}[i].{}, 1, {});", n, s.field, type_const(s.handle_type));
        // REMORA_ZERO_FIELDS: no server pointer goes back to the guest.
        for (const std::string& z : p.zero_fields) w_.line("{}[i].{} = nullptr;", n, z);
        w_.close();
      }
      w_.close();
      if (!p.deferred_event.empty()) {
        const Param* ev = find_param(f_, p.deferred_event);
        if (ev) {
          w_.open("if (remora_ok && {}_deferred) {{", n);
          register_guest_handle(*ev);
          w_.line("{}(c.session, {}_obj, /*release_event=*/{}_absent, {}_{}, std::move({}_deferred), {}_expect);",
                  api_symbol(api_, "server_defer"), ev->name, ev->name, n, p.dir == Direction::kOut ? "cap" : "token", n, n);
          w_.close();
        }
      }
    } else if (p.kind == ParamKind::kBuffer && !p.deferred_event.empty()) {
      // IN and deferred: hand the kept copy over until the command completes (token 0: no data
      // goes back to the guest).
      const Param* ev = find_param(f_, p.deferred_event);
      if (ev) {
        w_.open("if (remora_ok && {}_deferred) {{", n);
        register_guest_handle(*ev);
        w_.line("{}(c.session, {}_obj, /*release_event=*/{}_absent, 0, std::move({}_deferred), {}_expect);",
                api_symbol(api_, "server_defer"), ev->name, ev->name, n, n);
        w_.close();
      }
    } else if (out_handles(p)) {
      w_.open("if (remora_ok && {} != nullptr) {{", n);
      w_.line("{}_out_ids.resize({}_expect);", n, n);
      w_.open("for (uint64_t i = 0; i < {}_expect; ++i) {{", n);
      if (p.existing)
        w_.line("{0}_out_ids[i] = {0}[i] != nullptr ? c.session.handles().id_for({0}[i], {1}) : 0;", n, type_const(p.handle_type));
      else
        w_.line("{0}_out_ids[i] = {0}[i] != nullptr ? c.session.handles().insert_new({1}, {0}[i]) : 0;", n, type_const(p.handle_type));
      w_.close();
      w_.close();
    } else if (guest_chosen(f_, p)) {
      // The deferred data's event is registered with the deferred hand-over (post of that buffer).
      bool is_deferred_event = deferred_ && deferred_->deferred_event == p.name;
      w_.open("if (remora_ok{}) {{",
              is_deferred_event ? fmt::format(" && !(remora_deferred && {} != nullptr)", deferred_->name) : "");
      register_guest_handle(p);
      w_.close();
    }
  }

  // The deferred hook needs the command's event even when the guest did not ask for one.
  void deferred_event_storage(const Param& p) {
    const Param* ev = find_param(f_, p.deferred_event);
    if (ev && guest_chosen(f_, *ev))
      w_.line("if (remora_deferred && {} != nullptr && {} == nullptr) {} = &{}_obj;", p.name, ev->name, ev->name, ev->name);
    else
      w_.line("#error \"remora-gen: {}: REMORA_DEFERRED names '{}', which is not the single OUT event\"", p.name,
              p.deferred_event);
  }

  void register_guest_handle(const Param& p) {
    const HandleType* h = api_.find_handle(p.handle_type);
    w_.open("if (!{0}_absent && {0}_obj != nullptr && !c.session.handles().insert_guest_id({0}_gids[0], {1}, {0}_obj, 1)) {{",
            p.name, type_const(p.handle_type));
    if (h && !h->release_fn.empty()) w_.line("release_{}({}_obj);", h->name, p.name);
    w_.line("return c.malformed(\"{}: the guest-chosen id is not fresh\");", p.name);
    w_.close();
  }

  void reply(const Param& p) {
    const std::string& n = p.name;
    if (out_buffer(p)) {
      std::string cond = fmt::format("remora_ok && {} && {} != nullptr", present(p), n);
      if (!p.deferred_event.empty()) {
        w_.open("if (!remora_deferred) {{");
      }
      w_.line("if ({}) w.put_bytes({}, {}_out); else w.put_absent();", cond, n, n);
      if (!p.deferred_event.empty()) w_.close();
    } else if (out_handles(p)) {
      w_.line("if (remora_ok && {0} != nullptr) w.put_bytes_copy({0}_out_ids.data(), {0}_out_ids.size() * sizeof(uint64_t)); else w.put_absent();", n);
    }
  }

  void declare_result() {
    switch (f_.returns) {
      case Function::Returns::kStatus:
      case Function::Returns::kScalar: w_.line("{} ret{{}};", f_.return_type); break;
      case Function::Returns::kHandle:
        w_.line("{} = nullptr;", declare(f_.return_type, "ret"));
        w_.line("uint64_t ret_id = 0;");
        break;
      case Function::Returns::kPointer: w_.line("{} = nullptr;", declare(f_.return_type, "ret")); break;
      case Function::Returns::kVoid: break;
    }
    w_.line("[[maybe_unused]] bool remora_ok = false;");
  }

  const Api& api_;
  const Function& f_;
  CodeWriter& w_;
  const std::map<std::string, std::string>& tramps_;
  const Param* deferred_ = nullptr;
};

}  // namespace

std::string emit_server_header(const Api& api) {
  CodeWriter w;
  w.raw_line(generated_banner(api));
  w.line("// Declarations for the {} API's hand-written server glue.", api.name);
  w.line("#pragma once");
  w.blank();
  w.line("#include <cstdint>");
  w.line("#include <memory>");
  w.blank();
  w.line("#include \"{}_protocol.h\"", api.name);
  w.line("#include \"server/session.h\"");
  w.blank();
  w.line("// Defined by the glue: the vendor library loaded when none is configured.");
  w.line("const char* {}();", api_symbol(api, "default_vendor_library"));
  if (!api.thread_state_server.empty()) {
    w.line("// Defined by the glue (REMORA_THREAD_STATE): applies the guest thread's API state before a call.");
    w.line("void {}(remora::server::Call& c, uint64_t state);", api.thread_state_server);
  }
  w.line("// Defined by the glue: the address of an extension function dlsym did not find, or null.");
  w.line("void* {}(const char* name);", api_symbol(api, "server_extension_lookup"));
  for (const Function& f : api.functions) {
    const Param* d = deferred_param(f);
    if (!d || !is_forwarded(f)) continue;
    const Param* ev = find_param(f, d->deferred_event);
    w.line("// Defined by the glue: sends deferred OUT data to the guest once `event` completes.");
    w.line("void {}(remora::server::Session& session, {} event, bool release_event, uint64_t token,",
           api_symbol(api, "server_defer"), ev ? ev->handle_type : "void*");
    w.line("    remora::HostBlock data, uint64_t size);");
    break;
  }
  w.blank();
  bool any_hook = false;
  for (const Function& f : api.functions)
    if (!f.server_hook.empty()) any_hook = true;
  if (any_hook) {
    w.line("// REMORA_SERVER hooks (docs/generated-code.md, \"Hooks\"): called instead of the vendor's function once");
    w.line("// the dispatch checked the handles, the lengths, REMORA_CHECK and the vendor functions the call needs;");
    w.line("// the call first, then the API function's parameters.");
    for (const Function& f : api.functions)
      if (!f.server_hook.empty()) w.line("{};", hook_prototype(f, f.server_hook));
    w.blank();
  }
  w.line("namespace remora::{} {{", api.name);
  w.blank();
  w.line("// The vendor's functions, loaded by server_api().load_vendor. A null member is missing from the");
  w.line("// vendor library; its dispatch answers {}.", api.errors.unsupported);
  // The table names every function the spec forwards, the ones the vendor's header marks deprecated
  // too: an application may still call them, and the vendor still answers them.
  w.raw_line("#pragma GCC diagnostic push");
  w.raw_line("#pragma GCC diagnostic ignored \"-Wdeprecated-declarations\"");
  w.open("struct Vendor {{");
  for (const Function& f : api.functions)
    if (in_vendor_table(f)) w.line("decltype(&::{0}) {0} = nullptr;", f.name);
  w.close("};");
  w.raw_line("#pragma GCC diagnostic pop");
  w.line("const Vendor& vendor();");
  w.line("const remora::server::ApiServer& server_api();");
  w.blank();
  w.raw_line(fmt::format("}}  // namespace remora::{}", api.name));
  return w.str();
}

std::string emit_server_source(const Api& api) {
  CodeWriter w;
  w.raw_line(generated_banner(api));
  w.line("// The server side of the {} API: decodes each call and runs it on the vendor's library.", api.name);
  w.line("#include \"{}_server.h\"", api.name);
  w.blank();
  w.line("#include <dlfcn.h>");
  w.blank();
  w.line("#include <algorithm>");
  w.line("#include <cstring>");
  w.line("#include <memory>");
  w.line("#include <new>");
  w.line("#include <span>");
  w.line("#include <string>");
  w.line("#include <type_traits>");
  w.line("#include <vector>");
  w.blank();
  w.line("#include \"common/log.h\"");
  w.blank();
  w.line("namespace remora::{} {{", api.name);
  w.line("namespace {{");
  w.blank();
  w.line("// The loaded vendor table; written once by load_vendor, before any session runs.");
  w.open("Vendor& vendor_storage() {{");
  w.line("static Vendor v;");
  w.line("return v;");
  w.close();
  w.blank();
  w.open("[[maybe_unused]] {} remora_invalid_handle_error(uint32_t type) {{", api.errors.type);
  w.open("switch (type) {{");
  for (const HandleType& h : api.handle_types) w.line("case {}: return {};", type_const(h.name), h.invalid_error);
  w.line("default: return {};", api.errors.invalid);
  w.close();
  w.close();
  w.blank();
  w.line("// Replaces `n` real handles stored at `at` by their ids (u64 in pointer-sized slots).");
  w.open("[[maybe_unused]] void remora_handles_to_ids(remora::server::Call& c, void* at, uint64_t n, uint32_t type) {{");
  w.line("static_assert(sizeof(void*) == sizeof(uint64_t), \"handles travel as u64 ids in pointer-sized slots\");");
  w.open("for (uint64_t i = 0; i < n; ++i) {{");
  w.line("void* real = nullptr;");
  w.line("std::memcpy(&real, static_cast<uint8_t*>(at) + i * sizeof(real), sizeof(real));");
  w.line("const uint64_t id = real != nullptr ? c.session.handles().id_for(real, type) : 0;");
  w.line("std::memcpy(static_cast<uint8_t*>(at) + i * sizeof(id), &id, sizeof(id));");
  w.close();
  w.close();
  w.blank();
  // Release functions.
  for (const HandleType& h : api.handle_types) {
    const Function* rel = nullptr;
    for (const Function& f : api.functions)
      if (f.name == h.release_fn && is_forwarded(f)) rel = &f;
    if (!rel) continue;
    w.open("void release_{}(void* real) {{", h.name);
    w.line("if (vendor_storage().{0} != nullptr) (void)vendor_storage().{0}(static_cast<{1}>(real));", rel->name, h.name);
    w.close();
    w.blank();
  }
  // Trampolines.
  std::map<std::string, std::string> by_key;
  std::map<const Function*, std::map<std::string, std::string>> per_function;
  for (const Function& f : api.functions) {
    if (!is_forwarded(f)) continue;
    for (const Param& p : f.params) {
      if (p.kind != ParamKind::kCallback || !p.callback) continue;
      std::string key = callback_key(*p.callback);
      auto it = by_key.find(key);
      if (it == by_key.end()) {
        std::string name = "remora_trampoline_" + p.callback->typedef_name;
        emit_trampoline(w, api, *p.callback, name);
        it = by_key.emplace(key, name).first;
      }
      per_function[&f][p.name] = it->second;
    }
  }
  for (const Function& f : api.functions)
    if (is_forwarded(f)) DispatchWriter(api, f, w, per_function[&f]).emit();

  // Tables.
  uint32_t nops = max_opcode(api) + 1;
  w.open("const remora::server::DispatchFn kDispatch[kNumOpcodes] = {{");
  for (uint32_t op = 0; op < nops; ++op) {
    std::string entry = "nullptr";
    for (const Function& f : api.functions)
      if (f.opcode == op && is_forwarded(f)) entry = "&dispatch_" + f.name;
    w.line("{},", entry);
  }
  w.close("};");
  w.blank();
  w.open("const remora::server::HandleTypeInfo kHandleTypes[kNumHandleTypes + 1] = {{");
  w.line("{{\"\", nullptr}},");
  for (const HandleType& h : api.handle_types) {
    bool has_release = false;
    for (const Function& f : api.functions)
      if (f.name == h.release_fn && is_forwarded(f)) has_release = true;
    w.line("{{{}, {}}},", quote(h.name), has_release ? "&release_" + h.name : "nullptr");
  }
  w.close("};");
  w.blank();
  w.open("bool load_vendor(const std::string& path, std::string* error) {{");
  w.line("const char* lib = path.empty() ? {}() : path.c_str();", api_symbol(api, "default_vendor_library"));
  w.line("void* dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);");
  w.open("if (dl == nullptr) {{");
  w.line("const char* why = dlerror();");
  w.line("*error = std::string(\"cannot load the vendor library \") + lib + \": \" + (why ? why : \"unknown error\");");
  w.line("return false;");
  w.close();
  w.line("Vendor& v = vendor_storage();");
  w.line("int missing = 0;");
  w.line("// Core functions first: the extension lookup may need them.");
  for (bool ext : {false, true}) {
    for (const Function& f : api.functions) {
      if (!in_vendor_table(f) || f.extension != ext) continue;
      w.line("v.{0} = reinterpret_cast<decltype(v.{0})>(dlsym(dl, \"{0}\"));", f.name);
      if (ext)
        w.line("if (v.{0} == nullptr) v.{0} = reinterpret_cast<decltype(v.{0})>({1}(\"{0}\"));", f.name,
               api_symbol(api, "server_extension_lookup"));
      w.line("if (v.{0} == nullptr) {{ ++missing; remora::log::debug(\"vendor library {{}} lacks {0}\", lib); }}", f.name);
    }
  }
  w.line("if (missing > 0) remora::log::info(\"vendor library {{}}: {{}} functions missing (answered as unsupported)\", lib, missing);");
  w.line("return true;");
  w.close();
  w.blank();
  w.raw_line("}  // namespace");
  w.blank();
  w.line("const Vendor& vendor() {{ return vendor_storage(); }}");
  w.blank();
  w.open("const remora::server::ApiServer& server_api() {{");
  w.line("static const remora::server::ApiServer api = {{{}, kOpcodeTable, kNumOpcodes, kDispatch, kOpcodeNames,", quote(api.name));
  w.line("                                                kNumHandleTypes, kHandleTypes, &load_vendor, kHandleAccepts}};");
  w.line("return api;");
  w.close();
  w.blank();
  w.raw_line(fmt::format("}}  // namespace remora::{}", api.name));
  return w.str();
}

}  // namespace remora::gen
