// expect: function_pointer_without_callback.spec.c:16:39: error: parameter 'pfn_notify' of 'mini_build_program' is a function pointer without REMORA_CALLBACK(user_data, once|many, "args")
// A function pointer parameter must be described with REMORA_CALLBACK.
#include <mini/mini.h>
#include <remora/spec.h>
REMORA_API(mini, "type=mini_status,success=MINI_SUCCESS,transport=MINI_DEVICE_NOT_AVAILABLE,unsupported=MINI_INVALID_OPERATION,invalid=MINI_INVALID_VALUE,no_memory=MINI_OUT_OF_HOST_MEMORY,quota=MINI_OUT_OF_RESOURCES");
REMORA_HANDLE(mini_device, MINI_INVALID_DEVICE);
REMORA_HANDLE(mini_context, MINI_INVALID_CONTEXT);
REMORA_HANDLE(mini_buffer, MINI_INVALID_BUFFER);
REMORA_HANDLE(mini_queue, MINI_INVALID_QUEUE);
REMORA_HANDLE(mini_event, MINI_INVALID_EVENT);
REMORA_HANDLE(mini_program, MINI_INVALID_PROGRAM);

REMORA_OPCODE(1) REMORA_BLOCKING
mini_status mini_build_program(mini_program program, mini_uint num_devices,
                               const mini_device *device_list REMORA_COUNT(num_devices), const char *options,
                               void (*pfn_notify)(mini_program program, void *user_data),
                               void *user_data REMORA_USER_DATA);
