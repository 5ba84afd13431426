// expect: callback_unforwardable_arg.spec.c:16:41: error: parameter 'pfn_notify' of 'mini_create_context' is a callback whose parameter 'private_info' (const void *) remora cannot forward: describe it in REMORA_CALLBACK's args, e.g. "private_info:bytes(size_param)"
// A callback parameter that is neither handle, string, scalar nor described.
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
mini_context mini_create_context(const mini_property *properties REMORA_PROPERTIES(""),
                                 mini_uint num_devices, const mini_device *devices REMORA_COUNT(num_devices),
                                 void (*pfn_notify)(const char *errinfo, const void *private_info,
                                                    size_t cb, void *user_data)
                                     REMORA_CALLBACK(user_data, many, ""),
                                 void *user_data, mini_status *errcode_ret REMORA_ERRCODE);
