// cuGetProcAddress: resolves driver API names to remora's own entry points, so that code which looks
// the driver up by name (instead of linking it; the CUDA runtime does nothing else) reaches remora too;
// and cuGetExportTable, which remora answers with an error.
#include <cctype>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "common/log.h"
#include "guest_glue.h"

namespace {

// The CUDA version that introduced a versioned symbol's ABI (cuMemAlloc_v2 since 3.2, ...). A caller
// asking for an older version wants the older ABI, which remora does not export: it gets
// CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT rather than a function with another signature.
int introduced(std::string_view symbol) {
  struct Since {
    std::string_view name;
    int version;
  };
  static constexpr Since kSince[] = {
      {"cuCtxCreate_v4", 12050},       {"cuCtxDestroy_v2", 4000},        {"cuCtxPushCurrent_v2", 4000},
      {"cuCtxPopCurrent_v2", 4000},    {"cuDevicePrimaryCtxRelease_v2", 11000},
      {"cuDevicePrimaryCtxReset_v2", 11000}, {"cuDevicePrimaryCtxSetFlags_v2", 11000},
      {"cuDeviceGetUuid_v2", 11040},   {"cuStreamDestroy_v2", 4000},     {"cuEventDestroy_v2", 4000},
      {"cuEventElapsedTime_v2", 12080}, {"cuGetProcAddress_v2", 12000},  {"cuMemHostRegister_v2", 6050},
  };
  for (const Since& s : kSince)
    if (s.name == symbol) return s.version;
  return 3020;  // the other _v2 symbols: the 64-bit API of CUDA 3.2
}

// "cuMemAlloc_v2" -> "cuMemAlloc"; names without a version suffix unchanged.
std::string_view base_name(std::string_view symbol) {
  const size_t v = symbol.rfind("_v");
  if (v == std::string_view::npos || v + 2 >= symbol.size()) return symbol;
  for (size_t i = v + 2; i < symbol.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(symbol[i]))) return symbol;
  return symbol.substr(0, v);
}

}  // namespace

// What every name remora does not forward resolves to: a function that answers
// CUDA_ERROR_NOT_SUPPORTED whatever it is called with. The CUDA runtime looks up several hundred
// driver functions while it initialises and fails outright when one is missing, although a program
// calls few of them; with this, a program fails at the first call remora cannot serve, with an error
// the runtime reports, instead of at start-up. Safe for any signature: under the x86-64 and AArch64
// calling conventions a callee that reads no arguments may be called with any, and every driver API
// function returns CUresult.
extern "C" CUresult remora_cu_not_supported() { return CUDA_ERROR_NOT_SUPPORTED; }

extern "C" CUresult remora_cu_get_proc_address(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                                               CUdriverProcAddressQueryResult* status) {
  if (symbol == nullptr || pfn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pfn = nullptr;
  auto answer = [&](CUdriverProcAddressQueryResult s) {
    if (status != nullptr) *status = s;
    return s == CU_GET_PROC_ADDRESS_SUCCESS ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
  };
  auto unsupported = [&](const char* why) {
    remora::log::debug("cuGetProcAddress({}, version {}, flags {:#x}): {}; it answers CUDA_ERROR_NOT_SUPPORTED",
                       symbol, cuda_version, static_cast<unsigned long long>(flags), why);
    *pfn = reinterpret_cast<void*>(&remora_cu_not_supported);
    return answer(CU_GET_PROC_ADDRESS_SUCCESS);
  };
  const std::string_view wanted(symbol);
  // Per-thread default stream semantics: the _ptsz/_ptds entry point where the function has one
  // (per_thread.cpp); a function without stream semantics is its plain self (below).
  if ((flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0) {
    if (void* entry = remora::cuda::guest_glue::per_thread_entry(wanted)) {
      *pfn = entry;
      return answer(CU_GET_PROC_ADDRESS_SUCCESS);
    }
  }
#define REMORA_CU_MATCH(name, entry)                                                          \
  if (base_name(#name) == wanted) {                                                           \
    if (#name != base_name(#name) && cuda_version < introduced(#name))                        \
      return unsupported("the caller wants an older ABI than remora's");                      \
    *pfn = reinterpret_cast<void*>(&name);                                                    \
    return answer(CU_GET_PROC_ADDRESS_SUCCESS);                                               \
  }
  REMORA_CUDA_CORE_FUNCTIONS(REMORA_CU_MATCH)
#undef REMORA_CU_MATCH
  return unsupported("not forwarded by remora");
}

// The driver's undocumented tables (docs/cuda-export-tables.md): the CUDA runtime asks for seven at
// start-up, one of them a challenge that establishes the driver's "software validity", which no
// stand-in driver can answer. A real cudart therefore never works over remora: `remora run` gives a
// -cudart shared program remora's libcudart.so.13, and points a static cudart's entry points at it
// (apis/cuda/preload). A cudart that still asks lands here; the answer is an error it reports, never
// a table with entries that could not be served.
extern "C" CUresult remora_cu_get_export_table(const void** table, const CUuuid* id) {
  if (table == nullptr || id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *table = nullptr;
  char hex[33];
  for (int i = 0; i < 16; ++i) std::snprintf(hex + 2 * i, 3, "%02x", static_cast<unsigned char>(id->bytes[i]));
  remora::log::warn("cuGetExportTable({}): the driver's private tables are not forwarded by remora: a "
                    "CUDA runtime other than remora's is running (a static cudart in a shared library or "
                    "a stripped program, or REMORA_STATIC_CUDART=0; see docs/cuda-export-tables.md)", hex);
  return CUDA_ERROR_NOT_SUPPORTED;
}

// The CUDA 11.3 form without the query result, which cuda.h renames away: the runtime looks the
// driver's cuGetProcAddress up by both names.
#undef cuGetProcAddress
extern "C" __attribute__((visibility("default"))) CUresult cuGetProcAddress(const char* symbol, void** pfn,
                                                                            int cuda_version, cuuint64_t flags) {
  return remora_cu_get_proc_address(symbol, pfn, cuda_version, flags, nullptr);
}
