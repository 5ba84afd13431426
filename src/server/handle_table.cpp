#include <algorithm>
#include <mutex>

#include "server/session.h"

namespace remora::server {
namespace {
// Ids the guest chooses are below this bit; the server's are at or above it (guest/runtime.h).
constexpr uint64_t kServerIdBit = uint64_t{1} << 63;
// Released objects remembered for late callbacks (see released_).
constexpr size_t kReleasedMemory = 4096;
}  // namespace

void* HandleTable::lookup(uint64_t id, uint32_t type) const {
  std::shared_lock lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end() || !type_ok(it->second.type, type)) return nullptr;
  return it->second.real;
}

void* HandleTable::lookup(uint64_t id, uint32_t type, Cache* cache) const {
  if (cache == nullptr) return lookup(id, type);
  Cache::Line& line = cache->lines[(id ^ (id >> 32)) % Cache::kLines];
  // Read before the table: a change made after this load leaves a newer generation behind it.
  const uint64_t generation = generation_.load(std::memory_order_acquire);
  if (line.id == id && line.generation == generation) return type_ok(line.type, type) ? line.real : nullptr;
  std::shared_lock lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return nullptr;
  line = Cache::Line{id, generation, it->second.real, it->second.type};
  return type_ok(it->second.type, type) ? it->second.real : nullptr;
}

bool HandleTable::insert_guest_id(uint64_t id, uint32_t type, void* real, int64_t app_refs) {
  if (id == 0 || (id & kServerIdBit) != 0) return false;
  std::unique_lock lock(mu_);
  auto [it, inserted] = by_id_.try_emplace(id, Entry{real, type, app_refs});
  if (!inserted) return false;
  by_real_[real] = id;  // a new object may reuse a dead one's address: the newest id wins
  released_.erase(real);
  return true;
}

uint64_t HandleTable::insert_new(uint32_t type, void* real) {
  std::unique_lock lock(mu_);
  // The vendor may hand back an object it already gave us (e.g. clCreateSubDevices returning a known
  // device, or an address reused after an object died). A live entry of the same type just gains a
  // reference; anything else gets a fresh id.
  if (auto it = by_real_.find(real); it != by_real_.end()) {
    auto e = by_id_.find(it->second);
    if (e != by_id_.end() && e->second.type == type) {
      e->second.app_refs++;
      return it->second;
    }
  }
  const uint64_t id = kServerIdBit | next_server_id_++;
  by_id_.emplace(id, Entry{real, type, 1});
  by_real_[real] = id;
  released_.erase(real);
  return id;
}

uint64_t HandleTable::id_for(void* real, uint32_t type) {
  if (real == nullptr) return 0;
  std::unique_lock lock(mu_);
  if (auto it = by_real_.find(real); it != by_real_.end()) {
    auto e = by_id_.find(it->second);
    if (e != by_id_.end() && e->second.type == type) return it->second;
  }
  if (auto r = released_.find(real); r != released_.end() && r->second.second == type) return r->second.first;
  const uint64_t id = kServerIdBit | next_server_id_++;
  by_id_.emplace(id, Entry{real, type, 0});
  by_real_[real] = id;
  return id;
}

bool HandleTable::retain(uint64_t id) {
  std::unique_lock lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  it->second.app_refs++;
  return true;
}

bool HandleTable::release(uint64_t id, Entry* removed) {
  std::unique_lock lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  // A borrowed entry (0 references) being released means the guest released an object it got from a
  // query; the vendor call already succeeded, so the object had a reference we did not see (e.g. a
  // retain the application made through another handle). Keep the entry and report no removal.
  if (it->second.app_refs <= 0) return false;
  if (--it->second.app_refs > 0) return false;
  generation_.fetch_add(1, std::memory_order_release);
  if (removed) *removed = it->second;
  void* real = it->second.real;
  auto r = by_real_.find(real);
  if (r != by_real_.end() && r->second == id) by_real_.erase(r);
  released_[real] = {id, it->second.type};
  released_order_.push_back(real);
  if (released_order_.size() > kReleasedMemory) {
    void* oldest = released_order_.front();
    released_order_.pop_front();
    // Only if it was not re-released since (then a later entry in the queue owns it).
    if (std::find(released_order_.begin(), released_order_.end(), oldest) == released_order_.end())
      released_.erase(oldest);
  }
  by_id_.erase(it);
  return true;
}

void HandleTable::set_charge(uint64_t id, ResourceKind kind, uint64_t amount) {
  std::unique_lock lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  it->second.charge_kind = kind;
  it->second.charge = amount;
}

void HandleTable::drain(const std::function<void(const Entry&)>& drop) {
  std::unordered_map<uint64_t, Entry> entries;
  {
    std::unique_lock lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
    entries.swap(by_id_);
    by_real_.clear();
    released_.clear();
    released_order_.clear();
  }
  // Release in reverse creation order (ids grow), so dependants (kernels, buffers) go before what
  // they hang on (programs, contexts). Vendors keep internal references anyway; the order only makes
  // destructor callbacks fire in a natural order.
  std::vector<std::pair<uint64_t, Entry>> sorted(entries.begin(), entries.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return (a.first & ~kServerIdBit) > (b.first & ~kServerIdBit);
  });
  for (const auto& [id, e] : sorted)
    for (int64_t i = 0; i < e.app_refs; ++i) drop(e);
}

size_t HandleTable::size() const {
  std::shared_lock lock(mu_);
  return by_id_.size();
}

}  // namespace remora::server
