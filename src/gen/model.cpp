// Api::wire_hash: what guest and server compare in the handshake.
#include <algorithm>

#include "gen/model.h"

namespace remora::gen {
namespace {

// 64-bit FNV-1a. Every field is followed by a separator byte so that ("ab","c") and ("a","bc") differ;
// integers are fed little-endian so the hash does not depend on the host.
class Fnv {
 public:
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      h_ ^= b[i];
      h_ *= 0x100000001b3ull;
    }
  }
  Fnv& str(const std::string& s) {
    bytes(s.data(), s.size());
    sep();
    return *this;
  }
  Fnv& num(uint64_t v) {
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(v >> (8 * i));
    bytes(le, 8);
    sep();
    return *this;
  }
  uint64_t value() const { return h_; }

 private:
  void sep() {
    unsigned char z = 0xff;
    bytes(&z, 1);
  }
  uint64_t h_ = 0xcbf29ce484222325ull;
};

}  // namespace

// Covers everything that changes bytes on the wire or their meaning: opcodes, names, return and
// parameter kinds, C types, directions, lengths, handle translation, async-ness, and the handle type
// table (its indexes travel as type ids). Functions without an opcode never reach the wire and are left
// out, so adding a REMORA_LOCAL function does not break old guests.
uint64_t Api::wire_hash() const {
  Fnv h;
  h.str("remora-api").str(name);
  // A thread-state prefix changes every call's encoding.
  if (!thread_state_guest.empty()) h.str("thread-state").str(thread_state_guest).str(thread_state_server);
  for (const HandleType& t : handle_types) h.str(t.name).num(t.index);
  std::vector<const Function*> fns;
  for (const Function& f : functions)
    if (f.opcode != 0) fns.push_back(&f);
  std::sort(fns.begin(), fns.end(), [](const Function* a, const Function* b) { return a->opcode < b->opcode; });
  for (const Function* f : fns) {
    h.num(f->opcode).str(f->name).str(f->return_type).num(static_cast<uint64_t>(f->returns));
    h.num(f->async).num(f->blocking).str(f->blocking_if).num(f->params.size());
    for (const Param& p : f->params) {
      h.str(p.name).str(p.c_type).num(static_cast<uint64_t>(p.kind)).num(static_cast<uint64_t>(p.dir));
      h.str(p.handle_type).num(p.existing).str(p.elem_type).str(p.count_expr).str(p.bytes_expr).str(p.length_ret);
      for (const HandlesWhen& w : p.handles_when) {
        h.str(w.selector).str(w.value).str(w.handle_type);
        for (const PropertyHandleKey& k : w.property_keys) h.str(k.key).str(k.handle_type);
      }
      for (const StructHandleField& s : p.struct_handles) h.str(s.field).str(s.handle_type);
      for (const PropertyHandleKey& k : p.property_handles) h.str(k.key).str(k.handle_type);
      h.str(p.count_param).str(p.lengths_param).str(p.deferred_event).num(p.consumed);
      if (p.callback) {
        h.num(p.callback->once).num(p.callback->args.size());
        for (const CallbackArg& a : p.callback->args)
          h.str(a.c_type).num(static_cast<uint64_t>(a.kind)).str(a.handle_type).str(a.bytes_size_arg);
      }
    }
  }
  return h.value();
}

}  // namespace remora::gen
