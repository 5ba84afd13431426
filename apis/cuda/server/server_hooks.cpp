// Server-side glue of the CUDA stack: the default vendor library, the thread-state hook that makes the
// guest thread's context current, and the REMORA_SERVER hooks named in cuda.spec.c.
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/log.h"
#include "cuda_server.h"  // generated
#include "spec_helpers.h"
#include "server_glue.h"

using remora::cuda::vendor;

const char* remora_cuda_default_vendor_library() { return "libcuda.so.1"; }

// The driver API resolves everything through dlsym: no extension lookup.
void* remora_cuda_server_extension_lookup(const char*) { return nullptr; }

CUresult remora::cuda::server_glue::copy_error_text(const char* s, char* text, size_t capacity, size_t* length) {
  if (s == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const size_t n = std::strlen(s) + 1;
  *length = n;
  if (text != nullptr && capacity > 0) {
    const size_t k = n < capacity ? n : capacity;
    std::memcpy(text, s, k);
    text[k - 1] = '\0';
  }
  return CUDA_SUCCESS;
}

// REMORA_THREAD_STATE: every call runs in the context that is current on the guest's calling thread,
// with that thread's stream capture mode (spec_helpers.h). The server's threads take turns serving a
// guest (leader/follower), so both are set per call; the common case (already so) costs a thread-local
// read and one driver query.
void remora_cuda_server_thread_state(remora::server::Call& c, uint64_t state) {
  if (vendor().cuCtxGetCurrent == nullptr || vendor().cuCtxSetCurrent == nullptr) return;
  const uint64_t id = state & ~REMORA_CU_THREAD_STATE_MODE_MASK;
  // An unknown id (a context destroyed meanwhile) runs the call with none: the driver reports it.
  CUcontext want = id == 0 ? nullptr : static_cast<CUcontext>(c.session.handles().lookup(id, remora::cuda::kType_CUcontext));
  CUcontext have = nullptr;
  if (vendor().cuCtxGetCurrent(&have) != CUDA_SUCCESS) return;  // before cuInit: nothing to set
  if (have != want) (void)vendor().cuCtxSetCurrent(want);
  // The driver keeps the mode per thread too: exchange it only when this thread's differs.
  thread_local CUstreamCaptureMode t_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
  const auto mode = static_cast<CUstreamCaptureMode>((state & REMORA_CU_THREAD_STATE_MODE_MASK) >> REMORA_CU_THREAD_STATE_MODE_SHIFT);
  if (mode != t_mode && mode <= CU_STREAM_CAPTURE_MODE_RELAXED && vendor().cuThreadExchangeStreamCaptureMode != nullptr) {
    CUstreamCaptureMode m = mode;
    if (vendor().cuThreadExchangeStreamCaptureMode(&m) == CUDA_SUCCESS) t_mode = mode;
  }
}

// REMORA_SERVER hooks (declared by the generated cuda_server.h). The vendor functions each calls are
// its REMORA_REQUIRES in cuda.spec.c: the dispatch answers CUDA_ERROR_NOT_SUPPORTED before the hook
// when the loaded library lacks one (the dummy vendor library exports only what the spec forwards).
CUresult remora_cu_server_ctx_create(remora::server::Call&, CUcontext* pctx, unsigned int flags, CUdevice dev) {
  return vendor().cuCtxCreate_v4(pctx, nullptr, flags, dev);
}

CUresult remora_cu_server_module_load_data_ex(remora::server::Call&, CUmodule* module, const void* image, unsigned int num_options,
                                              const CUjit_option* options, const uint64_t* values) {
  // The arrays arrive as the guest sent them: null with a count is the driver's invalid value.
  if (num_options != 0 && (options == nullptr || values == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUjit_option> opts(options, options + num_options);
  std::vector<void*> slots(num_options);
  for (unsigned int i = 0; i < num_options; ++i) {
    // A guest-chosen pointer must never reach the driver as a buffer to write.
    if (remora_cu_jit_option_is_pointer(options[i])) return CUDA_ERROR_NOT_SUPPORTED;
    slots[i] = reinterpret_cast<void*>(static_cast<uintptr_t>(values[i]));
  }
  return vendor().cuModuleLoadDataEx(module, image, num_options, opts.data(), slots.data());
}

CUresult remora_cu_server_memcpy_dtoh_async(remora::server::Call&, void* dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  const CUresult r = vendor().cuMemcpyDtoHAsync_v2(dst, src, bytes, stream);
  if (r != CUDA_SUCCESS) return r;
  // `dst` is the reply's scratch: the bytes must be there before the reply goes.
  return vendor().cuStreamSynchronize(stream);
}

CUresult remora_cu_server_get_error_text(remora::server::Call&, CUresult error, int which, char* text, size_t capacity, size_t* length) {
  const char* s = nullptr;
  const CUresult r = which == 0 ? vendor().cuGetErrorName(error, &s) : vendor().cuGetErrorString(error, &s);
  if (r != CUDA_SUCCESS) return r;
  return remora::cuda::server_glue::copy_error_text(s, text, capacity, length);
}

CUresult remora_cu_server_func_get_param_layout(remora::server::Call&, CUfunction f, unsigned int capacity, uint64_t* layout,
                                                unsigned int* count) {
  size_t end = 0;
  unsigned int n = 0;
  for (;; ++n) {
    size_t offset = 0, size = 0;
    const CUresult r = vendor().cuFuncGetParamInfo(f, n, &offset, &size);
    if (r == CUDA_ERROR_INVALID_VALUE) break;  // past the last parameter
    if (r != CUDA_SUCCESS) return r;
    // The layout must be a parameter buffer the launch can be built from (spec_helpers.h).
    if (offset < end || size > REMORA_CU_MAX_PARAM_BYTES || offset + size > REMORA_CU_MAX_PARAM_BYTES)
      return CUDA_ERROR_INVALID_VALUE;
    end = offset + size;
    if (layout != nullptr && n < capacity) layout[n] = (uint64_t{offset} << 32) | size;
  }
  if (count != nullptr) *count = n;
  return CUDA_SUCCESS;
}

CUresult remora_cu_server_launch_packed(remora::server::Call&, CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                        unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
                                        CUstream stream, const uint8_t* params, size_t params_size) {
  if (params_size > REMORA_CU_MAX_PARAM_BYTES) return CUDA_ERROR_INVALID_VALUE;
  // The wire gives no alignment: the driver reads the buffer as the kernel's parameter block. On the
  // stack (32 KiB at most): a heap block per launch was measurable at 250 000 launches/s.
  alignas(16) uint8_t buffer[REMORA_CU_MAX_PARAM_BYTES];
  if (params_size > 0) std::memcpy(buffer, params, params_size);
  size_t size = params_size;
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buffer, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                   CU_LAUNCH_PARAM_END};
  return vendor().cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, stream, nullptr, extra);
}


namespace {

// A launch configuration's attributes from the wire: the events the guest sent apart go back into
// the attributes that hold one.
std::vector<CUlaunchAttribute> launch_attributes(const void* attrs, unsigned int n, CUevent programmatic,
                                                 CUevent completion) {
  std::vector<CUlaunchAttribute> out(n);  // aligned: the wire's bytes need not be
  if (n > 0 && attrs != nullptr) std::memcpy(out.data(), attrs, n * sizeof(CUlaunchAttribute));
  for (CUlaunchAttribute& a : out) {
    if (a.id == CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT) a.value.programmaticEvent.event = programmatic;
    else if (a.id == CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT) a.value.launchCompletionEvent.event = completion;
  }
  return out;
}

}  // namespace

CUresult remora_cu_server_launch_ex_packed(remora::server::Call&, CUfunction f, unsigned int gx, unsigned int gy,
                                           unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz,
                                           unsigned int shared, CUstream stream, const void* attrs,
                                           unsigned int num_attrs, CUevent programmatic, CUevent completion,
                                           const uint8_t* params, size_t params_size) {
  if (params_size > REMORA_CU_MAX_PARAM_BYTES) return CUDA_ERROR_INVALID_VALUE;
  alignas(16) uint8_t buffer[REMORA_CU_MAX_PARAM_BYTES];  // aligned, as for remora_cu_server_launch_packed
  if (params_size > 0) std::memcpy(buffer, params, params_size);
  size_t size = params_size;
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buffer, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                   CU_LAUNCH_PARAM_END};
  std::vector<CUlaunchAttribute> a = launch_attributes(attrs, num_attrs, programmatic, completion);
  const CUlaunchConfig config{gx, gy, gz, bx, by, bz, shared, stream, a.empty() ? nullptr : a.data(), num_attrs};
  return vendor().cuLaunchKernelEx(&config, f, nullptr, extra);
}

