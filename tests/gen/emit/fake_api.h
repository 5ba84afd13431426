/* A small fake vendor API for the emitter tests (src/gen/emit_test.cpp). It mimics the shapes of OpenCL that the
 * generator must handle: opaque handles, a status type, size-query info calls, create with errcode,
 * retain/release, strings with lengths, binaries, callbacks with user data, asynchronous enqueues with
 * an event out, properties, a struct with a handle field, a deferred read. */
#ifndef FAKE_H
#define FAKE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t fake_status;
typedef int32_t fake_int;
typedef uint32_t fake_uint;
typedef uint32_t fake_bool;
typedef uint64_t fake_flags;
typedef intptr_t fake_property;
typedef uint32_t fake_device_info;

typedef struct _fake_device *fake_device;
typedef struct _fake_context *fake_context;
typedef struct _fake_buffer *fake_buffer;
typedef struct _fake_queue *fake_queue;
typedef struct _fake_event *fake_event;
typedef struct _fake_program *fake_program;

#define FAKE_SUCCESS 0
#define FAKE_DEVICE_NOT_AVAILABLE -2
#define FAKE_OUT_OF_RESOURCES -5
#define FAKE_OUT_OF_HOST_MEMORY -6
#define FAKE_INVALID_VALUE -30
#define FAKE_INVALID_DEVICE -33
#define FAKE_INVALID_CONTEXT -34
#define FAKE_INVALID_BUFFER -38
#define FAKE_INVALID_PROGRAM -44
#define FAKE_INVALID_QUEUE -36
#define FAKE_INVALID_EVENT -58
#define FAKE_INVALID_OPERATION -59

#define FAKE_DEVICE_NAME 0x1000
#define FAKE_DEVICE_PARENT 0x1001
#define FAKE_CONTEXT_PLATFORM 0x1084

typedef struct fake_format {
  fake_uint order;
  fake_uint data_type;
} fake_format;

/* Like cl_image_desc: the handle lives in an anonymous union with an alias of itself. */
typedef struct fake_image_desc {
  fake_uint width;
  fake_uint height;
  union {
    fake_buffer buffer;
    fake_buffer mem_object;
  };
} fake_image_desc;

fake_status fake_get_devices(fake_uint num_entries, fake_device *devices, fake_uint *num_devices);
fake_status fake_get_device_info(fake_device device, fake_device_info param_name, size_t param_value_size,
                                 void *param_value, size_t *param_value_size_ret);
fake_context fake_create_context(const fake_property *properties, fake_uint num_devices,
                                 const fake_device *devices,
                                 void (*pfn_notify)(const char *errinfo, const void *private_info,
                                                    size_t cb, void *user_data),
                                 void *user_data, fake_status *errcode_ret);
fake_status fake_retain_context(fake_context context);
fake_status fake_release_context(fake_context context);
fake_buffer fake_create_buffer(fake_context context, fake_flags flags, size_t size, void *host_ptr,
                               fake_status *errcode_ret);
fake_buffer fake_create_image(fake_context context, fake_flags flags, fake_format format,
                              const fake_image_desc *desc, fake_status *errcode_ret);
fake_status fake_release_buffer(fake_buffer buffer);
fake_queue fake_create_queue(fake_context context, fake_device device, fake_flags flags, fake_status *errcode_ret);
fake_status fake_release_queue(fake_queue queue);
fake_program fake_create_program_with_source(fake_context context, fake_uint count, const char **strings,
                                             const size_t *lengths, fake_status *errcode_ret);
fake_program fake_create_program_with_binary(fake_context context, fake_uint num_devices,
                                             const fake_device *device_list, const size_t *lengths,
                                             const unsigned char **binaries, fake_status *binary_status,
                                             fake_status *errcode_ret);
fake_status fake_build_program(fake_program program, fake_uint num_devices, const fake_device *device_list,
                               const char *options, void (*pfn_notify)(fake_program program, void *user_data),
                               void *user_data);
fake_status fake_release_program(fake_program program);
fake_status fake_set_event_callback(fake_event event, fake_int command_exec_callback_type,
                                    void (*pfn_notify)(fake_event event, fake_int event_command_status,
                                                       void *user_data),
                                    void *user_data);
fake_status fake_enqueue_write(fake_queue queue, fake_buffer buffer, size_t offset, size_t size,
                               const void *ptr, fake_uint num_events_in_wait_list,
                               const fake_event *event_wait_list, fake_event *event);
fake_status fake_enqueue_read(fake_queue queue, fake_buffer buffer, fake_bool blocking_read, size_t offset,
                              size_t size, void *ptr, fake_uint num_events_in_wait_list,
                              const fake_event *event_wait_list, fake_event *event);
fake_status fake_finish(fake_queue queue);
fake_status fake_release_event(fake_event event);
void *fake_svm_alloc(fake_context context, fake_flags flags, size_t size, fake_uint alignment);
void *fake_get_extension_address(const char *name);
fake_uint fake_get_version(void);
void fake_log(const char *message);
fake_status fake_set_logger(void (*logger)(const char *message));
fake_status fake_not_in_spec(fake_device device);
fake_uint fake_count_not_in_spec(fake_device device);


fake_status fake_transform(fake_queue queue, fake_uint count, fake_uint *values, fake_format *format_ret);

/* Helpers the model's guest expressions call (REMORA_ANSWER_IF, REMORA_SEND, REMORA_RECORD). */
int remora_fake_borrowed(fake_context context);
fake_flags remora_fake_server_flags(fake_flags flags);
void *remora_fake_buffer_record(fake_flags flags, void *host_ptr);

/* Extension functions (the emitter tests mark them Function::extension). */
fake_status fake_ext_set_level(fake_device device, float level);

#ifdef __cplusplus
}
#endif

#endif
