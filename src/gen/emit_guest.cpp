// <api>_guest.cpp: one extern "C" stub per forwarded function (remora_remote_<fn>), the unsupported
// stubs, one callback invoker per callback type, the exported entry points (with the refusals of
// REMORA_REFUSE_UNLISTED), and the ApiDescriptor.
//
// Contract decisions (where docs/generated-code.md is silent):
// - Validation first, side effects second: handles are translated, lengths computed and
//   overflow-checked before any Object, callback entry or deferred token is created, so an early
//   error return leaves nothing behind. Whatever was created is undone when the call then fails.
// - A buffer's byte count is evaluated only when its pointer is non-NULL (a NULL pointer is absent and
//   its length expression may not be meaningful). Counts over wire::Limits are refused with
//   errors.invalid before anything is sent.
// - Data sent by reference (wire::Writer::put_bytes) must outlive the call. In functions that may
//   run asynchronously only untyped data (void *, whose lifetime the API defines, e.g. a non-blocking
//   write) goes by reference; typed arrays (work sizes, wait lists, strings) are copied.
// - Deferred data: the decision is `!(blocking_if)` (always, without BLOCKING_IF), evaluated the same
//   way by the server, independently of whether the call itself is batched: with REMORA_SYNC=1 a
//   non-blocking read still completes through the deferred path.
// - OUT handles of an async-capable function are guest-chosen on both paths (the server accepts
//   either); only a single handle (no COUNT) can be guest-chosen.
// - A reply whose decoding fails is a transport failure (errors.transport).
// - REMORA_CACHE is not implemented: the runtime has no reply cache yet, so every call goes to the
//   server (correct, only slower). TODO(perf).
// - Hooks (REMORA_GUEST / REMORA_LOCAL) are extern "C" with the API function's signature.
#include <algorithm>
#include <map>
#include <set>

#include "gen/emit_common.h"
#include "gen/emitters.h"

namespace remora::gen {
namespace {

// The statement that makes `f` return `err` (through errcode_ret for handle-returning functions).
std::string fail(const Function& f, const std::string& err) {
  switch (f.returns) {
    case Function::Returns::kStatus: return "return " + err + ";";
    case Function::Returns::kHandle:
      if (!f.errcode_param.empty())
        return fmt::format("{{ if ({0} != nullptr) *{0} = {1}; return nullptr; }}", f.errcode_param, err);
      return "return nullptr;";
    case Function::Returns::kScalar: return "return {};";
    case Function::Returns::kPointer: return "return nullptr;";
    case Function::Returns::kVoid: return "return;";
  }
  return "return {};";
}

std::string invalid_of(const Api& api, const std::string& handle_type) {
  const HandleType* h = api.find_handle(handle_type);
  return h ? h->invalid_error : api.errors.invalid;
}

// A key identifying a callback's C signature, so that one invoker serves all parameters of that type.
std::string callback_key(const Callback& cb) {
  std::string k = cb.return_type + "(";
  for (const CallbackArg& a : cb.args) k += a.c_type + ":" + std::to_string(static_cast<int>(a.kind)) + ":" + a.bytes_size_arg + ",";
  return k + ")";
}

void emit_invoker(CodeWriter& w, const Api& api, const Callback& cb, const std::string& name) {
  w.open("static void {}(remora::guest::Runtime& rt, void* fn, void* user_data, remora::wire::Reader& args) {{", name);
  std::string call_args;
  for (const CallbackArg& a : cb.args) {
    if (!call_args.empty()) call_args += ", ";
    switch (a.kind) {
      case CallbackArg::Kind::kScalar:
        w.line("{} = args.get<{}>();", declare(strip_top_const(a.c_type), a.name), strip_top_const(a.c_type));
        call_args += a.name;
        break;
      case CallbackArg::Kind::kHandle:
        w.line("{} = reinterpret_cast<{}>(rt.objects().from_id(args.get_u64(), {}));", declare(a.c_type, a.name),
               a.handle_type, type_const(a.handle_type));
        call_args += a.name;
        break;
      case CallbackArg::Kind::kString:
        w.line("{} = args.get_string();", declare(a.c_type, a.name));
        call_args += a.name;
        break;
      case CallbackArg::Kind::kBytes:
        w.line("{} = nullptr;", declare(strip_top_const(a.c_type), a.name));
        w.line("{{ bool absent = true; auto b = args.get_bytes(&absent); if (!absent) {} = ({})b.data(); }}", a.name,
               strip_top_const(a.c_type));
        call_args += a.name;
        break;
      case CallbackArg::Kind::kUserData: call_args += "user_data"; break;
    }
  }
  w.open("if (!args.ok()) {{");
  w.line("rt.log_error(std::string(\"malformed callback arguments: \") + args.why());");
  w.line("return;");
  w.close();
  w.line("reinterpret_cast<{}>(fn)({});", cb.typedef_name, call_args);
  w.close();
  w.blank();
}

class StubWriter {
 public:
  StubWriter(const Api& api, const Function& f, CodeWriter& w, const std::map<std::string, std::string>& invokers)
      : api_(api), f_(f), w_(w), invokers_(invokers) {}

