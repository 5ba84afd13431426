#include "common/wire.h"

namespace remora::wire {

void Writer::put_bytes(const void* data, size_t n) {
  if (data == nullptr) return put_absent();
  if (n < kByReferenceThreshold) return put_bytes_copy(data, n);
  put_u64(n);
  refs_.push_back(Ref{buf_.size(), Segment{static_cast<const uint8_t*>(data), n}});
  ref_total_ += n;
  // The blob is followed by zero padding to keep the next item aligned.
  if (const size_t pad = pad8(n) - n; pad != 0) {
    static const uint8_t zeros[kAlign] = {};
    refs_.push_back(Ref{buf_.size(), Segment{zeros, pad}});
    ref_total_ += pad;
  }
}

void Writer::put_bytes_copy(const void* data, size_t n) {
  if (data == nullptr) return put_absent();
  put_u64(n);
  const size_t at = buf_.size();
  const size_t padded = pad8(n);
  buf_.resize(at + padded);
  if (padded != n) std::memset(buf_.data() + at + padded - kAlign, 0, kAlign);  // zero padding
  if (n != 0) std::memcpy(buf_.data() + at, data, n);
}

uint8_t* Writer::put_bytes_uninit(size_t n) {
  put_u64(n);
  const size_t at = buf_.size();
  const size_t padded = pad8(n);
  buf_.resize(at + padded);
  if (padded != n) std::memset(buf_.data() + at + padded - kAlign, 0, kAlign);  // zero padding
  return buf_.data() + at;
}

void Writer::append(const Writer& other) {
  const size_t base = buf_.size();
  buf_.insert(buf_.end(), other.buf_.begin(), other.buf_.end());
  for (Ref r : other.refs_) {
    r.inline_offset += base;
    refs_.push_back(r);
  }
  ref_total_ += other.ref_total_;
}

void Writer::segments(std::vector<Segment>* out) const {
  out->clear();
  size_t inline_at = 0;
  for (const Ref& r : refs_) {
    if (r.inline_offset > inline_at) {
      out->push_back(Segment{buf_.data() + inline_at, r.inline_offset - inline_at});
      inline_at = r.inline_offset;
    }
    out->push_back(r.blob);
  }
  if (buf_.size() > inline_at) out->push_back(Segment{buf_.data() + inline_at, buf_.size() - inline_at});
}

std::vector<uint8_t> Writer::flatten() const {
  std::vector<Segment> segs;
  segments(&segs);
  std::vector<uint8_t> out;
  out.reserve(size());
  for (const Segment& s : segs) out.insert(out.end(), s.data, s.data + s.size);
  return out;
}

std::span<const uint8_t> Reader::get_bytes(bool* absent, uint64_t max) {
  if (absent) *absent = false;
  const uint64_t n = get_u64();
  if (failed_) return {};
  if (n == kAbsent) {
    if (absent) *absent = true;
    return {};
  }
  if (n > limits_.max_array_bytes || n > max) {
    fail("length over the cap");
    return {};
  }
  // Compare sizes, never pointers: pad8(n) cannot overflow because n <= max_array_bytes.
  if (pad8(n) > remaining_) {
    fail("length exceeds the message");
    return {};
  }
  std::span<const uint8_t> out(cur_, n);
  cur_ += pad8(n);
  remaining_ -= pad8(n);
  return out;
}

const char* Reader::get_string(bool* absent) {
  bool is_absent = false;
  auto bytes = get_bytes(&is_absent);
  if (absent) *absent = is_absent;
  if (is_absent || failed_) return nullptr;
  if (bytes.empty() || bytes.back() != 0) {
    fail("string not NUL-terminated");
    return nullptr;
  }
  return reinterpret_cast<const char*>(bytes.data());
}

}  // namespace remora::wire
