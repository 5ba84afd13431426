// expect: struct_handle_unlisted.spec.c:15:54: error: parameter 'desc' of 'mini_create_image' points to struct 'mini_image_desc' whose field 'buffer' is a handle: list it in REMORA_STRUCT_HANDLES("buffer:<type>")
// A struct pointer with a handle field the spec does not list.
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
mini_buffer mini_create_image(mini_context context, mini_flags flags, mini_format format,
                              const mini_image_desc *desc, mini_status *errcode_ret REMORA_ERRCODE);