CUresult remora_cu_server_occupancy_for_config(remora::server::Call&, int which, int* value, CUfunction f,
                                               unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
                                               unsigned int by, unsigned int bz, unsigned int shared, CUstream stream,
                                               const void* attrs, unsigned int num_attrs) {
  std::vector<CUlaunchAttribute> a = launch_attributes(attrs, num_attrs, nullptr, nullptr);
  const CUlaunchConfig config{gx, gy, gz, bx, by, bz, shared, stream, a.empty() ? nullptr : a.data(), num_attrs};
  if (which == 0) return vendor().cuOccupancyMaxActiveClusters(value, f, &config);
  if (which == 1) return vendor().cuOccupancyMaxPotentialClusterSize(value, f, &config);
  return CUDA_ERROR_INVALID_VALUE;
}

CUresult remora_cu_server_library_load_data(remora::server::Call&, CUlibrary* library, const void* code,
                                            const CUjit_option* jit_options, const uint64_t* jit_values,
                                            unsigned int num_jit, const CUlibraryOption* library_options,
                                            const uint64_t* library_values, unsigned int num_library) {
  // The arrays arrive as the guest sent them: null with a count is the driver's invalid value.
  if ((num_jit != 0 && (jit_options == nullptr || jit_values == nullptr)) ||
      (num_library != 0 && (library_options == nullptr || library_values == nullptr)))
    return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUjit_option> jit(jit_options, jit_options + num_jit);
  std::vector<void*> jv(num_jit);
  for (unsigned int i = 0; i < num_jit; ++i) {
    // A guest-chosen pointer must never reach the driver as a buffer to write.
    if (remora_cu_jit_option_is_pointer(jit_options[i])) return CUDA_ERROR_NOT_SUPPORTED;
    jv[i] = reinterpret_cast<void*>(static_cast<uintptr_t>(jit_values[i]));
  }
  std::vector<CUlibraryOption> lib;
  std::vector<void*> lv;
  for (unsigned int i = 0; i < num_library; ++i) {
    // CU_LIBRARY_BINARY_IS_PRESERVED lets the driver keep using the caller's image after the call: the
    // image here is the call's message, gone afterwards. Left out, the driver keeps a copy of its own.
    if (library_options[i] == CU_LIBRARY_BINARY_IS_PRESERVED) continue;
    lib.push_back(library_options[i]);
    lv.push_back(reinterpret_cast<void*>(static_cast<uintptr_t>(library_values[i])));
  }
  const unsigned int kept = static_cast<unsigned int>(lib.size());
  return vendor().cuLibraryLoadData(library, code, jit.data(), jv.data(), num_jit, lib.data(), lv.data(), kept);
}

