// The fake API the tenant tests serve: enough to exercise quotas and call rates through a real session
// process. Opcodes: 1 alloc(u64 bytes) -> (u64 id, i64 status), charged as device memory like a
// REMORA_RESOURCE(device_memory, ...) call; 2 release(u64 id) -> i64 status; 3 noop() -> i64 0.
#pragma once

#include <cstdint>

namespace remora::test {
inline constexpr const char* kFakeApi = "fake";
inline constexpr uint64_t kFakeApiVersion = 0xfa4e;
inline constexpr uint32_t kOpAlloc = 1, kOpRelease = 2, kOpNoop = 3;
inline constexpr int64_t kQuotaError = -4;  // as CL_MEM_OBJECT_ALLOCATION_FAILURE
inline constexpr int64_t kInvalidObject = -38;
}  // namespace remora::test
