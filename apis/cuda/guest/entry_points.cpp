// cuGetProcAddress: resolves driver API names to remora's own entry points, so that code which looks
// the driver up by name (instead of linking it) reaches remora too.
#include <cctype>
#include <cstring>
#include <string_view>

#include "glue.h"

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

extern "C" CUresult remora_cu_get_proc_address(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                                               CUdriverProcAddressQueryResult* status) {
  if (symbol == nullptr || pfn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pfn = nullptr;
  auto answer = [&](CUdriverProcAddressQueryResult s) {
    if (status != nullptr) *status = s;
    return s == CU_GET_PROC_ADDRESS_SUCCESS ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
  };
  // Per-thread default stream variants (_ptds/_ptsz) are not forwarded.
  if ((flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0) return answer(CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  const std::string_view wanted(symbol);
#define REMORA_CU_MATCH(name, entry)                                                          \
  if (base_name(#name) == wanted) {                                                           \
    if (#name != base_name(#name) && cuda_version < introduced(#name))                        \
      return answer(CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);                              \
    *pfn = reinterpret_cast<void*>(&name);                                                    \
    return answer(CU_GET_PROC_ADDRESS_SUCCESS);                                               \
  }
  REMORA_CUDA_CORE_FUNCTIONS(REMORA_CU_MATCH)
#undef REMORA_CU_MATCH
  return answer(CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
}