  void emit() {
    w_.open("extern \"C\" {} {{", prototype(f_, "remora_remote_" + f_.name));
    // REMORA_ANSWER_IF: what the vendor is known to answer, answered here.
    if (!f_.answer_if.empty()) w_.line("if ({}) return {};", f_.answer_if, f_.answer_value);
    w_.line("remora::guest::Runtime& rt = {}();", api_symbol(api_, "runtime"));
    if (!api_.errors.deinitialized.empty() && api_.errors.deinitialized != api_.errors.transport)
      w_.line("if (!rt.ensure_connected().ok()) {{ if (rt.stopped()) {} {} }}", fail(f_, api_.errors.deinitialized),
              fail(f_, api_.errors.transport));
    else
      w_.line("if (!rt.ensure_connected().ok()) {}", fail(f_, api_.errors.transport));
    // A server built from another spec may lack this opcode or declare it differently (the handshake
    // said so): the call alone fails, as the API's "not supported".
    w_.line("if (!rt.serves({})) {{ rt.unserved({}); {} }}", op_const(f_), op_const(f_), fail(f_, api_.errors.unsupported));

    if (async_capable(f_)) {
      if (f_.returns != Function::Returns::kStatus && f_.returns != Function::Returns::kVoid)
        w_.line("#error \"remora-gen: an asynchronous function must return the status or void\"");
      w_.line("const bool remora_async = rt.async_enabled(){};",
              f_.blocking_if.empty() ? "" : " && !(" + f_.blocking_if + ")");
    }
    const Param* deferred = deferred_param(f_);
    if (deferred)
      w_.line("[[maybe_unused]] const bool remora_deferred = {};", f_.blocking_if.empty() ? "true" : "!(" + f_.blocking_if + ")");
    for (const Param& p : f_.params)
      if (!p.consumed) validate(p);
    create();
    // The hand-written thread-state hook runs before begin_call: an asynchronous call is encoded
    // straight into the batch, which begin_call(true) holds locked until end_async, so from there to
    // end_async only encoding may happen (no return, no runtime or hand-written call).
    if (!api_.thread_state_guest.empty())
      w_.line("const uint64_t remora_thread_state = {}(rt);  // REMORA_THREAD_STATE", api_.thread_state_guest);
    w_.line("[[maybe_unused]] remora::wire::Writer& w = rt.begin_call({});", async_capable(f_) ? "remora_async" : "");
    if (!api_.thread_state_guest.empty()) w_.line("w.put_u64(remora_thread_state);");
    for (const Param& p : f_.params)
      if (!p.consumed) encode(p);
    if (async_capable(f_)) async_branch();
    sync_branch();
    w_.close();
    w_.blank();
  }

 private:
  std::string undo_fail(const std::string& err) {
    if (undo_.empty()) return fail(f_, err);
    return "{ remora_undo(); " + fail(f_, err) + " }";
  }
  bool by_reference(const Param& p) const { return !async_capable(f_) || p.elem_type == "void"; }

