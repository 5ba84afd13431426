// expect: callback_no_user_data.spec.c:14:36: error: parameter 'logger' of 'mini_set_logger' has REMORA_CALLBACK user data naming 'message', which is not a parameter of 'mini_set_logger'
// expect: callback_no_user_data.spec.c:14:36: error: parameter 'logger' of 'mini_set_logger' is a callback without a trailing 'void *user_data' parameter: remora routes callbacks through it
#include <mini/mini.h>
#include <remora/spec.h>
REMORA_API(mini, "type=mini_status,success=MINI_SUCCESS,transport=MINI_DEVICE_NOT_AVAILABLE,unsupported=MINI_INVALID_OPERATION,invalid=MINI_INVALID_VALUE,no_memory=MINI_OUT_OF_HOST_MEMORY,quota=MINI_OUT_OF_RESOURCES");
REMORA_HANDLE(mini_device, MINI_INVALID_DEVICE);
REMORA_HANDLE(mini_context, MINI_INVALID_CONTEXT);
REMORA_HANDLE(mini_buffer, MINI_INVALID_BUFFER);
REMORA_HANDLE(mini_queue, MINI_INVALID_QUEUE);
REMORA_HANDLE(mini_event, MINI_INVALID_EVENT);
REMORA_HANDLE(mini_program, MINI_INVALID_PROGRAM);

REMORA_OPCODE(1)
mini_status mini_set_logger(void (*logger)(const char *message) REMORA_CALLBACK(message, many, ""));
// A callback whose own signature has no user data cannot be routed back (and REMORA_CALLBACK has nothing to name).
