// Wire encoding shared by guest and server.
//
// A message body is a sequence of 8-byte-aligned items. Scalars are written in the host's
// representation: guest and server must share an ABI, which the handshake checks (protocol.h), so a
// size_t or a struct travels as its bytes. Every variable-length item is a u64 length followed by the
// bytes, padded to 8; a NULL pointer is the length kAbsent. Alignment lets the server hand the vendor a
// pointer straight into the received message instead of copying arrays out.
//
// Writer appends to a growable buffer and can take large blobs by reference (an iovec-like segment),
// so a 256 MiB clEnqueueWriteBuffer is copied once, by the transport, and never by the encoder.
//
// Reader is the bounded decoder. Every read checks the length against the bytes remaining (sizes are
// compared, never pointers), multiplications are overflow-checked, and array lengths are capped. The
// first failure sets a sticky flag; later reads return zeros/empty spans, so generated code decodes all
// arguments and checks ok() once before calling anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

namespace remora::wire {

inline constexpr uint64_t kAbsent = ~uint64_t{0};
inline constexpr size_t kAlign = 8;
// Blobs at least this large are sent by reference rather than copied into the message buffer.
inline constexpr size_t kByReferenceThreshold = 16 * 1024;

constexpr size_t pad8(size_t n) { return (n + (kAlign - 1)) & ~(kAlign - 1); }

// Overflow-checked a * b. Returns false on overflow.
inline bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}

// A contiguous piece of an outgoing message. Either inline bytes (owned by the Writer) or a blob the
// caller keeps alive until the message is sent.
struct Segment {
  const uint8_t* data;
  size_t size;
};

// Grows without zero-filling: a Writer writes every byte it adds (padding explicitly), and zeroing
// first cost about 5% of a batched clSetKernelArg (perf profile).
template <typename T>
struct UninitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  UninitAllocator() = default;
  template <typename U>
  UninitAllocator(const UninitAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using ByteBuffer = std::vector<uint8_t, UninitAllocator<uint8_t>>;

class Writer {
 public:
  Writer() { buf_.reserve(256); }

  void clear() {
    buf_.clear();
    refs_.clear();
    ref_total_ = 0;
  }
  // Total encoded size, inline bytes plus blobs by reference.
  size_t size() const { return buf_.size() + ref_total_; }
  size_t inline_size() const { return buf_.size(); }

  template <typename T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>, "only trivially copyable values go on the wire");
    append(&v, sizeof(T));
  }
  void put_u32(uint32_t v) { put(v); }
  void put_u64(uint64_t v) { put(v); }
  void put_absent() { put_u64(kAbsent); }

  // Length-prefixed bytes; `data == nullptr` encodes absent. Large blobs go by reference.
  void put_bytes(const void* data, size_t n);
  // Like put_bytes but always copies (for data the caller will not keep alive).
  void put_bytes_copy(const void* data, size_t n);
  // Reserves a length-prefixed region of n bytes and returns where to write it.
  uint8_t* put_bytes_uninit(size_t n);
  void put_string(const char* s) {
    if (s == nullptr) return put_absent();
    put_bytes_copy(s, std::strlen(s) + 1);  // the NUL travels, so the reader can check for it
  }
  // Patches a u32/u64 written earlier at byte offset `at` (for counts known only after encoding).
  template <typename T>
  void patch(size_t at, const T& v) {
    std::memcpy(buf_.data() + at, &v, sizeof(T));
  }

  // Appends everything `other` holds (inline bytes copied, blobs still by reference).
  void append(const Writer& other);

  // The message as segments in order: inline runs interleaved with blobs by reference.
  void segments(std::vector<Segment>* out) const;
  // Convenience for tests and small messages: one contiguous copy.
  std::vector<uint8_t> flatten() const;

  ByteBuffer& inline_buffer() { return buf_; }

 private:
  // Always inlined: put<T> then copies a constant size (a few moves instead of a call to memmove),
  // which was a tenth of a batched call's guest time when the compiler kept it out of line.
  [[gnu::always_inline]] void append(const void* p, size_t n) {
    const size_t at = buf_.size();
    const size_t padded = pad8(n);
    buf_.resize(at + padded);
    // The padding travels: zero it (the last word, before the data lands over the rest of it).
    if (padded != n) std::memset(buf_.data() + at + padded - kAlign, 0, kAlign);
    std::memcpy(buf_.data() + at, p, n);
  }
  struct Ref {
    size_t inline_offset;  // blob is inserted before this many inline bytes
    Segment blob;
  };
  ByteBuffer buf_;
  std::vector<Ref> refs_;
  size_t ref_total_ = 0;
};

// Limits a Reader enforces on top of the message's own size.
struct Limits {
  uint64_t max_array_bytes = uint64_t{1} << 33;  // 8 GiB: no single argument is larger
  uint64_t max_array_count = uint64_t{1} << 28;  // elements in one array
};

class Reader {
 public:
  Reader() = default;
  Reader(const uint8_t* data, size_t size, Limits limits = {})
      : cur_(data), remaining_(size), limits_(limits) {}
  explicit Reader(std::span<const uint8_t> s, Limits limits = {}) : Reader(s.data(), s.size(), limits) {}

  bool ok() const { return !failed_; }
  size_t remaining() const { return remaining_; }
  // Marks the message malformed; `why` is kept for the log.
  void fail(const char* why) {
    if (!failed_) why_ = why;
    failed_ = true;
    remaining_ = 0;
  }
  const char* why() const { return why_; }

  template <typename T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T v{};
    if (!take(sizeof(T))) return v;
    std::memcpy(&v, cur_ - pad8(sizeof(T)), sizeof(T));
    return v;
  }
  uint32_t get_u32() { return get<uint32_t>(); }
  uint64_t get_u64() { return get<uint64_t>(); }

  // A length-prefixed byte run. `absent` is set for a NULL pointer. The span points into the message.
  std::span<const uint8_t> get_bytes(bool* absent = nullptr, uint64_t max = ~uint64_t{0});
  // An array of `T` whose element count is prefixed; checks count * sizeof(T) for overflow and caps.
  // Returns nullptr for absent (with *count = 0). The pointer is 8-byte aligned into the message.
  template <typename T>
  const T* get_array(uint64_t* count, bool* absent = nullptr) {
    bool is_absent = false;
    auto bytes = get_bytes(&is_absent);
    if (absent) *absent = is_absent;
    *count = 0;
    if (is_absent || failed_) return nullptr;
    if (bytes.size() % sizeof(T) != 0) {
      fail("array length not a multiple of its element size");
      return nullptr;
    }
    *count = bytes.size() / sizeof(T);
    if (*count > limits_.max_array_count) {
      fail("array longer than the cap");
      return nullptr;
    }
    return reinterpret_cast<const T*>(bytes.data());
  }
  // A NUL-terminated string: the encoder sends the NUL, the reader checks the last byte is one and
  // returns a pointer into the message.
  const char* get_string(bool* absent = nullptr);

  // Where the next read starts (for copying what is left).
  const uint8_t* position() const { return cur_; }
  // Skips n bytes (n must be 8-aligned, as every item is).
  void skip(size_t n) { take(n); }

  const Limits& limits() const { return limits_; }

 private:
  bool take(size_t n) {
    const size_t padded = pad8(n);
    if (failed_ || padded > remaining_) {
      fail("message truncated");
      return false;
    }
    cur_ += padded;
    remaining_ -= padded;
    return true;
  }

  const uint8_t* cur_ = nullptr;
  size_t remaining_ = 0;
  bool failed_ = false;
  const char* why_ = "";
  Limits limits_;
};

}  // namespace remora::wire
