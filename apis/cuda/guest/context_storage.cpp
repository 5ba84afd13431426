// Context-local storage and primary contexts for the CUDA runtimes running above remora's driver
// (export_tables.cpp). A runtime keeps its per-context state here, keyed by a pointer of its own, and
// registers a destructor that must run when the context goes: cudaDeviceReset resets the primary
// context, and the runtime's state of it has to go with it, as the driver does it.
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "guest_glue.h"

namespace remora::cuda::guest_glue {
namespace {

using Destructor = void (*)(CUcontext, void* key, void* value);

struct Entry {
  void* value = nullptr;
  Destructor dtor = nullptr;
};

struct Storage {
  std::mutex mu;
  std::map<std::pair<CUcontext, void*>, Entry> entries;  // guarded by mu
  std::map<CUdevice, CUcontext> primary;                 // guarded by mu
};

// Never destroyed: runtimes free their storage from their own exit-time destructors, which may run
// after this library's.
Storage& storage() {
  static Storage* s = new Storage;
  return *s;
}

}  // namespace

void context_storage_put(CUcontext ctx, void* key, void* value, void* dtor) {
  Storage& s = storage();
  std::lock_guard<std::mutex> lock(s.mu);
  s.entries[{ctx, key}] = Entry{value, reinterpret_cast<Destructor>(dtor)};
}

void context_storage_delete(CUcontext ctx, void* key) {
  Storage& s = storage();
  std::lock_guard<std::mutex> lock(s.mu);
  s.entries.erase({ctx, key});
}

bool context_storage_get(CUcontext ctx, void* key, void** value) {
  Storage& s = storage();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.entries.find({ctx, key});
  if (it == s.entries.end()) return false;
  *value = it->second.value;
  return true;
}

void context_destroyed(CUcontext ctx) {
  std::vector<std::pair<void*, Entry>> gone;
  {
    Storage& s = storage();
    std::lock_guard<std::mutex> lock(s.mu);
    for (auto it = s.entries.lower_bound({ctx, nullptr}); it != s.entries.end() && it->first.first == ctx;) {
      gone.emplace_back(it->first.second, it->second);
      it = s.entries.erase(it);
    }
  }
  // Outside the lock: a destructor may call back into the driver (and this storage).
  for (const auto& [key, e] : gone)
    if (e.dtor != nullptr) e.dtor(ctx, key, e.value);
}

CUresult primary_context(CUdevice dev, CUcontext* out) {
  Storage& s = storage();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (auto it = s.primary.find(dev); it != s.primary.end()) {
      *out = it->second;
      return CUDA_SUCCESS;
    }
  }
  CUcontext ctx = nullptr;
  if (CUresult r = remora_remote_cuDevicePrimaryCtxRetain(&ctx, dev); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(s.mu);
  *out = s.primary.try_emplace(dev, ctx).first->second;
  return CUDA_SUCCESS;
}

}  // namespace remora::cuda::guest_glue

namespace {

template <typename Reset>
CUresult reset_primary(CUdevice dev, Reset reset) {
  using namespace remora::cuda::guest_glue;
  CUcontext ctx = nullptr;
  {
    Storage& s = storage();
    std::lock_guard<std::mutex> lock(s.mu);
    if (auto it = s.primary.find(dev); it != s.primary.end()) ctx = it->second;
  }
  if (ctx != nullptr) context_destroyed(ctx);
  const CUresult r = reset(dev);
  if (r == CUDA_SUCCESS) forget_per_thread_streams();
  return r;
}

}  // namespace

extern "C" CUresult remora_cu_primary_ctx_reset(CUdevice dev) {
  return reset_primary(dev, [](CUdevice d) { return remora_remote_cuDevicePrimaryCtxReset_v2(d); });
}

// The CUDA 7.0 ABI (cuDevicePrimaryCtxReset), which cudart 13 still asks for.
extern "C" CUresult remora_cu_primary_ctx_reset_v1(CUdevice dev) {
  return reset_primary(dev, [](CUdevice d) { return remora_remote_cuDevicePrimaryCtxReset(d); });
}