  void validate(const Param& p) {
    const std::string& n = p.name;
    switch (p.kind) {
      case ParamKind::kHandle:
        w_.line("uint64_t {}_id = 0;", n);
        // A special handle value (CU_STREAM_PER_THREAD) stands for an object the application does
        // not own: releasing it is an invalid handle, never a release of what it resolves to.
        if (n == f_.releases)
          w_.line("if (remora::guest::Objects::special({})) {}", n, fail(f_, invalid_of(api_, p.handle_type)));
        w_.line("if (!rt.objects().to_id({}, {}, &{}_id)) {}", n, type_const(p.handle_type), n,
                fail(f_, invalid_of(api_, p.handle_type)));
        break;
      case ParamKind::kBuffer: {
        w_.line("uint64_t {}_bytes = 0;", n);
        w_.open("if ({} != nullptr) {{", n);
        if (!p.count_expr.empty())
          w_.line("if (remora::wire::mul_overflows(static_cast<uint64_t>({}), {}, &{}_bytes)) {}", p.count_expr,
                  elem_size(p), n, fail(f_, api_.errors.invalid));
        else if (!p.bytes_expr.empty())
          w_.line("{}_bytes = static_cast<uint64_t>({});", n, p.bytes_expr);
        else
          w_.line("{}_bytes = {};", n, elem_size(p));
        w_.line("if ({}_bytes > remora::wire::Limits{{}}.max_array_bytes) {}", n, fail(f_, api_.errors.invalid));
        w_.close();
        if ((!p.struct_handles.empty() || !p.zero_fields.empty()) && p.dir != Direction::kOut) {
          w_.line("std::vector<{}> {}_copy;", p.elem_type, n);
          w_.open("if ({} != nullptr) {{", n);
          w_.line("{0}_copy.assign({0}, {0} + {0}_bytes / sizeof({1}));", n, p.elem_type);
          w_.open("for ([[maybe_unused]] {}& e : {}_copy) {{", p.elem_type, n);
          // REMORA_ZERO_FIELDS: host data of no use to the server never leaves the guest.
          for (const std::string& z : p.zero_fields) w_.line("e.{} = nullptr;", z);
          for (const StructHandleField& s : p.struct_handles) {
            w_.line("static_assert(sizeof(e.{}) == sizeof(uint64_t), \"handle fields travel as u64 ids\");", s.field);
            w_.line("uint64_t {}_id = 0;", s.field);
            w_.line("if (!rt.objects().to_id(e.{0}, {1}, &{0}_id)) {2}", s.field, type_const(s.handle_type),
                    fail(f_, invalid_of(api_, s.handle_type)));
            w_.line("std::memcpy(&e.{0}, &{0}_id, sizeof(uint64_t));", s.field);
          }
          w_.close();
          w_.close();
        }
        break;
      }
      case ParamKind::kHandleArray:
        if (p.dir == Direction::kIn) {
          w_.line("std::vector<uint64_t> {}_ids;", n);
          w_.open("if ({} != nullptr) {{", n);
          w_.line("const uint64_t remora_n = static_cast<uint64_t>({});", p.count_expr);
          w_.line("if (remora_n > remora::wire::Limits{{}}.max_array_count) {}", fail(f_, api_.errors.invalid));
          w_.line("{}_ids.resize(remora_n);", n);
          w_.line("for (uint64_t i = 0; i < remora_n; ++i)");
          w_.line("  if (!rt.objects().to_id({0}[i], {1}, &{0}_ids[i])) {2}", n, type_const(p.handle_type),
                  fail(f_, invalid_of(api_, p.handle_type)));
          w_.close();
        } else if (guest_chosen(f_, p)) {
          if (!p.count_expr.empty())
            w_.line("#error \"remora-gen: {}: an asynchronous function can create a single handle only\"", n);
        } else {
          w_.line("uint64_t {}_count = remora::wire::kAbsent;", n);
          w_.open("if ({} != nullptr) {{", n);
          w_.line("{}_count = static_cast<uint64_t>({});", n, p.count_expr.empty() ? "1" : p.count_expr);
          w_.line("if ({}_count > remora::wire::Limits{{}}.max_array_count) {}", n, fail(f_, api_.errors.invalid));
          w_.close();
        }
        break;
      case ParamKind::kStrings:
      case ParamKind::kBinaries:
        w_.line("if ({} != nullptr && static_cast<uint64_t>({}) > remora::wire::Limits{{}}.max_array_count) {}", n,
                p.count_param, fail(f_, api_.errors.invalid));
        break;
      case ParamKind::kProperties:
        w_.line("std::vector<{}> {}_list;", p.elem_type, n);
        w_.open("if ({} != nullptr) {{", n);
        w_.line("size_t n = 0;  // index of the terminating 0 key");
        w_.line("while ({}[n] != 0) {{", n);
        w_.line("  n += 2;");
        w_.line("  if (n > kRemoraMaxProperties) {}", fail(f_, api_.errors.invalid));
        w_.line("}}");
        w_.line("{0}_list.assign({0}, {0} + n + 1);", n);
        if (!p.property_handles.empty()) {
          w_.open("for (size_t i = 0; i < n; i += 2) {{");
          for (const PropertyHandleKey& k : p.property_handles) {
            w_.open("if ({}_list[i] == static_cast<{}>({})) {{", n, p.elem_type, k.key);
            w_.line("uint64_t id = 0;");
            w_.line("const void* h = reinterpret_cast<const void*>(static_cast<intptr_t>({}_list[i + 1]));", n);
            w_.line("if (!rt.objects().to_id(h, {}, &id)) {}", type_const(k.handle_type),
                    fail(f_, invalid_of(api_, k.handle_type)));
            w_.line("{}_list[i + 1] = static_cast<{}>(id);", n, p.elem_type);
            w_.close();
          }
          w_.close();
        }
        w_.close();
        break;
      default: break;
    }
  }