CUresult remora_cu_server_get_name_text(remora::server::Call&, CUfunction f, int which, char* text, size_t capacity,
                                        size_t* length) {
  const char* name = nullptr;
  const CUresult r = which == 0 ? vendor().cuFuncGetName(&name, f)
                                : vendor().cuKernelGetName(&name, reinterpret_cast<CUkernel>(f));
  if (r != CUDA_SUCCESS) return r;
  return remora::cuda::server_glue::copy_error_text(name, text, capacity, length);
}

CUresult remora_cu_server_stream_get_capture_info(remora::server::Call&, CUstream stream, CUstreamCaptureStatus* status,
                                                  cuuint64_t* id, CUgraph* graph, CUgraphNode* dependencies,
                                                  CUgraphEdgeData* edges, size_t capacity, size_t* count) {
  const CUgraphNode* deps = nullptr;
  const CUgraphEdgeData* edge_data = nullptr;
  size_t n = 0;
  const CUresult r = vendor().cuStreamGetCaptureInfo_v3(stream, status, id, graph, &deps, &edge_data, &n);
  if (r != CUDA_SUCCESS) return r;
  if (count != nullptr) *count = n;
  for (size_t i = 0; i < n && i < capacity; ++i) {
    if (dependencies != nullptr) dependencies[i] = deps != nullptr ? deps[i] : nullptr;
    if (edges != nullptr) edges[i] = edge_data != nullptr ? edge_data[i] : CUgraphEdgeData{};
  }
  return CUDA_SUCCESS;
}

