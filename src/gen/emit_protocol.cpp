// <api>_protocol.h: opcodes, handle type ids, the opcode signatures, and the callback function types, shared
// by the guest and the server sources.
//
// Contract decisions (docs/generated-code.md leaves them open):
// - Vendor headers are included as <header>, as the spec spelled them (the front end keeps angled
//   includes only).
// - Each callback parameter gets `using <typedef_name> = <its C type>;` here, at global scope, so the
//   guest invoker and the server trampoline agree on the exact type (calling convention included).
// - kOpcodeNames (indexed by opcode, "" for gaps) lives here too: both ApiDescriptor and ApiServer
//   point at it.
#include <algorithm>
#include <set>

#include "common/protocol.h"
#include "gen/emit_common.h"
#include "gen/emitters.h"

namespace remora::gen {

uint32_t max_opcode(const Api& api) {
  uint32_t m = 0;
  for (const Function& f : api.functions) m = std::max(m, f.opcode);
  return m;
}

std::string emit_protocol_header(const Api& api) {
  CodeWriter w;
  w.raw_line(generated_banner(api));
  w.line("// Wire constants of the {} API, shared by its guest and server.", api.name);
  w.line("#pragma once");
  w.blank();
  w.line("#include <cstdint>");
  w.blank();
  for (const std::string& h : api.headers) w.line("#include <{}>", h);
  w.blank();
  if (const std::string legacy = legacy_abi_declarations(api); !legacy.empty()) {
    w.raw_line(legacy);
    w.blank();
  }
  w.line("#include \"common/protocol.h\"");
  w.blank();
  // Callback types, by the generated typedef names.
  std::set<std::string> seen;
  for (const Function& f : api.functions)
    for (const Param& p : f.params)
      if (p.kind == ParamKind::kCallback && p.callback && seen.insert(p.callback->typedef_name).second)
        w.line("using {} = {};", p.callback->typedef_name, p.c_type);
  if (!seen.empty()) w.blank();

  w.line("namespace remora::{} {{", api.name);
  w.blank();
  w.line("static_assert(remora::protocol::kWireVersion == {},", protocol::kWireVersion);
  w.line("              \"generated for remora wire version {}: rebuild with the matching remora-gen\");",
         protocol::kWireVersion);
  w.blank();
  w.open("enum Opcode : uint32_t {{");
  std::vector<const Function*> ops;
  for (const Function& f : api.functions)
    if (f.opcode != 0) ops.push_back(&f);
  std::sort(ops.begin(), ops.end(), [](const Function* a, const Function* b) { return a->opcode < b->opcode; });
  for (const Function* f : ops) w.line("{} = {},", op_const(*f), f->opcode);
  w.close("};");
  w.line("inline constexpr uint32_t kNumOpcodes = {};  // highest opcode + 1", max_opcode(api) + 1);
  w.blank();
  w.open("enum HandleTypeId : uint32_t {{");
  for (const HandleType& h : api.handle_types) w.line("{} = {},", type_const(h.name), h.index);
  w.close("};");
  uint32_t max_type = 0;
  for (const HandleType& h : api.handle_types) max_type = std::max(max_type, h.index);
  w.line("inline constexpr uint32_t kNumHandleTypes = {};  // types are 1..kNumHandleTypes", max_type);
  w.line("static_assert(kNumHandleTypes < 64, \"kHandleAccepts holds a type's set in one word\");");
  w.line("// Indexed by handle type: the other types a parameter of it takes (REMORA_HANDLE_ACCEPTS), one bit each.");
  w.open("inline constexpr uint64_t kHandleAccepts[kNumHandleTypes + 1] = {{");
  w.line("0,");
  for (const HandleType& h : api.handle_types) {
    std::string mask;
    for (const std::string& o : h.accepts)
      if (const HandleType* t = api.find_handle(o)) mask += (mask.empty() ? "" : " | ") + fmt::format("(uint64_t{{1}} << {})", t->index);
    w.line("{},  // {}", mask.empty() ? "0" : mask, h.name);
  }
  w.close("};");
  w.blank();
  w.line("// Indexed by opcode; \"\" for unused opcodes.");
  w.open("inline constexpr const char* kOpcodeNames[kNumOpcodes] = {{");
  for (uint32_t op = 0; op <= max_opcode(api); ++op) {
    std::string name;
    for (const Function* f : ops)
      if (f->opcode == op) name = f->name;
    w.line("{},", quote(name));
  }
  w.close("};");
  w.blank();
  w.line("// Indexed by opcode: each forwarded function's wire signature (Api::signature), compared per opcode");
  w.line("// in the handshake; 0 for unused opcodes. Pinned by {}.opcodes beside the spec.", api.name);
  w.open("inline constexpr uint64_t kOpcodeSignatures[kNumOpcodes] = {{");
  for (uint32_t op = 0; op <= max_opcode(api); ++op) {
    uint64_t sig = 0;
    for (const Function* f : ops)
      if (f->opcode == op && is_forwarded(*f)) sig = api.signature(*f);
    w.line("{:#018x}ull,", sig);
  }
  w.close("};");
  w.line("inline constexpr remora::protocol::OpcodeTable kOpcodeTable{{kNumOpcodes, kOpcodeNames, kOpcodeSignatures}};");
  w.blank();
  w.raw_line(fmt::format("}}  // namespace remora::{}", api.name));
  return w.str();
}

std::string emit_guest_header(const Api& api) {
  CodeWriter w;
  w.raw_line(generated_banner(api));
  w.line("// Declarations for the {} API's hand-written guest glue.", api.name);
  w.line("#pragma once");
  w.blank();
  w.line("#include \"{}_protocol.h\"", api.name);
  w.line("#include \"guest/runtime.h\"");
  w.blank();
  w.line("// The glue owns the runtime; generated functions reach it through this.");
  w.line("remora::guest::Runtime& {}();", api_symbol(api, "runtime"));
  w.line("extern const remora::guest::ApiDescriptor {};", api_symbol(api, "api"));
  w.blank();
  w.line("#define REMORA_GUEST_HIDDEN __attribute__((visibility(\"hidden\")))");
  w.blank();
  bool any_record = false;
  for (const HandleType& h : api.handle_types) any_record |= !h.on_retire.empty();
  if (any_record) {
    w.line("// Defined by the glue (REMORA_HANDLE_WITH_RECORD): drop the record of a retired object.");
    for (const HandleType& h : api.handle_types)
      if (!h.on_retire.empty()) w.line("REMORA_GUEST_HIDDEN void {}(remora::guest::Object* o);", h.on_retire);
    w.blank();
  }
  if (!api.thread_state_guest.empty()) {
    w.line("// Defined by the glue (REMORA_THREAD_STATE): the calling thread's API state, sent with every call.");
    w.line("REMORA_GUEST_HIDDEN uint64_t {}(remora::guest::Runtime& rt);", api.thread_state_guest);
    w.blank();
  }
  w.open("extern \"C\" {{");
  for (const Function& f : api.functions) {
    if (is_forwarded(f)) w.line("REMORA_GUEST_HIDDEN {};", prototype(f, "remora_remote_" + f.name));
    if (f.impl == Implementation::kUnsupported)
      w.line("REMORA_GUEST_HIDDEN {};", prototype(f, "remora_unsupported_" + f.name));
    if ((f.impl == Implementation::kGuestHook || f.impl == Implementation::kLocal) && !f.hook.empty())
      w.line("REMORA_GUEST_HIDDEN {};  // hand-written", prototype(f, f.hook));
  }
  w.close("}  // extern \"C\"");
  w.blank();
  // X-macro lists: X(name, entry).
  for (bool ext : {false, true}) {
    w.line("// X(name, entry): every {} function of the spec and the symbol that implements it.",
           ext ? "extension" : "core");
    std::string macro = fmt::format("#define REMORA_{}_{}_FUNCTIONS(X)", upper(api.name), ext ? "EXTENSION" : "CORE");
    w.raw_line(macro + " \\");
    for (const Function& f : api.functions) {
      if (f.extension != ext) continue;
      const std::string entry = guest_entry(f);
      w.line("  X({}, {}) \\", f.name, entry);
    }
    w.blank();
  }
  // REMORA_PROC_TYPEDEFS: X(symbol, entry, abi version) for a lookup by name and version.
  if (!api.proc_typedef_prefix.empty()) {
    w.line("// X(symbol, entry, version): every vendor function with the version that introduced its ABI (0: unknown).");
    w.raw_line(fmt::format("#define REMORA_{}_PROC_ENTRIES(X) \\", upper(api.name)));
    for (const Function& f : api.functions) {
      if (f.auxiliary) continue;
      const std::string entry = guest_entry(f);
      w.line("  X({}, {}, {}) \\", f.name, entry, f.abi_version);
    }
    w.blank();
    w.line("// X(base, symbol, version): every other ABI the vendor's headers name, which the guest library");
    w.line("// exports as a refusal under `symbol` (REMORA_REFUSE_UNLISTED).");
    w.raw_line(fmt::format("#define REMORA_{}_PROC_REFUSALS(X) \\", upper(api.name)));
    for (const RefusedAbi& r : api.refused_abis)
      if (!r.refusal.empty()) w.line("  X(\"{}\", \"{}\", {}) \\", r.base, r.symbol, r.version);
    w.blank();
  }
  return w.str();
}

}  // namespace remora::gen