  // Side effects, after every check that can fail.
  void create() {
    for (const Param& p : f_.params) {
      if (p.consumed) continue;
      if (guest_chosen(f_, p)) {
        w_.line("remora::guest::Object* {0}_obj = {0} != nullptr ? rt.objects().create({1}) : nullptr;", p.name,
                type_const(p.handle_type));
        undo_ += fmt::format("if ({0}_obj) rt.objects().retire({0}_obj); ", p.name);
      } else if (p.kind == ParamKind::kCallback && p.callback) {
        const Param* ud = find_param(f_, p.callback->user_data_param);
        w_.line("const uint64_t {0}_cb = {0} != nullptr ? rt.callbacks().add(&{1}, reinterpret_cast<void*>({0}), {2}, {3}) : 0;",
                p.name, invokers_.at(p.name), ud ? ud->name : "nullptr", p.callback->once ? "true" : "false");
        undo_ += fmt::format("if ({0}_cb) rt.callbacks().remove({0}_cb); ", p.name);
      } else if (!p.deferred_event.empty() && p.dir != Direction::kIn) {
        w_.line("const uint64_t {0}_token = remora_deferred && {0} != nullptr ? rt.deferred().expect({0}, {0}_bytes) : 0;",
                p.name);
        undo_ += fmt::format("if ({0}_token) rt.deferred().cancel({0}_token); ", p.name);
      }
    }
    if (!undo_.empty()) w_.line("auto remora_undo = [&] {{ {}}};", undo_);
  }

  void encode(const Param& p) {
    const std::string& n = p.name;
    switch (p.kind) {
      case ParamKind::kScalar:
        if (!p.send_expr.empty())  // REMORA_SEND: what the guest emulates travels as something else
          w_.line("w.put(static_cast<{}>({}));", strip_top_const(p.c_type), p.send_expr);
        else
          w_.line("w.put({});", n);
        break;
      case ParamKind::kHandle: w_.line("w.put_u64({}_id);", n); break;
      case ParamKind::kString: w_.line("w.put_string({});", n); break;
      case ParamKind::kBuffer:
        if (p.dir == Direction::kOut) {
          if (!p.deferred_event.empty())
            w_.line("w.put_u64({0} == nullptr ? remora::wire::kAbsent : remora_deferred ? {0}_token : {0}_bytes);", n);
          else
            w_.line("w.put_u64({0} != nullptr ? {0}_bytes : remora::wire::kAbsent);", n);
        } else if (!p.struct_handles.empty() || !p.zero_fields.empty()) {
          w_.line("w.put_bytes_copy({0} != nullptr ? remora_nonnull({0}_copy.data()) : nullptr, {0}_bytes);", n);
        } else {
          w_.line("w.{}({}, {}_bytes);", by_reference(p) ? "put_bytes" : "put_bytes_copy", n, n);
          if (!p.deferred_event.empty() && p.dir == Direction::kInOut) w_.line("w.put_u64({}_token);", n);
        }
        break;
      case ParamKind::kHandleArray:
        if (p.dir == Direction::kIn)
          w_.line("w.put_bytes_copy({0} != nullptr ? remora_nonnull({0}_ids.data()) : nullptr, {0}_ids.size() * sizeof(uint64_t));", n);
        else if (guest_chosen(f_, p))
          w_.line("{{ const uint64_t id = {0}_obj ? {0}_obj->id : 0; w.put_bytes_copy({0}_obj ? &id : nullptr, sizeof(id)); }}", n);
        else
          w_.line("w.put_u64({}_count);", n);
        break;
      case ParamKind::kStrings:
      case ParamKind::kBinaries: {
        const std::string& lens = p.lengths_param;
        std::string put = async_capable(f_) ? "put_bytes_copy" : "put_bytes";
        w_.open("if ({} == nullptr) {{", n);
        w_.line("w.put_u64(remora::wire::kAbsent);");
        w_.middle("} else {");
        // remora_ prefix: the spec's own parameter may well be called `count`.
        w_.line("const uint64_t remora_count = static_cast<uint64_t>({});", p.count_param);
        w_.line("w.put_u64(remora_count);");
        w_.open("for (uint64_t i = 0; i < remora_count; ++i) {{");
        if (p.kind == ParamKind::kBinaries) {
          w_.line("w.{}({}[i], {} != nullptr ? {}[i] : 0);", put, n, lens, lens);
        } else if (lens.empty()) {
          w_.line("w.put_string({}[i]);", n);
        } else {
          w_.line("const size_t len = {0}[i] == nullptr ? 0 : ({1} == nullptr || {1}[i] == 0) ? std::strlen({0}[i]) : {1}[i];", n, lens);
          w_.line("w.{}({}[i], len);", put, n);
        }
        w_.close();
        w_.close();
        break;
      }
      case ParamKind::kProperties:
        w_.line("w.put_bytes_copy({0} != nullptr ? {0}_list.data() : nullptr, {0}_list.size() * sizeof({1}));", n, p.elem_type);
        break;
      case ParamKind::kCallback: w_.line("w.put_u64({}_cb);", n); break;
      case ParamKind::kUserData: break;
      case ParamKind::kErrcode: w_.line("w.put_u32({} != nullptr);", n); break;
    }
  }