CUresult remora_cu_server_mem_retain_allocation_handle(remora::server::Call&, CUmemGenericAllocationHandle* handle,
                                                       CUdeviceptr addr) {
  return vendor().cuMemRetainAllocationHandle(handle, reinterpret_cast<void*>(addr));
}

namespace {

CUevent* event_field(CUlaunchAttributeID attr, CUlaunchAttributeValue* v) {
  if (attr == CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT) return &v->programmaticEvent.event;
  if (attr == CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT) return &v->launchCompletionEvent.event;
  return nullptr;
}

// The value the guest sent, with the event (translated by the dispatch) in its place; an event field
// of any other attribute is never read by the driver.
CUlaunchAttributeValue value_with_event(CUlaunchAttributeID attr, const void* bytes, CUevent event) {
  CUlaunchAttributeValue v{};
  if (bytes != nullptr) std::memcpy(&v, bytes, sizeof v);
  if (CUevent* field = event_field(attr, &v)) *field = event;
  return v;
}

// The driver's value with its event taken out into *event (EXISTING: the dispatch turns it into an id).
void split_event(CUlaunchAttributeID attr, void* bytes, CUevent* event) {
  if (bytes == nullptr) return;
  CUlaunchAttributeValue v;
  std::memcpy(&v, bytes, sizeof v);
  if (CUevent* field = event_field(attr, &v)) {
    if (event != nullptr) *event = *field;
    *field = nullptr;
  }
  std::memcpy(bytes, &v, sizeof v);
}

}  // namespace

CUresult remora_cu_server_stream_get_attribute(remora::server::Call&, CUstream stream, CUstreamAttrID attr, void* value,
                                               CUevent* event) {
  const CUresult r = vendor().cuStreamGetAttribute(stream, attr, static_cast<CUstreamAttrValue*>(value));
  if (r == CUDA_SUCCESS) split_event(attr, value, event);
  return r;
}

CUresult remora_cu_server_stream_set_attribute(remora::server::Call&, CUstream stream, CUstreamAttrID attr,
                                               const void* value, CUevent event) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUlaunchAttributeValue v = value_with_event(attr, value, event);
  return vendor().cuStreamSetAttribute(stream, attr, &v);
}

CUresult remora_cu_server_kernel_node_get_attribute(remora::server::Call&, CUgraphNode node, CUkernelNodeAttrID attr,
                                                    void* value, CUevent* event) {
  const CUresult r = vendor().cuGraphKernelNodeGetAttribute(node, attr, static_cast<CUkernelNodeAttrValue*>(value));
  if (r == CUDA_SUCCESS) split_event(attr, value, event);
  return r;
}

CUresult remora_cu_server_kernel_node_set_attribute(remora::server::Call&, CUgraphNode node, CUkernelNodeAttrID attr,
                                                    const void* value, CUevent event) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUlaunchAttributeValue v = value_with_event(attr, value, event);
  return vendor().cuGraphKernelNodeSetAttribute(node, attr, &v);
}
