// cuLaunchKernel: packs the launch's arguments into the kernel's parameter buffer, laid out as the
// module says (remora_cuFuncGetParamLayout, asked once per function and kept in its Object), and sends
// the buffer. Sizes are never guessed from the application's pointers.
#include <atomic>
#include <cstring>
#include <memory>
#include <vector>

#include "guest_glue.h"
#include "spec_helpers.h"

namespace {

// The parameter layout of one function: (offset << 32 | size) per parameter.
struct ParamLayout {
  std::vector<uint64_t> entries;
};

// The layout of a live function, asked from the server on first use. nullptr with *error set when
// the function is unknown or the server cannot say.
const ParamLayout* layout_of(CUfunction f, CUresult* error) {
  uint64_t id = 0;
  if (f == nullptr || !remora_cuda_runtime().objects().to_id(f, remora::cuda::kType_CUfunction, &id)) {
    *error = CUDA_ERROR_INVALID_HANDLE;
    return nullptr;
  }
  remora::guest::Object* o = remora::guest::Objects::as_object(f);
  std::atomic_ref<void*> slot(o->api_data);
  if (void* known = slot.load(std::memory_order_acquire)) return static_cast<const ParamLayout*>(known);
  // Functions are borrowed handles that live as long as their module; the layout (a few bytes) is
  // kept with the Object, which is never freed while the process lives.
  auto fresh = std::make_unique<ParamLayout>();
  unsigned int count = 0;
  fresh->entries.resize(64);
  *error = remora_remote_remora_cuFuncGetParamLayout(f, 64, fresh->entries.data(), &count);
  if (*error == CUDA_SUCCESS && count > 64) {  // rare: ask again with room for all of them
    fresh->entries.resize(count);
    *error = remora_remote_remora_cuFuncGetParamLayout(f, count, fresh->entries.data(), &count);
  }
  if (*error != CUDA_SUCCESS) return nullptr;
  fresh->entries.resize(count);
  void* expected = nullptr;
  if (slot.compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel)) return fresh.release();
  return static_cast<const ParamLayout*>(expected);  // another thread got there first
}

// The parameter buffer an `extra` array names (CU_LAUNCH_PARAM_BUFFER_POINTER/SIZE). Returns false
// for an entry remora does not know.
bool buffer_from_extra(void** extra, const void** buffer, size_t* size) {
  *buffer = nullptr;
  *size = 0;
  const size_t* size_ptr = nullptr;
  for (size_t i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
    if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER)
      *buffer = extra[i + 1];
    else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE)
      size_ptr = static_cast<const size_t*>(extra[i + 1]);
    else
      return false;
  }
  if (*buffer == nullptr || size_ptr == nullptr) return false;
  *size = *size_ptr;
  return true;
}

// Launch configurations every CUDA device refuses: launches are asynchronous through remora, so these
// are answered here, at once and with the driver's code, instead of at the next blocking call. The
// limits are the same on every device since sm_20 (1024 threads per block, 64 in z, 65535 blocks in y
// and z); a device-specific refusal (shared memory) still comes from the server, later.
bool launch_shape_valid(unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by,
                        unsigned int bz) {
  if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0) return false;
  if (gy > 65535 || gz > 65535 || bx > 1024 || by > 1024 || bz > 64) return false;
  return uint64_t{bx} * by * bz <= 1024;
}

}  // namespace

extern "C" CUresult remora_cu_launch_kernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                            unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
                                            CUstream stream, void** kernel_params, void** extra) {
  if (kernel_params != nullptr && extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!launch_shape_valid(gx, gy, gz, bx, by, bz)) return CUDA_ERROR_INVALID_VALUE;
  if (extra != nullptr) {
    const void* buffer = nullptr;
    size_t size = 0;
    if (!buffer_from_extra(extra, &buffer, &size) || size > REMORA_CU_MAX_PARAM_BYTES) return CUDA_ERROR_INVALID_VALUE;
    return remora_remote_remora_cuLaunchKernelPacked(f, gx, gy, gz, bx, by, bz, shared, stream,
                                                     static_cast<const uint8_t*>(buffer), size);
  }
  CUresult error = CUDA_SUCCESS;
  const ParamLayout* layout = layout_of(f, &error);
  if (layout == nullptr) return error;
  uint8_t buffer[REMORA_CU_MAX_PARAM_BYTES];
  size_t size = 0;
  if (remora_cu_pack_params(layout->entries.data(), static_cast<unsigned int>(layout->entries.size()),
                            kernel_params, buffer, &size) != 0)
    return CUDA_ERROR_INVALID_VALUE;
  return remora_remote_remora_cuLaunchKernelPacked(f, gx, gy, gz, bx, by, bz, shared, stream, buffer, size);
}
