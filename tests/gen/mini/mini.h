/* A small fake vendor API for remora-gen's front-end tests. It mimics the shapes of OpenCL that the
 * generator must handle: opaque handles, a status type, size-query info calls, create with errcode,
 * retain/release, strings with lengths, binaries, callbacks with user data, asynchronous enqueues with
 * an event out, properties, a struct with a handle field, a deferred read. */
#ifndef MINI_H
#define MINI_H

#include <stddef.h>
#include <stdint.h>

typedef int32_t mini_status;
typedef int32_t mini_int;
typedef uint32_t mini_uint;
typedef uint32_t mini_bool;
typedef uint64_t mini_flags;
typedef intptr_t mini_property;
typedef uint32_t mini_device_info;

typedef struct _mini_device *mini_device;
typedef struct _mini_context *mini_context;
typedef struct _mini_buffer *mini_buffer;
typedef struct _mini_queue *mini_queue;
typedef struct _mini_event *mini_event;
typedef struct _mini_program *mini_program;

#define MINI_SUCCESS 0
#define MINI_DEVICE_NOT_AVAILABLE -2
#define MINI_OUT_OF_RESOURCES -5
#define MINI_OUT_OF_HOST_MEMORY -6
#define MINI_INVALID_VALUE -30
#define MINI_INVALID_DEVICE -33
#define MINI_INVALID_CONTEXT -34
#define MINI_INVALID_BUFFER -38
#define MINI_INVALID_PROGRAM -44
#define MINI_INVALID_QUEUE -36
#define MINI_INVALID_EVENT -58
#define MINI_INVALID_OPERATION -59

#define MINI_DEVICE_NAME 0x1000
#define MINI_DEVICE_PARENT 0x1001
#define MINI_CONTEXT_PLATFORM 0x1084

typedef struct mini_format {
  mini_uint order;
  mini_uint data_type;
} mini_format;

/* Like cl_image_desc: the handle lives in an anonymous union with an alias of itself. */
typedef struct mini_image_desc {
  mini_uint width;
  mini_uint height;
  union {
    mini_buffer buffer;
    mini_buffer mem_object;
  };
} mini_image_desc;

mini_status mini_get_devices(mini_uint num_entries, mini_device *devices, mini_uint *num_devices);
mini_status mini_get_device_info(mini_device device, mini_device_info param_name, size_t param_value_size,
                                 void *param_value, size_t *param_value_size_ret);
mini_context mini_create_context(const mini_property *properties, mini_uint num_devices,
                                 const mini_device *devices,
                                 void (*pfn_notify)(const char *errinfo, const void *private_info,
                                                    size_t cb, void *user_data),
                                 void *user_data, mini_status *errcode_ret);
mini_status mini_retain_context(mini_context context);
mini_status mini_release_context(mini_context context);
mini_buffer mini_create_buffer(mini_context context, mini_flags flags, size_t size, void *host_ptr,
                               mini_status *errcode_ret);
mini_buffer mini_create_image(mini_context context, mini_flags flags, mini_format format,
                              const mini_image_desc *desc, mini_status *errcode_ret);
mini_status mini_release_buffer(mini_buffer buffer);
mini_queue mini_create_queue(mini_context context, mini_device device, mini_flags flags, mini_status *errcode_ret);
mini_status mini_release_queue(mini_queue queue);
mini_program mini_create_program_with_source(mini_context context, mini_uint count, const char **strings,
                                             const size_t *lengths, mini_status *errcode_ret);
mini_program mini_create_program_with_binary(mini_context context, mini_uint num_devices,
                                             const mini_device *device_list, const size_t *lengths,
                                             const unsigned char **binaries, mini_status *binary_status,
                                             mini_status *errcode_ret);
mini_status mini_build_program(mini_program program, mini_uint num_devices, const mini_device *device_list,
                               const char *options, void (*pfn_notify)(mini_program program, void *user_data),
                               void *user_data);
mini_status mini_release_program(mini_program program);
mini_status mini_set_event_callback(mini_event event, mini_int command_exec_callback_type,
                                    void (*pfn_notify)(mini_event event, mini_int event_command_status,
                                                       void *user_data),
                                    void *user_data);
mini_status mini_enqueue_write(mini_queue queue, mini_buffer buffer, size_t offset, size_t size,
                               const void *ptr, mini_uint num_events_in_wait_list,
                               const mini_event *event_wait_list, mini_event *event);
mini_status mini_enqueue_read(mini_queue queue, mini_buffer buffer, mini_bool blocking_read, size_t offset,
                              size_t size, void *ptr, mini_uint num_events_in_wait_list,
                              const mini_event *event_wait_list, mini_event *event);
mini_status mini_finish(mini_queue queue);
mini_status mini_release_event(mini_event event);
void *mini_svm_alloc(mini_context context, mini_flags flags, size_t size, mini_uint alignment);
void *mini_get_extension_address(const char *name);
mini_uint mini_get_version(void);
void mini_log(const char *message);
mini_status mini_set_logger(void (*logger)(const char *message));
mini_status mini_not_in_spec(mini_device device);
/* More functions the spec leaves out, for REMORA_REFUSE_UNLISTED: a function pointer parameter, another
 * return type, a variadic function and one the header defines itself. */
mini_status mini_set_handler_not_in_spec(void (*handler)(mini_event event, void *user_data), void *user_data);
mini_uint mini_count_not_in_spec(mini_device device);
mini_status mini_print_not_in_spec(const char *format, ...);
static inline mini_status mini_inline_not_in_spec(mini_device device) {
  return device != NULL ? MINI_SUCCESS : MINI_INVALID_DEVICE;
}

#endif
