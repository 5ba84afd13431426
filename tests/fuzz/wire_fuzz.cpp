// Fuzz target: the bounded wire decoder (common/wire.h).
//
// The input's first bytes are a script of reads (one byte each, up to 64), the rest is the message
// they decode. Whatever the bytes, every span and pointer the Reader returns must lie inside the
// message, remaining() must only shrink, strings must end with their NUL inside the message, and a
// failed Reader must stay failed and return nothing.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/wire.h"

namespace {

using remora::wire::Reader;

void check(bool cond) {
  if (!cond) std::abort();
}

bool inside(const uint8_t* p, size_t n, const std::vector<uint64_t>& msg, size_t msg_size) {
  const auto* base = reinterpret_cast<const uint8_t*>(msg.data());
  return p >= base && n <= msg_size && static_cast<size_t>(p - base) <= msg_size - n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t script_len = std::min<size_t>(data[0] % 64, size - 1);
  const uint8_t* script = data + 1;
  const size_t msg_size = size - 1 - script_len;
  // Messages are 8-byte aligned (transport/channel.h): copy into aligned storage like a channel does.
  std::vector<uint64_t> msg((msg_size + 7) / 8 + 1);
  std::memcpy(msg.data(), script + script_len, msg_size);

  remora::wire::Limits limits;
  limits.max_array_bytes = 1 << 20;
  limits.max_array_count = 1 << 12;
  Reader r(reinterpret_cast<const uint8_t*>(msg.data()), msg_size, limits);
  size_t last_remaining = r.remaining();
  for (size_t i = 0; i < script_len; ++i) {
    const bool was_ok = r.ok();
    switch (script[i] % 8) {
      case 0: (void)r.get_u32(); break;
      case 1: (void)r.get_u64(); break;
      case 2: {
        struct Odd { uint8_t b[13]; };
        (void)r.get<Odd>();
        break;
      }
      case 3: {
        bool absent = false;
        auto s = r.get_bytes(&absent, script[i] >> 3 == 0 ? ~uint64_t{0} : (script[i] >> 3) * 8);
        if (!s.empty()) check(inside(s.data(), s.size(), msg, msg_size));
        if (absent) check(s.empty());
        break;
      }
      case 4: {
        uint64_t count = 0;
        const uint32_t* a = r.get_array<uint32_t>(&count);
        if (a != nullptr) {
          check(count <= limits.max_array_count);
          check(inside(reinterpret_cast<const uint8_t*>(a), count * sizeof(uint32_t), msg, msg_size));
          check(reinterpret_cast<uintptr_t>(a) % alignof(uint32_t) == 0);
        } else {
          check(count == 0);
        }
        break;
      }
      case 5: {
        uint64_t count = 0;
        struct Triple { uint64_t v[3]; };
        const Triple* a = r.get_array<Triple>(&count);
        if (a != nullptr) check(inside(reinterpret_cast<const uint8_t*>(a), count * sizeof(Triple), msg, msg_size));
        break;
      }
      case 6: {
        const char* s = r.get_string();
        if (s != nullptr) {
          const auto* p = reinterpret_cast<const uint8_t*>(s);
          check(inside(p, 1, msg, msg_size));
          const size_t max = msg_size - (p - reinterpret_cast<const uint8_t*>(msg.data()));
          check(memchr(s, 0, max) != nullptr);
        }
        break;
      }
      case 7: r.skip((script[i] >> 3) * 8); break;
    }
    check(r.remaining() <= last_remaining);
    last_remaining = r.remaining();
    if (!was_ok) check(!r.ok() && r.remaining() == 0);
  }
  return 0;
}