  void lifetime_effects(const std::string& ok) {
    if (!f_.retains.empty())
      w_.line("if ({0} && {1} != nullptr) rt.objects().add_ref(remora::guest::Objects::as_object({1}));", ok, f_.retains);
    if (!f_.releases.empty())
      w_.line("if ({0} && {1} != nullptr) rt.objects().drop_ref(remora::guest::Objects::as_object({1}));", ok, f_.releases);
  }

  void async_branch() {
    w_.open("if (remora_async) {{");
    w_.line("if (!rt.end_async({}).ok()) {}", op_const(f_), undo_fail(api_.errors.transport));
    for (const Param& p : f_.params)
      if (!p.consumed && guest_chosen(f_, p))
        w_.line("if ({0} != nullptr) *{0} = reinterpret_cast<{1}>({0}_obj);", p.name, p.handle_type);
    lifetime_effects("true");
    w_.raw_line(f_.returns == Function::Returns::kStatus ? "return " + api_.errors.success + ";" : "return;");
    w_.close();
  }

  void sync_branch() {
    w_.line("remora::guest::Reply reply;");
    if (f_.cache) {
      // REMORA_CACHE: a reply to the same encoded arguments is answered from the guest's cache;
      // only successful replies are kept.
      w_.line("const bool remora_cacheable = {};", f_.cache_unless.empty() ? "true" : "!(" + f_.cache_unless + ")");
      w_.line("const bool remora_hit = remora_cacheable && rt.cache_lookup({}, &reply);", op_const(f_));
      w_.line("if (!remora_hit && !rt.end_sync({}, &reply).ok()) {}", op_const(f_), undo_fail(api_.errors.transport));
      w_.line("const remora::wire::Reader remora_body = reply.body;");
    } else {
      w_.line("if (!rt.end_sync({}, &reply).ok()) {}", op_const(f_), undo_fail(api_.errors.transport));
    }
    w_.line("remora::wire::Reader& r = reply.body;");
    const std::string& rt_type = f_.return_type;
    switch (f_.returns) {
      case Function::Returns::kStatus:
      case Function::Returns::kScalar: w_.line("{} ret = r.get<{}>();", rt_type, rt_type); break;
      case Function::Returns::kHandle:
        w_.line("const uint64_t ret_id = r.get_u64();");
        if (!f_.errcode_param.empty()) w_.line("const {0} ret_status = r.get<{0}>();", api_.errors.type);
        break;
      case Function::Returns::kPointer: w_.line("const uint64_t ret_token = r.get_u64();"); break;
      case Function::Returns::kVoid: break;
    }
    for (const Param& p : f_.params) {
      if (p.consumed) continue;
      bool out_buf = p.kind == ParamKind::kBuffer && p.dir != Direction::kIn;
      bool out_handles = p.kind == ParamKind::kHandleArray && p.dir != Direction::kIn && !guest_chosen(f_, p);
      if (!out_buf && !out_handles) continue;
      w_.line("bool {}_absent = true;", p.name);
      w_.line("std::span<const uint8_t> {}_reply;", p.name);
      if (!p.deferred_event.empty())
        w_.line("if (!remora_deferred) {0}_reply = r.get_bytes(&{0}_absent);", p.name);
      else
        w_.line("{0}_reply = r.get_bytes(&{0}_absent);", p.name);
    }
    w_.line("if (!r.ok()) {}", undo_fail(api_.errors.transport));
    switch (f_.returns) {
      case Function::Returns::kStatus: w_.line("[[maybe_unused]] const bool remora_ok = ret == {};", api_.errors.success); break;
      case Function::Returns::kHandle: w_.line("[[maybe_unused]] const bool remora_ok = ret_id != 0;"); break;
      default: w_.line("[[maybe_unused]] const bool remora_ok = true;"); break;
    }
    if (f_.cache) w_.line("if (remora_ok && remora_cacheable && !remora_hit) rt.cache_store({}, remora_body);", op_const(f_));
    for (const Param& p : f_.params) {
      if (p.consumed) continue;
      apply(p);
    }
    if (!undo_.empty()) w_.line("if (!remora_ok) remora_undo();");
    lifetime_effects("remora_ok");
    if (f_.returns == Function::Returns::kHandle) {
      w_.line("remora::guest::Object* ret_obj = rt.objects().from_id(ret_id, {});", type_const(f_.return_handle_type));
      w_.line("if (ret_obj != nullptr) rt.objects().add_ref(ret_obj);");
      // REMORA_RECORD: the glue's record of the new object, dropped by the type's retire hook.
      if (!f_.record.empty()) w_.line("if (ret_obj != nullptr) ret_obj->api_data = static_cast<void*>({});", f_.record);
    }
    if (f_.sync_point() && f_.returns == Function::Returns::kStatus) {
      w_.open("if (remora_ok) {{");
      w_.line("uint32_t op = 0;");
      w_.line("int64_t value = 0;");
      w_.open("if (rt.take_async_error(&op, &value)) {{");
      w_.line("rt.log_error(std::string(\"{}: reporting the failure of an earlier asynchronous \") +", f_.name);
      w_.line("             (op < rt.api().num_opcodes ? rt.api().opcode_names[op] : \"call\") + \": \" + std::to_string(value));");
      w_.line("ret = static_cast<{}>(value);", rt_type);
      w_.close();
      w_.close();
    }
    switch (f_.returns) {
      case Function::Returns::kStatus:
      case Function::Returns::kScalar: w_.line("return ret;"); break;
      case Function::Returns::kHandle: w_.line("return reinterpret_cast<{}>(ret_obj);", f_.return_type); break;
      case Function::Returns::kPointer:
        w_.line("return reinterpret_cast<{}>(static_cast<uintptr_t>(ret_token));", f_.return_type);
        break;
      case Function::Returns::kVoid: break;
    }
  }

