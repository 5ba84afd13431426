// State and helpers shared by the hand-written parts of the OpenCL guest library (apis/opencl/guest).
//
// All of it hangs off the one Runtime that icd.cpp owns; nothing here is a global of its own.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "opencl_guest.h"  // generated: remote stubs, X-macro lists, handle type ids

namespace remora::opencl::guest_glue {

// One mapping handed out by clEnqueueMapBuffer/MapImage, keyed by the pointer returned.
struct Mapping {
  cl_map_flags flags = 0;
  bool owns_mirror = false;  // the pointer is remora's allocation (freed at unmap), else host_ptr memory
  // Buffers: offset and size. Images: origin, region and the pitches of the returned memory.
  size_t offset = 0;
  size_t size = 0;
  size_t origin[3] = {0, 0, 0};
  size_t region[3] = {0, 0, 0};
  size_t row_pitch = 0;
  size_t slice_pitch = 0;
};

// What the guest knows about a memory object, kept in its Object::api_data from creation until the
// last application reference goes.
struct MemRecord {
  cl_mem_flags app_flags = 0;  // as the application passed them (the server saw COPY for USE_HOST_PTR)
  void* host_ptr = nullptr;    // the application's memory of a CL_MEM_USE_HOST_PTR object
  // Images: pixel layout, and the pitches of host_ptr memory.
  bool is_image = false;
  cl_mem_object_type type = CL_MEM_OBJECT_BUFFER;
  cl_channel_order order = 0;
  size_t element_size = 0;
  size_t host_row_pitch = 0;
  size_t host_slice_pitch = 0;

  std::mutex mu;
  std::unordered_multimap<void*, Mapping> maps;  // guarded by mu
};

// The shape of a kernel argument as clSetKernelArg saw it; see remora_cl_set_kernel_arg.
struct ArgShape {
  enum Kind : uint8_t { kBytes, kMem, kSampler };
  size_t size = 0;
  bool null_value = false;
  Kind kind = kBytes;
  bool operator==(const ArgShape&) const = default;
};

// The argument shapes the vendor accepted for one kernel, kept in the kernel's Object::api_data.
// clSetKernelArg on one kernel is not thread-safe in OpenCL, so neither is this.
class KernelArgShapes {
 public:
  bool accepted(cl_uint index, const ArgShape& s) const {
    return index < shapes_.size() && valid_[index] && shapes_[index] == s;
  }
  void accept(cl_uint index, const ArgShape& s) {
    if (index >= kMaxArgs) return;
    if (index >= shapes_.size()) {
      shapes_.resize(index + 1);
      valid_.resize(index + 1);
    }
    shapes_[index] = s;
    valid_[index] = true;
  }

 private:
  static constexpr cl_uint kMaxArgs = 1024;
  std::vector<ArgShape> shapes_;
  std::vector<bool> valid_;
};
// The shapes record of a live kernel (created on first use), or nullptr for anything else.
KernelArgShapes* kernel_arg_shapes(cl_kernel kernel);

// One coarse-grained SVM allocation (guest/svm.cpp): the guest mirror the application was given, and
// the server buffer over the real allocation through which all data and kernel arguments go.
struct SvmAllocation {
  size_t size = 0;
  cl_mem buffer = nullptr;  // guest handle of the server's buffer; remora's reference, never the app's
  // Live clEnqueueSVMMap regions, keyed by the mapped pointer: flags, offset and size in `size`.
  std::unordered_multimap<void*, Mapping> maps;
};

// Process-wide glue state, owned next to the Runtime (icd.cpp).
struct GlueState {
  std::mutex mu;
  // Live memory objects and samplers: the values clSetKernelArg must translate. Kept as a set so that
  // an argument's bytes are compared, never dereferenced, before they are known to be one of ours.
  std::unordered_set<const void*> kernel_arg_objects;  // guarded by mu
  std::once_flag unreachable_logged;
  // SVM allocations by the address of their guest mirror. Ordered so that any address inside an
  // allocation finds it (upper_bound, then one back).
  std::mutex svm_mu;
  std::map<uintptr_t, SvmAllocation> svm;  // guarded by svm_mu
  // Direct transfers (guest/transfer.cpp): decided once after connecting, turned off for good when
  // the server says they are unavailable in this session.
  std::once_flag direct_decided;
  std::atomic<bool> direct{false};
};
GlueState& glue_state();

// The live Object behind an application handle of `type`, or nullptr.
remora::guest::Object* live_object(const void* handle, uint32_t type);

// The record of a memory object, or nullptr when `mem` is not a live cl_mem (or has none).
MemRecord* mem_record(cl_mem mem);

}  // namespace remora::opencl::guest_glue
