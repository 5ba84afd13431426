// expect: api_errors_incomplete.spec.c:5:1: error: REMORA_API errors list lacks: invalid, no_memory, quota, type, unsupported
// REMORA_API errors list without every key remora needs.
#include <mini/mini.h>
#include <remora/spec.h>
REMORA_API(mini, "success=MINI_SUCCESS,transport=MINI_DEVICE_NOT_AVAILABLE");
REMORA_HANDLE(mini_queue, MINI_INVALID_QUEUE);

REMORA_OPCODE(1)
mini_status mini_finish(mini_queue queue);
