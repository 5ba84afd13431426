// dump_model: a stable text form of the whole model, for the front end's golden tests and for
// `remora-gen --dump-model`. Fields at their default (empty, false, 0) are left out; everything else is
// printed in a fixed order. Locations show the file name only, so goldens do not depend on the checkout.
#include <filesystem>

#include <fmt/format.h>

#include "gen/emitters.h"

namespace remora::gen {
namespace {

std::string where(const SourceLoc& l) {
  return fmt::format("{}:{}:{}", std::filesystem::path(l.file).filename().string(), l.line, l.column);
}

const char* kind_name(ParamKind k) {
  switch (k) {
    case ParamKind::kScalar: return "scalar";
    case ParamKind::kHandle: return "handle";
    case ParamKind::kString: return "string";
    case ParamKind::kBuffer: return "buffer";
    case ParamKind::kHandleArray: return "handle_array";
    case ParamKind::kStrings: return "strings";
    case ParamKind::kBinaries: return "binaries";
    case ParamKind::kProperties: return "properties";
    case ParamKind::kCallback: return "callback";
    case ParamKind::kUserData: return "user_data";
    case ParamKind::kErrcode: return "errcode";
  }
  return "?";
}

const char* dir_name(Direction d) {
  switch (d) {
    case Direction::kIn: return "in";
    case Direction::kOut: return "out";
    case Direction::kInOut: return "inout";
  }
  return "?";
}

const char* returns_name(Function::Returns r) {
  switch (r) {
    case Function::Returns::kVoid: return "void";
    case Function::Returns::kStatus: return "status";
    case Function::Returns::kHandle: return "handle";
    case Function::Returns::kScalar: return "scalar";
    case Function::Returns::kPointer: return "pointer";
  }
  return "?";
}

const char* impl_name(Implementation i) {
  switch (i) {
    case Implementation::kGenerated: return "generated";
    case Implementation::kGuestHook: return "guest_hook";
    case Implementation::kServerHook: return "server_hook";
    case Implementation::kLocal: return "local";
    case Implementation::kUnsupported: return "unsupported";
  }
  return "?";
}

const char* cb_kind_name(CallbackArg::Kind k) {
  switch (k) {
    case CallbackArg::Kind::kScalar: return "scalar";
    case CallbackArg::Kind::kHandle: return "handle";
    case CallbackArg::Kind::kString: return "string";
    case CallbackArg::Kind::kBytes: return "bytes";
    case CallbackArg::Kind::kUserData: return "user_data";
  }
  return "?";
}

// Appends ` key="value"` when value is not empty. Values are quoted because C expressions have spaces.
void field(std::string& out, const char* key, const std::string& value) {
  if (!value.empty()) out += fmt::format(" {}=\"{}\"", key, value);
}
void flag(std::string& out, const char* key, bool value) {
  if (value) out += fmt::format(" {}", key);
}

void dump_param(std::string& out, const Param& p) {
  out += fmt::format("    param {} kind={} dir={} c_type=\"{}\"", p.name, kind_name(p.kind), dir_name(p.dir), p.c_type);
  if (p.scalar_size) out += fmt::format(" size={}", p.scalar_size);
  flag(out, "nonnull", p.nonnull);
  field(out, "handle_type", p.handle_type);
  flag(out, "existing", p.existing);
  field(out, "elem", p.elem_type);
  field(out, "count", p.count_expr);
  field(out, "bytes", p.bytes_expr);
  field(out, "length_ret", p.length_ret);
  field(out, "count_param", p.count_param);
  field(out, "lengths_param", p.lengths_param);
  field(out, "deferred", p.deferred_event);
  field(out, "send", p.send_expr);
  for (const std::string& f : p.device_pointer_fields) field(out, "device_pointer", f);
  for (const std::string& f : p.zero_fields) field(out, "zero_field", f);
  flag(out, "consumed", p.consumed);
  out += fmt::format(" at {}\n", where(p.loc));
  for (const HandlesWhen& w : p.handles_when) {
    out += fmt::format("      handles_when {} == {} -> {}", w.selector, w.value, w.handle_type);
    for (const PropertyHandleKey& k : w.property_keys) out += fmt::format(" property {}:{}", k.key, k.handle_type);
    out += "\n";
  }
  for (const StructHandleField& s : p.struct_handles)
    out += fmt::format("      struct_handle {} -> {}\n", s.field, s.handle_type);
  for (const PropertyHandleKey& k : p.property_handles)
    out += fmt::format("      property_handle {} -> {}\n", k.key, k.handle_type);
  if (p.callback) {
    const Callback& cb = *p.callback;
    out += fmt::format("      callback {} returns=\"{}\" user_data={} {}\n", cb.typedef_name, cb.return_type,
                       cb.user_data_param, cb.once ? "once" : "many");
    for (const CallbackArg& a : cb.args) {
      out += fmt::format("        arg {} kind={} c_type=\"{}\"", a.name, cb_kind_name(a.kind), a.c_type);
      field(out, "handle_type", a.handle_type);
      field(out, "size_arg", a.bytes_size_arg);
      out += "\n";
    }
  }
}

}  // namespace

std::string dump_model(const Api& api) {
  std::string out;
  out += fmt::format("api {}\n", api.name);
  out += fmt::format("spec {}\n", std::filesystem::path(api.spec_path).filename().string());
  for (const std::string& h : api.headers) out += fmt::format("header {}\n", h);
  const ApiErrors& e = api.errors;
  out += fmt::format("errors type={} success={} transport={} unsupported={} invalid={} no_memory={} quota={}\n",
                     e.type, e.success, e.transport, e.unsupported, e.invalid, e.no_memory, e.quota);
  for (const HandleType& h : api.handle_types) {
    out += fmt::format("handle {} {} invalid={}", h.index, h.name, h.invalid_error);
    field(out, "retain", h.retain_fn);
    field(out, "release", h.release_fn);
    field(out, "on_retire", h.on_retire);
    for (const std::string& o : h.accepts) field(out, "accepts", o);
    out += fmt::format(" at {}\n", where(h.loc));
  }
  for (const Function& f : api.functions) {
    out += fmt::format("function {} opcode={} returns={} return_type=\"{}\"", f.name, f.opcode,
                       returns_name(f.returns), f.return_type);
    if (f.opcode != 0) out += fmt::format(" signature={:#018x}", api.signature(f));
    field(out, "return_handle", f.return_handle_type);
    out += fmt::format(" impl={}", impl_name(f.impl));
    field(out, "hook", f.hook);
    field(out, "server_hook", f.server_hook);
    flag(out, "auxiliary", f.auxiliary);
    field(out, "unsupported", f.unsupported_reason);
    flag(out, "async", f.async);
    flag(out, "blocking", f.blocking);
    field(out, "blocking_if", f.blocking_if);
    flag(out, "cache", f.cache);
    field(out, "cache_unless", f.cache_unless);
    field(out, "retains", f.retains);
    field(out, "releases", f.releases);
    if (f.resource) out += fmt::format(" resource={}:\"{}\"", f.resource->kind, f.resource->bytes_expr);
    field(out, "errcode", f.errcode_param);
    for (const std::string& r : f.requires_vendor) field(out, "requires", r);
    field(out, "requires_error", f.requires_error);
    if (f.abi_version != 0) out += fmt::format(" abi={}", f.abi_version);
    flag(out, "legacy_abi", f.legacy_abi);
    for (const Check& c : f.checks) out += fmt::format(" check=\"{}\"->{}", c.cond, c.error);
    field(out, "record", f.record);
    if (!f.answer_if.empty()) out += fmt::format(" answer_if=\"{}\"->{}", f.answer_if, f.answer_value);
    flag(out, "extension", f.extension);
    out += fmt::format(" at {}\n", where(f.loc));
    for (const Param& p : f.params) dump_param(out, p);
  }
  for (const Refusal& r : api.refusals)
    out += fmt::format("refuse_unlisted type=\"{}\" value=\"{}\" at {}\n", r.type, r.value, where(r.loc));
  for (const UnlistedFunction& u : api.undeclared) {
    out += fmt::format("undeclared {} return_type=\"{}\"", u.name, u.return_type);
    for (const std::string& t : u.param_types) out += fmt::format(" param=\"{}\"", t);
    field(out, "refusal", u.refusal);
    out += "\n";
  }
  return out;
}

}  // namespace remora::gen
