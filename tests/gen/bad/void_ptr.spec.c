// expect: void_ptr.spec.c:15:44: error: parameter 'ptr' of 'mini_enqueue_write' is a pointer with no known length: add REMORA_BYTES(expr)
// A void * with no length: the generator cannot know how many bytes travel.
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
mini_status mini_enqueue_write(mini_queue queue, mini_buffer buffer, size_t offset, size_t size,
                               const void *ptr, mini_uint num_events_in_wait_list,
                               const mini_event *event_wait_list REMORA_COUNT(num_events_in_wait_list),
                               mini_event *event);