  void apply(const Param& p) {
    const std::string& n = p.name;
    if (p.kind == ParamKind::kBuffer && p.dir != Direction::kIn) {
      w_.open("if (!{0}_absent && {0} != nullptr) {{", n);
      w_.line("const uint64_t n = std::min<uint64_t>({0}_reply.size(), {0}_bytes);", n);
      w_.line("std::memcpy({0}, {0}_reply.data(), n);", n);
      for (const HandlesWhen& hw : p.handles_when) {
        w_.open("if ({} == ({})) {{", hw.selector, hw.value);
        if (hw.property_keys.empty()) {
          w_.line("remora_ids_to_handles(rt, {}, n / sizeof(uint64_t), {});", n, type_const(hw.handle_type));
        } else {
          w_.line("auto* list = reinterpret_cast<intptr_t*>({});", n);
          w_.open("for (uint64_t i = 0; i + 1 < n / sizeof(intptr_t) && list[i] != 0; i += 2) {{");
          for (const PropertyHandleKey& k : hw.property_keys)
            w_.line("if (list[i] == static_cast<intptr_t>({})) list[i + 1] = reinterpret_cast<intptr_t>(rt.objects().from_id(static_cast<uint64_t>(list[i + 1]), {}));",
                    k.key, type_const(k.handle_type));
          w_.close();
        }
        w_.close();
      }
      if (!p.struct_handles.empty()) {
        w_.open("for (uint64_t i = 0; i < n / sizeof({}); ++i) {{", p.elem_type);
        for (const StructHandleField& s : p.struct_handles)
          w_.line("remora_ids_to_handles(rt, &{}[i].{}, 1, {});", n, s.field, type_const(s.handle_type));
        w_.close();
      }
      w_.close();
    } else if (p.kind == ParamKind::kHandleArray && p.dir != Direction::kIn) {
      if (guest_chosen(f_, p)) {
        w_.line("if (remora_ok && {0} != nullptr) *{0} = reinterpret_cast<{1}>({0}_obj);", n, p.handle_type);
        return;
      }
      w_.open("if (!{0}_absent && {0} != nullptr) {{", n);
      w_.line("const uint64_t n = std::min<uint64_t>({0}_reply.size() / sizeof(uint64_t), {0}_count);", n);
      w_.open("for (uint64_t i = 0; i < n; ++i) {{");
      w_.line("uint64_t id = 0;");
      w_.line("std::memcpy(&id, {}_reply.data() + i * sizeof(uint64_t), sizeof(id));", n);
      w_.line("remora::guest::Object* o = rt.objects().from_id(id, {});", type_const(p.handle_type));
      if (!p.existing) w_.line("if (o != nullptr) rt.objects().add_ref(o);");
      w_.line("{}[i] = reinterpret_cast<{}>(o);", n, p.handle_type);
      w_.close();
      w_.close();
    } else if (p.kind == ParamKind::kErrcode) {
      if (f_.returns == Function::Returns::kHandle)
        w_.line("if ({0} != nullptr) *{0} = ret_status;", n);
      else if (f_.returns == Function::Returns::kStatus)
        w_.line("if ({0} != nullptr) *{0} = ret;", n);
    }
  }

