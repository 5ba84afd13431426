// cuGetExportTable: the driver's private tables, which every CUDA runtime (cudart, and the copy each
// NVIDIA library carries) asks for at start-up (docs/cuda-export-tables.md). remora's libcuda serves
// them itself, over the remoted driver API: the runtimes then run unmodified in the application's
// process, and the driver API is remora's narrow waist.
//
// Layouts (sizes, entry indexes, what an entry does) are facts measured with tests/gpu/probe and
// established by ZLUDA (vosen/ZLUDA: dark_api/src/lib.rs, zluda/src/impl/driver.rs); the code is remora's.
// A table starts with its size in bytes, except the context-local storage one. An entry remora does
// not know answers CUDA_ERROR_NOT_SUPPORTED and logs its table and index once (never NULL: some
// callers do not test it); a table remora does not know at all answers CUDA_ERROR_INVALID_VALUE
// (logged once with its UUID).
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "common/log.h"
#include "guest_glue.h"
#include "integrity.h"

namespace remora::cuda::guest_glue {
namespace {

std::string uuid_text(const CUuuid& id) {
  char hex[33];
  for (int i = 0; i < 16; ++i) std::snprintf(hex + 2 * i, 3, "%02x", static_cast<unsigned char>(id.bytes[i]));
  return hex;
}

bool same_uuid(const CUuuid& a, const unsigned char (&b)[16]) { return std::memcmp(a.bytes, b, 16) == 0; }

// A runtime's fat binary wrapper (nvcc's __fatBinC_Wrapper_t): `data` is the fatbin itself.
struct FatbinWrapper {
  uint32_t magic;  // 0x466243b1
  uint32_t version;
  const void* data;
  const void* filename_or_fatbins;
};
constexpr uint32_t kFatbinWrapperMagic = 0x466243b1;

// ---- 6bd5fb6c: the runtime's interface ------------------------------------------------------------

CUresult module_from_wrapper(CUmodule* module, const FatbinWrapper* wrapper) {
  if (module == nullptr || wrapper == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (wrapper->magic != kFatbinWrapperMagic || wrapper->data == nullptr) return CUDA_ERROR_INVALID_IMAGE;
  return load_module_image(module, wrapper->data);
}

CUresult get_module_from_cubin(CUmodule* module, const FatbinWrapper* wrapper) {
  log::debug("export table 6bd5fb6c[1] get_module_from_cubin");
  return module_from_wrapper(module, wrapper);
}

// The device's primary context, as the runtime uses it (without a reference of its own: the guest
// holds one per device for the process's life, primary_context()).
CUresult runtime_primary_context(CUcontext* pctx, CUdevice dev) {
  log::debug("export table 6bd5fb6c[2] primary context");
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return primary_context(dev, pctx);
}

// The same with link options the runtime passes for relocatable device code; remora knows none.
CUresult get_module_from_cubin_ext1(CUmodule* module, const FatbinWrapper* wrapper, void* a3, void* a4, unsigned a5) {
  if (a3 != nullptr || a4 != nullptr || a5 != 0) {
    log::warn("export table 6bd5fb6c[6]: link options for a module are not supported by remora");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  return module_from_wrapper(module, wrapper);
}

void runtime_fn7(size_t) {}

CUresult get_module_from_cubin_ext2(const void* fatbin, CUmodule* module, void* a3, void* a4, unsigned a5) {
  if (a3 != nullptr || a4 != nullptr || a5 != 0) {
    log::warn("export table 6bd5fb6c[8]: link options for a module are not supported by remora");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  if (module == nullptr || fatbin == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return load_module_image(module, fatbin);
}

// The driver loads its PTX compiler and friends here; remora's server loads what it needs itself.
CUresult load_compilers() { return CUDA_SUCCESS; }

// ---- a094798c: the tools' runtime callback hooks ---------------------------------------------------

// Two buffers the runtime asks for and fills (what the driver's tools read back). Nothing in remora
// reads them: they only have to exist, for the process's life.
uint32_t g_tools_buffer1[1024];
uint32_t g_tools_buffer2[14];
void tools_buffer1(void** ptr, size_t* size) {
  log::debug("export table a094798c[2] tools buffer 1");
  *ptr = g_tools_buffer1;
  *size = sizeof g_tools_buffer1 / sizeof g_tools_buffer1[0];
}
void tools_buffer2(void** ptr, size_t* size) {
  log::debug("export table a094798c[6] tools buffer 2");
  *ptr = g_tools_buffer2;
  *size = sizeof g_tools_buffer2 / sizeof g_tools_buffer2[0];
}

// ---- c693336e: context-local storage --------------------------------------------------------------

using ClsDestructor = void (*)(CUcontext, void* key, void* value);

CUresult resolve_context(CUcontext ctx, CUcontext* out) {
  *out = ctx != nullptr ? ctx : current_context();
  return *out != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

CUresult cls_put(CUcontext ctx, void* key, void* value, ClsDestructor dtor) {
  log::debug("export table c693336e[0] storage put");
  CUcontext c = nullptr;
  if (CUresult r = resolve_context(ctx, &c); r != CUDA_SUCCESS) return r;
  context_storage_put(c, key, value, reinterpret_cast<void*>(dtor));
  return CUDA_SUCCESS;
}

CUresult cls_delete(CUcontext ctx, void* key) {
  CUcontext c = nullptr;
  if (CUresult r = resolve_context(ctx, &c); r != CUDA_SUCCESS) return r;
  context_storage_delete(c, key);
  return CUDA_SUCCESS;
}

CUresult cls_get(void** value, CUcontext ctx, void* key) {
  log::debug("export table c693336e[2] storage get");
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUcontext c = nullptr;
  if (CUresult r = resolve_context(ctx, &c); r != CUDA_SUCCESS) return r;
  return context_storage_get(c, key, value) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

// ---- 0ca50b8c, 195bcbf4, b10541e1: what the runtimes use rarely -------------------------------------

CUresult ctx_create_bypass(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  return remora_cu_ctx_create(pctx, nullptr, flags, dev);
}

CUresult not_served(const char* what) {
  static std::mutex mu;
  static std::set<std::string> logged;
  std::lock_guard<std::mutex> lock(mu);
  if (logged.insert(what).second) log::warn("{} is not served by remora: CUDA_ERROR_NOT_SUPPORTED", what);
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult heap_alloc(const void**, size_t, size_t) { return not_served("export table 195bcbf4[1] (heap allocation)"); }
CUresult heap_free(const void*, size_t*) { return not_served("export table 195bcbf4[2] (heap free)"); }
CUresult device_attribute_ext(CUdevice, unsigned int, int, size_t*) {
  return not_served("export table b10541e1[5] (extended device attribute)");
}
CUresult device_something(unsigned char*, CUdevice) { return not_served("export table b10541e1[13]"); }

// ---- 263e8860: context checks ----------------------------------------------------------------------

CUresult context_check(CUcontext, uint32_t* result1, const void**) {
  log::debug("export table 263e8860[2] context check");
  if (result1 != nullptr) *result1 = 0;
  return CUDA_SUCCESS;
}
uint32_t check_fn3() { return 0; }

// ---- 42d85a81: the tools' thread-local state -------------------------------------------------------

// [2]: the calling thread's current context (cuBLASLt asks before each heuristic query).
CUresult tools_current_context(CUcontext* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *out = current_context();
  return CUDA_SUCCESS;
}

// ---- 21318c60: context queries ---------------------------------------------------------------------

// [3]: a context's device; [4]: its process-unique number (cuCtxGetId). A null context is the
// calling thread's current one.
CUresult context_device(CUcontext ctx, CUdevice* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUcontext c = nullptr;
  if (CUresult r = resolve_context(ctx, &c); r != CUDA_SUCCESS) return r;
  return remora_remote_cuCtxGetDevice_v2(out, c);
}
CUresult context_number(CUcontext ctx, unsigned long long* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUcontext c = nullptr;
  if (CUresult r = resolve_context(ctx, &c); r != CUDA_SUCCESS) return r;
  return remora_remote_cuCtxGetId(c, out);
}

// ---- d4082055: the integrity check -----------------------------------------------------------------

CUresult integrity_check(uint32_t version, uint64_t unix_seconds, uint64_t* result);

// ---- The tables --------------------------------------------------------------------------------------

template <size_t N>
struct Table {
  const void* entries[N];
};
#define REMORA_FN(f) reinterpret_cast<const void*>(&(f))
#define REMORA_SIZE(n) reinterpret_cast<const void*>(uintptr_t{(n) * sizeof(void*)})

// An entry remora does not serve answers CUDA_ERROR_NOT_SUPPORTED, its table and index logged once.
// Never NULL: a runtime calls some entries without testing them first (cuBLASLt calls 42d85a81[2]).
CUresult not_served_entry(uint32_t table, size_t index) {
  static std::mutex mu;
  static std::set<std::pair<uint32_t, size_t>> logged;
  std::lock_guard<std::mutex> lock(mu);
  if (logged.insert({table, index}).second)
    log::warn("export table {:08x}[{}] is not served by remora: CUDA_ERROR_NOT_SUPPORTED", table, index);
  return CUDA_ERROR_NOT_SUPPORTED;
}

template <uint32_t Tag, size_t Index>
CUresult unserved_entry() {
  return not_served_entry(Tag, Index);
}

// `t` with every empty slot an unserved_entry of its own; Tag is the table's UUID's first 4 bytes.
template <uint32_t Tag, size_t N, size_t... I>
Table<N> filled(Table<N> t, std::index_sequence<I...>) {
  ((t.entries[I] = t.entries[I] != nullptr ? t.entries[I] : REMORA_FN((unserved_entry<Tag, I>))), ...);
  return t;
}
template <uint32_t Tag, size_t N>
Table<N> filled(Table<N> t) {
  return filled<Tag>(t, std::make_index_sequence<N>{});
}

const Table<13> kCudartInterface = filled<0x6bd5fb6c>(Table<13>{
    {REMORA_SIZE(13), REMORA_FN(get_module_from_cubin), REMORA_FN(runtime_primary_context), nullptr, nullptr, nullptr,
     REMORA_FN(get_module_from_cubin_ext1), REMORA_FN(runtime_fn7), REMORA_FN(get_module_from_cubin_ext2), nullptr,
     nullptr, nullptr, REMORA_FN(load_compilers)}});
const Table<4> kToolsTls = filled<0x42d85a81>(Table<4>{{REMORA_SIZE(4), nullptr, REMORA_FN(tools_current_context)}});
// 40 slots: the callers seen use [3], [4] and entries up to [39] exist (0x138).
const Table<40> kContextQueries = filled<0x21318c60>(
    Table<40>{{REMORA_SIZE(40), nullptr, nullptr, REMORA_FN(context_device), REMORA_FN(context_number)}});
const Table<7> kToolsHooks = filled<0xa094798c>(
    Table<7>{{REMORA_SIZE(7), nullptr, REMORA_FN(tools_buffer1), nullptr, nullptr, nullptr, REMORA_FN(tools_buffer2)}});
// No size word: the runtime knows this table's layout by its UUID.
const Table<4> kContextStorage =
    filled<0xc693336e>(Table<4>{{REMORA_FN(cls_put), REMORA_FN(cls_delete), REMORA_FN(cls_get), nullptr}});
const Table<2> kCtxCreateBypass = filled<0x0ca50b8c>(Table<2>{{REMORA_SIZE(2), REMORA_FN(ctx_create_bypass)}});
const Table<3> kHeapAccess =
    filled<0x195bcbf4>(Table<3>{{REMORA_SIZE(3), REMORA_FN(heap_alloc), REMORA_FN(heap_free)}});
const Table<26> kDeviceExtended = filled<0xb10541e1>(
    Table<26>{{REMORA_SIZE(26), nullptr, nullptr, nullptr, nullptr, REMORA_FN(device_attribute_ext), nullptr, nullptr,
               nullptr, nullptr, nullptr, nullptr, nullptr, REMORA_FN(device_something)}});
const Table<3> kIntegrity = filled<0xd4082055>(Table<3>{{REMORA_SIZE(3), REMORA_FN(integrity_check), nullptr}});
const Table<4> kContextChecks =
    filled<0x263e8860>(Table<4>{{REMORA_SIZE(4), nullptr, REMORA_FN(context_check), REMORA_FN(check_fn3)}});
#undef REMORA_FN
#undef REMORA_SIZE

struct KnownTable {
  unsigned char uuid[16];
  const void* table;
};
const KnownTable kTables[] = {
    {{0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9}, &kCudartInterface},
    {{0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47, 0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc}, &kToolsTls},
    {{0xa0, 0x94, 0x79, 0x8c, 0x2e, 0x74, 0x2e, 0x74, 0x93, 0xf2, 0x08, 0x00, 0x20, 0x0c, 0x0a, 0x66}, &kToolsHooks},
    {{0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11, 0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93}, &kContextStorage},
    {{0x0c, 0xa5, 0x0b, 0x8c, 0x10, 0x04, 0x92, 0x9a, 0x89, 0xa7, 0xd0, 0xdf, 0x10, 0xe7, 0x72, 0x86}, &kCtxCreateBypass},
    {{0x19, 0x5b, 0xcb, 0xf4, 0xd6, 0x7d, 0x02, 0x4a, 0xac, 0xc5, 0x1d, 0x29, 0xce, 0xa6, 0x31, 0xae}, &kHeapAccess},
    {{0xb1, 0x05, 0x41, 0xe1, 0xf7, 0xc7, 0xc7, 0x4a, 0x9f, 0x64, 0xf2, 0x23, 0xbe, 0x99, 0xf1, 0xe2}, &kDeviceExtended},
    {{0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b, 0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2}, &kIntegrity},
    {{0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43, 0x92, 0xf6, 0xbb, 0xd5, 0x00, 0x6d, 0xfa, 0x7e}, &kContextChecks},
    {{0x21, 0x31, 0x8c, 0x60, 0x97, 0x14, 0x32, 0x48, 0x8c, 0xa6, 0x41, 0xff, 0x73, 0x24, 0xc8, 0xf2}, &kContextQueries},
};

CUresult integrity_check(uint32_t version, uint64_t unix_seconds, uint64_t* result) {
  log::debug("export table d4082055[1]: the integrity check, version {}", version);
  if (result == nullptr) return CUDA_ERROR_INVALID_VALUE;
  IntegrityInputs in;
  // The same answers the runtime got: through the same remoted calls (the device queries are
  // answered once by the server and kept: they never change).
  int driver = 0, count = 0;
  if (CUresult r = remora_remote_cuDriverGetVersion(&driver); r != CUDA_SUCCESS) return r;
  if (CUresult r = remora_remote_cuDeviceGetCount(&count); r != CUDA_SUCCESS) return r;
  for (int d = 0; d < count; ++d) {
    IntegrityDevice dev{};
    // The first ABI's UUID (a MIG instance's parent GPU), which is what cudart 13 asks for and hashes.
    if (CUresult r = remora_remote_cuDeviceGetUuid(&dev.uuid, d); r != CUDA_SUCCESS) return r;
    int domain = 0, bus = 0, device = 0;
    if (CUresult r = remora_remote_cuDeviceGetAttribute(&domain, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, d); r != CUDA_SUCCESS)
      return r;
    if (CUresult r = remora_remote_cuDeviceGetAttribute(&bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, d); r != CUDA_SUCCESS)
      return r;
    if (CUresult r = remora_remote_cuDeviceGetAttribute(&device, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, d); r != CUDA_SUCCESS)
      return r;
    dev.pci_domain = domain;
    dev.pci_bus = bus;
    dev.pci_device = device;
    in.devices.push_back(dev);
  }
  in.driver_version = static_cast<uint32_t>(driver);
  in.version = version;
  in.pid = static_cast<uint32_t>(::getpid());
  in.tid = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(reinterpret_cast<void*>(::pthread_self())));
  in.cudart_table = &kCudartInterface;
  in.integrity_table = &kIntegrity;
  in.check_function = kIntegrity.entries[1];
  in.unix_seconds = unix_seconds;
  integrity_answer(in, result);
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace remora::cuda::guest_glue

extern "C" CUresult remora_cu_get_export_table(const void** table, const CUuuid* id) {
  if (table == nullptr || id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (const auto& known : remora::cuda::guest_glue::kTables) {
    if (remora::cuda::guest_glue::same_uuid(*id, known.uuid)) {
      remora::log::debug("cuGetExportTable({})", remora::cuda::guest_glue::uuid_text(*id));
      *table = known.table;
      return CUDA_SUCCESS;
    }
  }
  *table = nullptr;
  static std::mutex mu;
  static std::set<std::string> logged;
  const std::string hex = remora::cuda::guest_glue::uuid_text(*id);
  std::lock_guard<std::mutex> lock(mu);
  if (logged.insert(hex).second)
    remora::log::info("cuGetExportTable({}): a table remora does not know: CUDA_ERROR_INVALID_VALUE", hex);
  return CUDA_ERROR_INVALID_VALUE;
}
