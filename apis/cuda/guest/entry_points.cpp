// cuGetProcAddress: resolves driver API names to remora's own entry points, so that code which looks
// the driver up by name (instead of linking it; the CUDA runtime does nothing else) reaches remora too.
// The driver's private tables (cuGetExportTable) are export_tables.cpp's.
#include <dlfcn.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "common/log.h"
#include "guest_glue.h"

namespace {

// "cuMemAlloc_v2" -> "cuMemAlloc"; names without a version suffix unchanged.
std::string_view base_name(std::string_view symbol) {
  const size_t v = symbol.rfind("_v");
  if (v == std::string_view::npos || v + 2 >= symbol.size()) return symbol;
  for (size_t i = v + 2; i < symbol.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(symbol[i]))) return symbol;
  return symbol.substr(0, v);
}

// Every driver function remora has, with the version that introduced its ABI (generated from the
// spec and cudaTypedefs.h: REMORA_PROC_TYPEDEFS).
struct ProcEntry {
  std::string_view base;
  void* entry;
  int version;
};
#define REMORA_CU_PROC_ENTRY(symbol, entry, version) ProcEntry{base_name(#symbol), reinterpret_cast<void*>(&entry), version},
const ProcEntry kProcEntries[] = {REMORA_CUDA_PROC_ENTRIES(REMORA_CU_PROC_ENTRY)};
#undef REMORA_CU_PROC_ENTRY

// Every other ABI the headers name: exported by this library as a refusal under its symbol.
struct ProcRefusal {
  std::string_view base;
  const char* symbol;
  int version;
};
#define REMORA_CU_PROC_REFUSAL(base, symbol, version) ProcRefusal{base, symbol, version},
const ProcRefusal kProcRefusals[] = {REMORA_CUDA_PROC_REFUSALS(REMORA_CU_PROC_REFUSAL)};
#undef REMORA_CU_PROC_REFUSAL

}  // namespace

// What a name no header of remora's declares resolves to (the graphics interop of cudaGL.h,
// cudaEGL.h, cudaVDPAU.h; the profiler of cudaProfiler.h): a function that answers
// CUDA_ERROR_NOT_SUPPORTED whatever it is called with, as the refusals do. The CUDA runtime looks all
// of them up while it initialises and fails outright when one is missing, although a program calls
// few. Safe for any signature: under the x86-64 and AArch64 calling conventions a callee that reads
// no arguments may be called with any, and every driver API function returns CUresult.
extern "C" CUresult remora_cu_not_supported() { return CUDA_ERROR_NOT_SUPPORTED; }

namespace {

// This library's own exported function `symbol` (a refusal, REMORA_REFUSE_UNLISTED).
void* own_symbol(const char* symbol) {
  static void* self = [] {
    Dl_info info{};
    if (::dladdr(reinterpret_cast<void*>(&remora_cu_not_supported), &info) == 0 || info.dli_fname == nullptr)
      return static_cast<void*>(nullptr);
    return ::dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  }();
  return self != nullptr ? ::dlsym(self, symbol) : nullptr;
}

}  // namespace

// As the driver answers: the newest ABI of the name that the caller's version knows, whether remora
// implements it or refuses it (the refusal says so when it is called); a name whose first ABI is newer
// than the caller's version is CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT.
extern "C" CUresult remora_cu_get_proc_address(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                                               CUdriverProcAddressQueryResult* status) {
  if (symbol == nullptr || pfn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pfn = nullptr;
  auto answer = [&](CUdriverProcAddressQueryResult s) {
    if (status != nullptr) *status = s;
    return s == CU_GET_PROC_ADDRESS_SUCCESS ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
  };
  const std::string_view wanted(symbol);
  if (wanted.size() < 3 || wanted.substr(0, 2) != "cu") return answer(CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  // Per-thread default stream semantics: the _ptsz/_ptds entry point where the function has one
  // (per_thread.cpp); a function without stream semantics is its plain self (below).
  if ((flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0) {
    if (void* entry = remora::cuda::guest_glue::per_thread_entry(wanted)) {
      *pfn = entry;
      return answer(CU_GET_PROC_ADDRESS_SUCCESS);
    }
  }
  const ProcEntry* best = nullptr;
  const ProcRefusal* refused = nullptr;
  bool known = false;
  for (const ProcEntry& e : kProcEntries) {
    if (e.base != wanted) continue;
    known = true;
    if (e.version <= cuda_version && (best == nullptr || e.version > best->version)) best = &e;
  }
  for (const ProcRefusal& r : kProcRefusals) {
    if (r.base != wanted) continue;
    known = true;
    if (r.version <= cuda_version && (refused == nullptr || r.version > refused->version)) refused = &r;
  }
  if (best != nullptr && (refused == nullptr || best->version > refused->version)) {
    *pfn = best->entry;
    return answer(CU_GET_PROC_ADDRESS_SUCCESS);
  }
  if (refused != nullptr) {
    remora::log::debug("cuGetProcAddress({}, version {}): {} (version {}), which remora refuses", symbol,
                       cuda_version, refused->symbol, refused->version);
    *pfn = own_symbol(refused->symbol);
    if (*pfn == nullptr) *pfn = reinterpret_cast<void*>(&remora_cu_not_supported);
    return answer(CU_GET_PROC_ADDRESS_SUCCESS);
  }
  if (known) {
    remora::log::debug("cuGetProcAddress({}, version {}): no ABI that old", symbol, cuda_version);
    return answer(CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
  }
  remora::log::debug("cuGetProcAddress({}, version {}, flags {:#x}): not a function of remora's headers; it answers "
                     "CUDA_ERROR_NOT_SUPPORTED",
                     symbol, cuda_version, static_cast<unsigned long long>(flags));
  *pfn = reinterpret_cast<void*>(&remora_cu_not_supported);
  return answer(CU_GET_PROC_ADDRESS_SUCCESS);
}

// The CUDA 11.3 form without the query result, which cuda.h renames away: the runtime looks the
// driver's cuGetProcAddress up by both names.
extern "C" CUresult remora_cu_get_proc_address_v1(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags) {
  return remora_cu_get_proc_address(symbol, pfn, cuda_version, flags, nullptr);
}
