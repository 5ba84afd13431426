// expect: length_ret_missing_param.spec.c:15:40: error: parameter 'param_value' of 'mini_get_device_info' has REMORA_LENGTH_RET naming 'size_ret', which is not a parameter of 'mini_get_device_info'
// REMORA_LENGTH_RET naming a parameter that does not exist.
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
mini_status mini_get_device_info(mini_device device, mini_device_info param_name, size_t param_value_size,
                                 void *param_value REMORA_BYTES(param_value_size) REMORA_LENGTH_RET(size_ret),
                                 size_t *param_value_size_ret);
