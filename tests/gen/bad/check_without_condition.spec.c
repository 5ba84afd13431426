// expect: check_without_condition.spec.c:12:13: error: REMORA_CHECK of 'mini_finish' needs an error and a condition
// REMORA_CHECK(error, condition).
#include <mini/mini.h>
#include <remora/spec.h>
REMORA_API(mini, "type=mini_status,success=MINI_SUCCESS,transport=MINI_DEVICE_NOT_AVAILABLE,unsupported=MINI_INVALID_OPERATION,invalid=MINI_INVALID_VALUE,no_memory=MINI_OUT_OF_HOST_MEMORY,quota=MINI_OUT_OF_RESOURCES");
REMORA_HANDLE(mini_device, MINI_INVALID_DEVICE);
REMORA_HANDLE(mini_context, MINI_INVALID_CONTEXT);
REMORA_HANDLE(mini_buffer, MINI_INVALID_BUFFER);
REMORA_HANDLE(mini_queue, MINI_INVALID_QUEUE);

REMORA_OPCODE(1) REMORA_CHECK(MINI_INVALID_VALUE)
mini_status mini_finish(mini_queue queue);
