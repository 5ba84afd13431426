// Api::wire_hash belongs to the front end (src/gen/model.cpp). This weak stand-in lets the emitter
// tests link before (and independently of) it; the golden comparison masks the hash anyway, and a
// strong definition, when linked, wins.
#include "gen/model.h"

namespace remora::gen {

__attribute__((weak)) uint64_t Api::wire_hash() const {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const Function& f : functions)
    for (char c : f.name + ":" + std::to_string(f.opcode)) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

}  // namespace remora::gen
