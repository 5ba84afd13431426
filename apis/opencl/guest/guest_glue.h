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
#include "transport/shared_region.h"

namespace remora::opencl::guest_glue {

// One mapping handed out by clEnqueueMapBuffer/MapImage, keyed by the pointer returned.
struct Mapping {
  cl_map_flags flags = 0;
  bool owns_mirror = false;  // the pointer is remora's allocation (freed at unmap), else host_ptr memory
  bool shared = false;       // the pointer is into the buffer's shared storage: nothing to copy back
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
  // Buffers over storage shared with the server (guest/guest_shared_buffers.cpp): this object's bytes, at
  // its origin for a sub-buffer, and the mapping they live in (kept by sub-buffers too).
  std::shared_ptr<remora::transport::SharedRegion> shared_region;
  uint8_t* shared = nullptr;
  size_t shared_size = 0;

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

// One coarse-grained SVM allocation (guest/guest_svm.cpp): the guest mirror the application was given, and
// the server buffer over the real allocation through which all data and kernel arguments go.
struct SvmAllocation {
  size_t size = 0;
  cl_mem buffer = nullptr;  // guest handle of the server's buffer; remora's reference, never the app's
  // Live clEnqueueSVMMap regions, keyed by the mapped pointer: flags, offset and size in `size`.
  std::unordered_multimap<void*, Mapping> maps;
};

// Shared buffer storage (guest/guest_shared_buffers.cpp).
// Whether clCreateBuffer with `flags` and `size` asks the server for shared storage.
bool shared_buffer_wanted(cl_mem_flags flags, size_t size);
// remora_clCreateBufferShared: the buffer, with `record` given the storage when the server shared it.
cl_mem create_shared_buffer(cl_context context, cl_mem_flags flags, size_t size, void* host_ptr,
                            cl_int* errcode_ret, MemRecord* record);
// A sub-buffer's record shares its parent's storage at `origin`.
void share_parent_storage(const MemRecord& parent, size_t origin, size_t size, MemRecord* sub);
// The guest's own address of [offset, offset + size) of a record's shared storage, or nullptr when the
// guest may not access it directly (not shared, out of range, empty, or host-access flags that make the
// access the vendor's error).
uint8_t* shared_range(const MemRecord& record, size_t offset, size_t size);
// shared_range, once the access is ordered as the transfer or map with this wait list would be.
// `blocking` false (a non-blocking transfer): only if that takes no more than a short while
// (kNonBlockingWait in shared_buffers.cpp). Non-null: the access may be made now and *status is what
// that call returns. nullptr: the caller sends the ordinary call (which reports any error natively).
uint8_t* shared_access(cl_command_queue queue, cl_mem buffer, const MemRecord& record, size_t offset, size_t size,
                       bool blocking, cl_uint num_events, const cl_event* wait_list, const char* what,
                       cl_int* status);

// After a blocking remora-own call that succeeded without being REMORA_BLOCKING (direct transfers,
// shared access): CL_SUCCESS, or the failure of an earlier asynchronous call, reported here as at
// every synchronisation point.
cl_int earlier_async_status(const char* what);

// Process-wide glue state, owned next to the Runtime (icd.cpp).
struct GlueState {
  std::once_flag unreachable_logged;
  // SVM allocations by the address of their guest mirror. Ordered so that any address inside an
  // allocation finds it (upper_bound, then one back).
  std::mutex svm_mu;
  std::map<uintptr_t, SvmAllocation> svm;  // guarded by svm_mu
  // Direct transfers (guest/transfer.cpp): decided once after connecting, turned off for good when
  // the server says they are unavailable in this session.
  std::once_flag direct_decided;
  std::atomic<bool> direct{false};
  // Shared buffer storage: creations are serialised (the descriptor that follows a reply on the region
  // link must be that call's); off for good once the link misbehaved.
  std::mutex shared_create_mu;
  std::atomic<bool> shared_broken{false};
};
GlueState& glue_state();

// The live Object behind an application handle of `type`, or nullptr.
remora::guest::Object* live_object(const void* handle, uint32_t type);

// The record of a memory object, or nullptr when `mem` is not a live cl_mem (or has none).
MemRecord* mem_record(cl_mem mem);

}  // namespace remora::opencl::guest_glue
