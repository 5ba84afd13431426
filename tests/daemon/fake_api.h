// The fake API the tenant tests serve: enough to exercise quotas and call rates through a real session
// process. Opcodes: 1 alloc(u64 bytes) -> (u64 id, i64 status), charged as device memory like a
// REMORA_RESOURCE(device_memory, ...) call; 2 release(u64 id) -> i64 status; 3 noop() -> i64 0.
#pragma once

#include <cstdint>

namespace remora::test {
inline constexpr const char* kFakeApi = "fake";
inline constexpr uint32_t kOpAlloc = 1, kOpRelease = 2, kOpNoop = 3;
// Indexed by opcode, as a generated kOpcodeSignatures (0: unused).
inline constexpr uint64_t kFakeSignatures[4] = {0, 0xfa41, 0xfa42, 0xfa43};
inline constexpr int64_t kQuotaError = -4;  // as CL_MEM_OBJECT_ALLOCATION_FAILURE
inline constexpr int64_t kInvalidObject = -38;
}  // namespace remora::test