  const Api& api_;
  const Function& f_;
  CodeWriter& w_;
  const std::map<std::string, std::string>& invokers_;
  std::string undo_;
};

// The body's first lines of a refusal: the application learns once per function why it failed.
void emit_log_once(CodeWriter& w, const Api& api, const std::string& message) {
  w.line("static std::atomic<bool> logged{{false}};");
  w.line("if (!logged.exchange(true))");
  w.line("  {}().log_error({});", api_symbol(api, "runtime"), quote(message));
}

void emit_unsupported(CodeWriter& w, const Api& api, const Function& f) {
  w.open("extern \"C\" {} {{", prototype(f, "remora_unsupported_" + f.name));
  emit_log_once(w, api, f.name + " is not supported by remora: " + f.unsupported_reason);
  w.line("{}", fail(f, api.errors.unsupported));
  w.close();
  w.blank();
}

// REMORA_REFUSE_UNLISTED: a vendor function the spec leaves out, exported under its own name with the
// header's prototype (the header's declaration in the same translation unit checks it). Its parameters
// are unnamed, as the header need not name them: a refusal reads none.
void emit_refusal(CodeWriter& w, const Api& api, const UnlistedFunction& u) {
  std::string params;
  for (const std::string& t : u.param_types) params += (params.empty() ? "" : ", ") + t;
  w.open("extern \"C\" __attribute__((visibility(\"default\"))) {}({}) {{", declare(u.return_type, u.name),
         params.empty() ? "void" : params);
  emit_log_once(w, api, u.name + " is not implemented by remora (answers " + u.refusal + ")");
  w.line("return {};", u.refusal);
  w.close();
}

}  // namespace

std::string emit_guest_source(const Api& api) {
  CodeWriter w;
  w.raw_line(generated_banner(api));
  w.line("// The guest side of the {} API: encodes each call for the server.", api.name);
  w.line("#include \"{}_guest.h\"", api.name);
  w.blank();
  w.line("#include <algorithm>");
  w.line("#include <atomic>");
  w.line("#include <cstring>");
  w.line("#include <span>");
  w.line("#include <string>");
  w.line("#include <vector>");
  w.blank();
  w.line("using namespace remora::{};", api.name);
  w.blank();
  w.line("namespace {{");
  w.blank();
  w.line("// Property lists longer than this many entries are refused (errors.invalid).");
  w.line("constexpr size_t kRemoraMaxProperties = 4096;");
  w.blank();
  w.line("// A non-null pointer for an empty array that is present (a null one would encode as absent).");
  w.open("[[maybe_unused]] const void* remora_nonnull(const void* p) {{");
  w.line("static const uint64_t empty = 0;");
  w.line("return p != nullptr ? p : &empty;");
  w.close();
  w.blank();
  w.line("// Replaces `n` u64 ids stored at `at` (one per pointer-sized slot) by the guest's Objects.");
  w.open("[[maybe_unused]] void remora_ids_to_handles(remora::guest::Runtime& rt, void* at, uint64_t n, uint32_t type) {{");
  w.line("static_assert(sizeof(void*) == sizeof(uint64_t), \"handles travel as u64 ids in pointer-sized slots\");");
  w.open("for (uint64_t i = 0; i < n; ++i) {{");
  w.line("uint64_t id = 0;");
  w.line("std::memcpy(&id, static_cast<uint8_t*>(at) + i * sizeof(id), sizeof(id));");
  w.line("void* h = rt.objects().from_id(id, type);");
  w.line("std::memcpy(static_cast<uint8_t*>(at) + i * sizeof(id), &h, sizeof(h));");
  w.close();
  w.close();
  w.blank();
  // Callback invokers, one per callback signature.
  std::map<std::string, std::string> by_key;     // signature -> invoker
  std::map<const Function*, std::map<std::string, std::string>> per_function;
  for (const Function& f : api.functions) {
    if (!is_forwarded(f)) continue;
    for (const Param& p : f.params) {
      if (p.kind != ParamKind::kCallback || !p.callback) continue;
      std::string key = callback_key(*p.callback);
      auto it = by_key.find(key);
      if (it == by_key.end()) {
        std::string name = "remora_invoke_" + p.callback->typedef_name;
        emit_invoker(w, api, *p.callback, name);
        it = by_key.emplace(key, name).first;
      }
      per_function[&f][p.name] = it->second;
    }
  }
  w.raw_line("}  // namespace");
  w.blank();
  for (const Function& f : api.functions) {
    if (is_forwarded(f)) StubWriter(api, f, w, per_function[&f]).emit();
    if (f.impl == Implementation::kUnsupported) emit_unsupported(w, api, f);
  }
  // Exported entry points, for a guest library that stands in for the vendor's own (CUDA's libcuda)
  // rather than being reached through a dispatch table (OpenCL's ICD): compiled only when the build
  // defines REMORA_<API>_EXPORT_ENTRY_POINTS. remora's own auxiliary calls are never exported; the
  // vendor functions the spec leaves out are, where REMORA_REFUSE_UNLISTED refuses them.
  w.line("#ifdef REMORA_{}_EXPORT_ENTRY_POINTS", upper(api.name));
  for (const Function& f : api.functions) {
    if (f.auxiliary) continue;
    const std::string entry = guest_entry(f);
    w.open("extern \"C\" __attribute__((visibility(\"default\"))) {} {{", prototype(f, f.name));
    w.line("{}{}({});", f.returns == Function::Returns::kVoid ? "" : "return ", entry, arg_names(f));
    w.close();
  }
  for (const UnlistedFunction& u : api.undeclared)
    if (!u.refusal.empty()) emit_refusal(w, api, u);
  // The older ABIs no header declares (REMORA_PROC_TYPEDEFS_HIDDEN): by name, reading no arguments.
  for (const RefusedAbi& r : api.refused_abis) {
    if (r.declared || r.refusal.empty()) continue;
    UnlistedFunction u;
    u.name = r.symbol;
    u.return_type = api.errors.type;
    u.refusal = r.refusal;
    w.raw_line(fmt::format("#undef {}", r.symbol));
    emit_refusal(w, api, u);
  }
  w.line("#endif  // REMORA_{}_EXPORT_ENTRY_POINTS", upper(api.name));
  w.blank();
  // The descriptor.
  w.line("// Indexed by handle type: REMORA_HANDLE_WITH_RECORD's functions.");
  w.open("static const remora::guest::RetireHook kRetireHooks[kNumHandleTypes + 1] = {{");
  w.line("nullptr,");
  for (const HandleType& h : api.handle_types) w.line("{},", h.on_retire.empty() ? "nullptr" : "&" + h.on_retire);
  w.close("};");
  w.line("extern const remora::guest::ApiDescriptor {} = {{", api_symbol(api, "api"));
  w.line("    {}, kOpcodeTable, kNumOpcodes, kOpcodeNames, kNumHandleTypes + 1, kRetireHooks, kHandleAccepts}};", quote(api.name));
  return w.str();
}

}  // namespace remora::gen
