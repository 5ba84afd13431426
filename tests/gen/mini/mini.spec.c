// The spec of the fake mini API (mini.h): one function per kind of parameter the front end knows.
// Its model is pinned by golden/mini.model.txt (see spec_parser_test.cpp to regenerate).
#include <mini/mini.h>
#include <mini/mini_ext.h>
#include <remora/spec.h>

REMORA_API(mini, "type=mini_status,success=MINI_SUCCESS,transport=MINI_DEVICE_NOT_AVAILABLE,"
                 "unsupported=MINI_INVALID_OPERATION,invalid=MINI_INVALID_VALUE,"
                 "no_memory=MINI_OUT_OF_HOST_MEMORY,quota=MINI_OUT_OF_RESOURCES");

REMORA_HANDLE(mini_device, MINI_INVALID_DEVICE);
REMORA_HANDLE(mini_context, MINI_INVALID_CONTEXT);
REMORA_HANDLE_WITH_RECORD(mini_buffer, MINI_INVALID_BUFFER, remora_mini_buffer_retired);
REMORA_HANDLE(mini_queue, MINI_INVALID_QUEUE);
REMORA_HANDLE(mini_event, MINI_INVALID_EVENT);
REMORA_HANDLE(mini_program, MINI_INVALID_PROGRAM);

REMORA_OPCODE(1) REMORA_CACHE
mini_status mini_get_devices(mini_uint num_entries,
                             mini_device *devices REMORA_OUT REMORA_COUNT(num_entries) REMORA_EXISTING,
                             mini_uint *num_devices);

REMORA_OPCODE(2) REMORA_CACHE_UNLESS(param_name == MINI_DEVICE_PARENT)
mini_status mini_get_device_info(mini_device device, mini_device_info param_name, size_t param_value_size,
                                 void *param_value REMORA_BYTES(param_value_size)
                                     REMORA_LENGTH_RET(param_value_size_ret)
                                     REMORA_HANDLES_WHEN(param_name, MINI_DEVICE_PARENT, mini_device),
                                 size_t *param_value_size_ret);

REMORA_OPCODE(3)
mini_context mini_create_context(const mini_property *properties REMORA_PROPERTIES("MINI_CONTEXT_PLATFORM:mini_device"),
                                 mini_uint num_devices,
                                 const mini_device *devices REMORA_COUNT(num_devices) REMORA_NONNULL,
                                 void (*pfn_notify)(const char *errinfo, const void *private_info,
                                                    size_t cb, void *user_data)
                                     REMORA_CALLBACK(user_data, many, "private_info:bytes(cb)"),
                                 void *user_data, mini_status *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(4) REMORA_RETAINS(context) REMORA_ANSWER_IF(MINI_SUCCESS, remora_mini_borrowed(context))
mini_status mini_retain_context(mini_context context);

REMORA_OPCODE(5) REMORA_RELEASES(context)
mini_status mini_release_context(mini_context context);

REMORA_OPCODE(6) REMORA_RESOURCE(device_memory, size) REMORA_CHECK(MINI_INVALID_VALUE, (flags & 4) == 0)
REMORA_CHECK(MINI_INVALID_BUFFER, size != 3) REMORA_RECORD(remora_mini_record(flags, host_ptr))
mini_buffer mini_create_buffer(mini_context context, mini_flags flags REMORA_SEND(flags & ~4ull), size_t size,
                               void *host_ptr REMORA_IN REMORA_BYTES(size), mini_status *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(7)
mini_buffer mini_create_image(mini_context context, mini_flags flags, mini_format format,
                              const mini_image_desc *desc REMORA_STRUCT_HANDLES("buffer:mini_buffer"),
                              mini_status *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(8) REMORA_RELEASES(buffer)
mini_status mini_release_buffer(mini_buffer buffer);

REMORA_OPCODE(9)
mini_queue mini_create_queue(mini_context context, mini_device device, mini_flags flags,
                             mini_status *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(10) REMORA_RELEASES(queue)
mini_status mini_release_queue(mini_queue queue);

REMORA_OPCODE(11)
mini_program mini_create_program_with_source(mini_context context, mini_uint count,
                                             const char **strings REMORA_STRINGS(count, lengths),
                                             const size_t *lengths, mini_status *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(12)
mini_program mini_create_program_with_binary(mini_context context, mini_uint num_devices,
                                             const mini_device *device_list REMORA_COUNT(num_devices),
                                             const size_t *lengths,
                                             const unsigned char **binaries REMORA_BINARIES(num_devices, lengths),
                                             mini_status *binary_status REMORA_COUNT(num_devices),
                                             mini_status *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(13) REMORA_BLOCKING
mini_status mini_build_program(mini_program program, mini_uint num_devices,
                               const mini_device *device_list REMORA_COUNT(num_devices), const char *options,
                               void (*pfn_notify)(mini_program program, void *user_data)
                                   REMORA_CALLBACK(user_data, once, ""),
                               void *user_data);

REMORA_OPCODE(14) REMORA_RELEASES(program)
mini_status mini_release_program(mini_program program);

REMORA_OPCODE(15)
mini_status mini_set_event_callback(mini_event event, mini_int command_exec_callback_type,
                                    void (*pfn_notify)(mini_event event, mini_int event_command_status,
                                                       void *user_data) REMORA_CALLBACK(user_data, once, ""),
                                    void *user_data);

REMORA_OPCODE(16) REMORA_ASYNC
mini_status mini_enqueue_write(mini_queue queue, mini_buffer buffer, size_t offset, size_t size,
                               const void *ptr REMORA_BYTES(size), mini_uint num_events_in_wait_list,
                               const mini_event *event_wait_list REMORA_COUNT(num_events_in_wait_list),
                               mini_event *event);

REMORA_OPCODE(17) REMORA_BLOCKING_IF(blocking_read)
mini_status mini_enqueue_read(mini_queue queue, mini_buffer buffer, mini_bool blocking_read, size_t offset,
                              size_t size, void *ptr REMORA_BYTES(size) REMORA_DEFERRED(event),
                              mini_uint num_events_in_wait_list,
                              const mini_event *event_wait_list REMORA_COUNT(num_events_in_wait_list),
                              mini_event *event);

REMORA_OPCODE(18) REMORA_BLOCKING
mini_status mini_finish(mini_queue queue);

REMORA_OPCODE(19) REMORA_RELEASES(event)
mini_status mini_release_event(mini_event event);

REMORA_UNSUPPORTED("shared virtual memory cannot cross a process boundary")
void *mini_svm_alloc(mini_context context, mini_flags flags, size_t size, mini_uint alignment);

REMORA_UNSUPPORTED("the logger callback has no user data to route it back")
mini_status mini_set_logger(void (*logger)(const char *message));

REMORA_LOCAL(remora_mini_get_extension_address)
void *mini_get_extension_address(const char *name);

REMORA_OPCODE(20) REMORA_SERVER(remora_mini_server_get_version) REMORA_REQUIRES(mini_finish, mini_get_devices)
mini_uint mini_get_version(void);

REMORA_OPCODE(21) REMORA_GUEST(remora_mini_guest_log)
void mini_log(const char *message);

REMORA_OPCODE(22)
mini_status mini_ext_set_level(mini_device device, float level);

// The functions of mini.h this spec leaves out answer MINI_INVALID_OPERATION where they return the
// status; no function returns mini_flags, which is allowed.
REMORA_REFUSE_UNLISTED(mini_status, MINI_INVALID_OPERATION);
REMORA_REFUSE_UNLISTED(mini_flags, 0);
