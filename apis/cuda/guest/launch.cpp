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

// ---- cuLaunchKernelEx, cooperative launches, cluster occupancy -----------------------------------------

namespace {

// A launch configuration's attributes as they travel: event fields null, the two events apart.
struct WireAttributes {
  std::vector<CUlaunchAttribute> attrs;
  CUevent programmatic = nullptr;
  CUevent completion = nullptr;
};

CUresult wire_attributes(const CUlaunchAttribute* attrs, unsigned int n, WireAttributes* out) {
  if (n > 0 && attrs == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (n > REMORA_CU_MAX_LAUNCH_ATTRIBUTES) return CUDA_ERROR_INVALID_VALUE;
  out->attrs.assign(attrs, attrs + n);
  for (CUlaunchAttribute& a : out->attrs) {
    if (a.id == CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT) {
      out->programmatic = a.value.programmaticEvent.event;
      a.value.programmaticEvent.event = nullptr;
    } else if (a.id == CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT) {
      out->completion = a.value.launchCompletionEvent.event;
      a.value.launchCompletionEvent.event = nullptr;
    }
  }
  return CUDA_SUCCESS;
}

// The kernel's arguments as its parameter buffer, from kernelParams or extra (as cuLaunchKernel).
CUresult pack_arguments(CUfunction f, void** kernel_params, void** extra, uint8_t* buffer, size_t* size) {
  if (kernel_params != nullptr && extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (extra != nullptr) {
    const void* from = nullptr;
    if (!buffer_from_extra(extra, &from, size) || *size > REMORA_CU_MAX_PARAM_BYTES) return CUDA_ERROR_INVALID_VALUE;
    if (*size > 0) std::memcpy(buffer, from, *size);
    return CUDA_SUCCESS;
  }
  CUresult error = CUDA_SUCCESS;
  const ParamLayout* layout = layout_of(f, &error);
  if (layout == nullptr) return error;
  if (remora_cu_pack_params(layout->entries.data(), static_cast<unsigned int>(layout->entries.size()),
                            kernel_params, buffer, size) != 0)
    return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

CUresult launch_ex(const CUlaunchConfig& c, const CUlaunchAttribute* attrs, unsigned int num_attrs, CUfunction f,
                   void** kernel_params, void** extra) {
  if (!launch_shape_valid(c.gridDimX, c.gridDimY, c.gridDimZ, c.blockDimX, c.blockDimY, c.blockDimZ))
    return CUDA_ERROR_INVALID_VALUE;
  WireAttributes wire;
  if (CUresult r = wire_attributes(attrs, num_attrs, &wire); r != CUDA_SUCCESS) return r;
  uint8_t buffer[REMORA_CU_MAX_PARAM_BYTES];
  size_t size = 0;
  if (CUresult r = pack_arguments(f, kernel_params, extra, buffer, &size); r != CUDA_SUCCESS) return r;
  return remora_remote_remora_cuLaunchKernelExPacked(
      f, c.gridDimX, c.gridDimY, c.gridDimZ, c.blockDimX, c.blockDimY, c.blockDimZ, c.sharedMemBytes, c.hStream,
      wire.attrs.data(), static_cast<unsigned int>(wire.attrs.size()), wire.programmatic, wire.completion, buffer, size);
}

CUresult occupancy_for_config(int which, int* value, CUfunction f, const CUlaunchConfig* config) {
  if (value == nullptr || config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  WireAttributes wire;
  if (CUresult r = wire_attributes(config->attrs, config->numAttrs, &wire); r != CUDA_SUCCESS) return r;
  return remora_remote_remora_cuOccupancyForConfig(which, value, f, config->gridDimX, config->gridDimY,
                                                   config->gridDimZ, config->blockDimX, config->blockDimY,
                                                   config->blockDimZ, config->sharedMemBytes, config->hStream,
                                                   wire.attrs.data(), static_cast<unsigned int>(wire.attrs.size()));
}

}  // namespace

extern "C" {

CUresult remora_cu_launch_kernel_ex(const CUlaunchConfig* config, CUfunction f, void** kernel_params, void** extra) {
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return launch_ex(*config, config->attrs, config->numAttrs, f, kernel_params, extra);
}

CUresult remora_cu_launch_cooperative_kernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                             unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
                                             CUstream stream, void** kernel_params) {
  CUlaunchAttribute cooperative{};
  cooperative.id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
  cooperative.value.cooperative = 1;
  const CUlaunchConfig c{gx, gy, gz, bx, by, bz, shared, stream, nullptr, 0};
  return launch_ex(c, &cooperative, 1, f, kernel_params, nullptr);
}

CUresult remora_cu_occupancy_max_active_clusters(int* num_clusters, CUfunction f, const CUlaunchConfig* config) {
  return occupancy_for_config(0, num_clusters, f, config);
}

CUresult remora_cu_occupancy_max_potential_cluster_size(int* cluster_size, CUfunction f, const CUlaunchConfig* config) {
  return occupancy_for_config(1, cluster_size, f, config);
}

}  // extern "C"

// ---- Launch attribute values with events ---------------------------------------------------------------

namespace {

// Where a value holds an event: the programmatic-dependency and launch-completion attributes.
CUevent* event_field(CUlaunchAttributeID attr, CUlaunchAttributeValue* v) {
  if (attr == CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT) return &v->programmaticEvent.event;
  if (attr == CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT) return &v->launchCompletionEvent.event;
  return nullptr;
}

template <typename Get>
CUresult get_attribute(CUlaunchAttributeID attr, CUlaunchAttributeValue* out, Get get) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUlaunchAttributeValue value{};
  CUevent event = nullptr;
  if (CUresult r = get(&value, &event); r != CUDA_SUCCESS) return r;
  if (CUevent* field = event_field(attr, &value)) *field = event;
  *out = value;
  return CUDA_SUCCESS;
}

template <typename Set>
CUresult set_attribute(CUlaunchAttributeID attr, const CUlaunchAttributeValue* in, Set set) {
  if (in == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUlaunchAttributeValue value = *in;
  CUevent event = nullptr;
  if (CUevent* field = event_field(attr, &value)) {
    event = *field;
    *field = nullptr;  // the guest's object never reaches the server as a pointer
  }
  return set(&value, event);
}

}  // namespace

extern "C" {

CUresult remora_cu_stream_get_attribute(CUstream stream, CUstreamAttrID attr, CUstreamAttrValue* out) {
  return get_attribute(attr, out, [&](CUlaunchAttributeValue* v, CUevent* e) {
    return remora_remote_remora_cuStreamGetAttribute(stream, attr, v, e);
  });
}

CUresult remora_cu_stream_set_attribute(CUstream stream, CUstreamAttrID attr, const CUstreamAttrValue* in) {
  return set_attribute(attr, in, [&](const CUlaunchAttributeValue* v, CUevent e) {
    return remora_remote_remora_cuStreamSetAttribute(stream, attr, v, e);
  });
}

CUresult remora_cu_graph_kernel_node_get_attribute(CUgraphNode node, CUkernelNodeAttrID attr,
                                                   CUkernelNodeAttrValue* out) {
  return get_attribute(attr, out, [&](CUlaunchAttributeValue* v, CUevent* e) {
    return remora_remote_remora_cuGraphKernelNodeGetAttribute(node, attr, v, e);
  });
}

CUresult remora_cu_graph_kernel_node_set_attribute(CUgraphNode node, CUkernelNodeAttrID attr,
                                                   const CUkernelNodeAttrValue* in) {
  return set_attribute(attr, in, [&](const CUlaunchAttributeValue* v, CUevent e) {
    return remora_remote_remora_cuGraphKernelNodeSetAttribute(node, attr, v, e);
  });
}

}  // extern "C"
