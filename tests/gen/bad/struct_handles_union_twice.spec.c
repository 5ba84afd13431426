// expect: struct_handles_union_twice.spec.c:15:54: error: parameter 'desc' of 'mini_create_image' lists 'buffer' in REMORA_STRUCT_HANDLES with another member of the same union
// Two members of one union listed: the same storage would be translated twice.
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
                              const mini_image_desc *desc REMORA_STRUCT_HANDLES("buffer:mini_buffer,mem_object:mini_buffer"),
                              mini_status *errcode_ret REMORA_ERRCODE);
