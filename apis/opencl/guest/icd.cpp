// The ICD face of the OpenCL guest library: the Runtime, the dispatch table every handle points at,
// and the entry points the system's ICD loader calls (the only symbols exported, see exports.map).
#include <CL/cl_icd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "common/log.h"
#include "guest_glue.h"

namespace {

using remora::opencl::guest_glue::GlueState;

// Fills a dispatch member only when struct _cl_icd_dispatch has one of that name and type: the X-lists
// name every function of the spec, the table only what the ICD loader dispatches.
#define REMORA_CL_SETTER(name, entry)                                           \
  template <typename T>                                                         \
  auto set_##name(T& table, int)->decltype(void(table.name = &entry)) {          \
    table.name = &entry;                                                        \
  }                                                                             \
  template <typename T>                                                         \
  void set_##name(T&, long) {}
REMORA_OPENCL_CORE_FUNCTIONS(REMORA_CL_SETTER)
REMORA_OPENCL_EXTENSION_FUNCTIONS(REMORA_CL_SETTER)
#undef REMORA_CL_SETTER

_cl_icd_dispatch make_dispatch() {
  _cl_icd_dispatch table{};
#define REMORA_CL_SET(name, entry) set_##name(table, 0);
  REMORA_OPENCL_CORE_FUNCTIONS(REMORA_CL_SET)
  REMORA_OPENCL_EXTENSION_FUNCTIONS(REMORA_CL_SET)
#undef REMORA_CL_SET
  return table;
}

// The process's one OpenCL guest: dispatch table, Runtime and glue state, built on first use.
struct Guest {
  _cl_icd_dispatch dispatch = make_dispatch();
  remora::guest::Runtime runtime{remora_opencl_api, &dispatch};
  GlueState glue;
};

Guest& the_guest() { return remora::guest::process_guest<Guest>(); }

// The remora implementation of extension function `name`, or nullptr if the spec does not have it.
void* extension_entry(const char* name) {
#define REMORA_CL_MATCH(fn, entry) \
  if (std::strcmp(name, #fn) == 0) return reinterpret_cast<void*>(&entry);
  REMORA_OPENCL_EXTENSION_FUNCTIONS(REMORA_CL_MATCH)
#undef REMORA_CL_MATCH
  return nullptr;
}

void* lookup_extension(cl_platform_id platform, const char* name) {
  if (name == nullptr) return nullptr;
  void* entry = extension_entry(name);
  if (entry == nullptr) return nullptr;
  // The loader asks for this one before any platform exists; it never needs the server.
  if (std::strcmp(name, "clIcdGetPlatformIDsKHR") == 0) return entry;
  // Offer only what the server's platform can run, so applications that probe for an extension
  // function see the same answer as on the server.
  if (remora_remote_remora_clHasExtensionFunction(platform, name) != CL_SUCCESS) return nullptr;
  return entry;
}

}  // namespace

remora::guest::Runtime& remora_opencl_runtime() { return the_guest().runtime; }

namespace remora::opencl::guest_glue {

GlueState& glue_state() { return the_guest().glue; }

remora::guest::Object* live_object(const void* handle, uint32_t type) {
  uint64_t id = 0;
  if (handle == nullptr || !remora_opencl_runtime().objects().to_id(handle, type, &id)) return nullptr;
  return remora::guest::Objects::as_object(handle);
}

KernelArgShapes* kernel_arg_shapes(cl_kernel kernel) {
  remora::guest::Object* o = live_object(kernel, kType_cl_kernel);
  if (o == nullptr) return nullptr;
  // Created at most once even if two threads race here (which OpenCL does not allow for one kernel
  // anyway). Freed by remora_cl_kernel_retired with the kernel's last reference.
  std::atomic_ref<void*> slot(o->api_data);
  void* current = slot.load(std::memory_order_acquire);
  if (current == nullptr) {
    auto* fresh = new KernelArgShapes;
    if (slot.compare_exchange_strong(current, fresh, std::memory_order_acq_rel)) return fresh;
    delete fresh;
  }
  return static_cast<KernelArgShapes*>(current);
}

}  // namespace remora::opencl::guest_glue

// REMORA_HANDLE_WITH_RECORD(cl_kernel): the argument shapes go with the kernel's last reference. A
// retired kernel is no longer live_object(), so kernel_arg_shapes() cannot hand out what is freed here.
void remora_cl_kernel_retired(remora::guest::Object* o) {
  delete static_cast<remora::opencl::guest_glue::KernelArgShapes*>(std::exchange(o->api_data, nullptr));
}

extern "C" {

cl_int remora_cl_icd_get_platform_ids(cl_uint num_entries, cl_platform_id* platforms,
                                      cl_uint* num_platforms) {
  if (num_platforms != nullptr) *num_platforms = 0;
  // Inside a remora server the system loader may find remora's own ICD: offering it would make the
  // server forward to itself.
  if (std::getenv("REMORA_SERVER_PROCESS") != nullptr) return CL_PLATFORM_NOT_FOUND_KHR;
  remora::guest::Runtime& rt = remora_opencl_runtime();
  const remora::Status connected = rt.ensure_connected();
  if (!connected.ok()) {
    // The loader then skips remora and the application sees the other platforms, if any.
    std::call_once(the_guest().glue.unreachable_logged, [&] {
      remora::log::warn("no remora platforms: the server cannot be reached ({})", connected.str());
    });
    return CL_PLATFORM_NOT_FOUND_KHR;
  }
  cl_uint found = 0;
  const cl_int err = remora_remote_clGetPlatformIDs(num_entries, platforms, &found);
  if (num_platforms != nullptr) *num_platforms = found;
  if (err == CL_SUCCESS && found == 0) return CL_PLATFORM_NOT_FOUND_KHR;
  return err;
}

void* remora_cl_get_extension_function_address_for_platform(cl_platform_id platform,
                                                            const char* func_name) {
  return lookup_extension(platform, func_name);
}

void* remora_cl_get_extension_function_address(const char* func_name) {
  return lookup_extension(nullptr, func_name);
}

// ---- Exported (exports.map) ----------------------------------------------------------------------

__attribute__((visibility("default"))) CL_API_ENTRY cl_int CL_API_CALL
clIcdGetPlatformIDsKHR(cl_uint num_entries, cl_platform_id* platforms, cl_uint* num_platforms) {
  return remora_cl_icd_get_platform_ids(num_entries, platforms, num_platforms);
}

__attribute__((visibility("default"))) CL_API_ENTRY void* CL_API_CALL
clGetExtensionFunctionAddress(const char* func_name) {
  return remora_cl_get_extension_function_address(func_name);
}

// ocl-icd looks this one up by name in the vendor library (to read the platform's ICD suffix)
// rather than through the dispatch table.
__attribute__((visibility("default"))) CL_API_ENTRY cl_int CL_API_CALL
clGetPlatformInfo(cl_platform_id platform, cl_platform_info param_name, size_t param_value_size,
                  void* param_value, size_t* param_value_size_ret) {
  return the_guest().dispatch.clGetPlatformInfo(platform, param_name, param_value_size, param_value,
                                                param_value_size_ret);
}

}  // extern "C"
