// expect: async_handle_return.spec.c:14:12: error: REMORA_ASYNC function 'mini_create_queue' returns 'mini_queue', which the guest cannot produce before the call runs
// REMORA_ASYNC on a call that returns a new handle.
#include <mini/mini.h>
#include <remora/spec.h>
REMORA_API(mini, "type=mini_status,success=MINI_SUCCESS,transport=MINI_DEVICE_NOT_AVAILABLE,unsupported=MINI_INVALID_OPERATION,invalid=MINI_INVALID_VALUE,no_memory=MINI_OUT_OF_HOST_MEMORY,quota=MINI_OUT_OF_RESOURCES");
REMORA_HANDLE(mini_device, MINI_INVALID_DEVICE);
REMORA_HANDLE(mini_context, MINI_INVALID_CONTEXT);
REMORA_HANDLE(mini_buffer, MINI_INVALID_BUFFER);
REMORA_HANDLE(mini_queue, MINI_INVALID_QUEUE);
REMORA_HANDLE(mini_event, MINI_INVALID_EVENT);
REMORA_HANDLE(mini_program, MINI_INVALID_PROGRAM);

REMORA_OPCODE(1) REMORA_ASYNC
mini_queue mini_create_queue(mini_context context, mini_device device, mini_flags flags,
                             mini_status *errcode_ret REMORA_ERRCODE);
