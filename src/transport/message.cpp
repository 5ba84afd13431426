#include <new>
#include <utility>

#include "transport/channel.h"

namespace remora::transport {

namespace {
// Owned storage up to this size is kept across receives (the common case is a stream of similar
// messages); a larger buffer goes back when the Message lets go, so one huge transfer does not pin its
// memory for the life of the channel. It goes to the process's block pool (common/host_block.h), so
// a stream of huge messages still reuses pages already there.
constexpr size_t kKeepStorageBytes = size_t{64} << 20;
}  // namespace

Message& Message::operator=(Message&& o) noexcept {
  if (this == &o) return *this;
  reset();
  // Moving the buffer keeps its address, so data_ stays valid when it points into o.storage_.
  storage_ = std::move(o.storage_);
  capacity_ = std::exchange(o.capacity_, 0);
  data_ = std::exchange(o.data_, nullptr);
  size_ = std::exchange(o.size_, 0);
  lender_ = std::exchange(o.lender_, nullptr);
  token_ = std::exchange(o.token_, 0);
  return *this;
}

uint8_t* Message::own(size_t size) {
  uint8_t* p = try_own(size);
  if (p == nullptr) throw std::bad_alloc();  // as new[] did
  return p;
}

uint8_t* Message::try_own(size_t size) noexcept {
  reset();
  // Grow only, and without initialising: the caller overwrites every byte it asked for, and zeroing
  // a large message first would cost as much as receiving it.
  if (size > capacity_ || storage_ == nullptr) {
    storage_.reset();  // back to the pool before a replacement is taken from it
    capacity_ = 0;
    storage_ = acquire_host_block(size);
    if (storage_ == nullptr) return nullptr;
    capacity_ = size == 0 ? 1 : size;
  }
  data_ = storage_.get();
  size_ = size;
  return const_cast<uint8_t*>(data_);
}

void Message::lend(const uint8_t* data, size_t size, Lender* lender, uint64_t token) {
  reset();
  data_ = data;
  size_ = size;
  lender_ = lender;
  token_ = token;
}

void Message::reset() {
  if (lender_ != nullptr) {
    // Clear first: give_back may run arbitrary transport code, and must see this Message empty.
    Lender* l = std::exchange(lender_, nullptr);
    l->give_back(token_);
  }
  data_ = nullptr;
  size_ = 0;
  if (capacity_ > kKeepStorageBytes) {
    storage_.reset();
    capacity_ = 0;
  }
}

}  // namespace remora::transport
