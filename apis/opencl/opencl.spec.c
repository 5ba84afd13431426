// The OpenCL API as remora forwards it: every function of CL/cl.h (OpenCL 3.0, deprecated ones
// included) plus the cl_ext.h functions PoCL implements, annotated per include/remora/spec.h.
//
// Opcodes: 1..114 are the functions of CL/cl.h in header order, 115.. the cl_ext.h functions, then
// remora's own auxiliary functions (remora_cl*). Append-only: never renumber or reuse a number. A
// function implemented only in the guest (REMORA_LOCAL) or not forwarded has no opcode; its cl.h
// number stays reserved (noted in a comment) so that a later server side can take it.
//
// Conventions used below:
// - Info queries use the size-query pattern; values that are handles are named with HANDLES_WHEN.
// - Queries whose answers never change are cached by the guest (CACHE, or CACHE_UNLESS naming the
//   values that do change: reference counts, build state, ...).
// - Asynchronous (batched) only where the guest returns exactly what the vendor would: retain and
//   release (the guest validates the handle itself), clFlush, and clSetKernelArg once the guest has
//   seen the vendor accept that argument's shape (guest/mem_objects.cpp, remora_cl_set_kernel_arg). Enqueues stay synchronous so
//   that their errors (sizes, wait lists, kernel arguments) come back from the call that caused them,
//   as natively; a non-blocking read still returns at once and its data follows (REMORA_DEFERRED).
// - Host memory of rect and image reads travels both ways (INOUT): the region may have gaps between
//   rows that the application owns and a read must not overwrite.
// - Expressions call the helpers of spec_helpers.h.
#define CL_TARGET_OPENCL_VERSION 300
#define CL_USE_DEPRECATED_OPENCL_1_0_APIS
#define CL_USE_DEPRECATED_OPENCL_1_1_APIS
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#define CL_USE_DEPRECATED_OPENCL_2_0_APIS
#define CL_USE_DEPRECATED_OPENCL_2_1_APIS
#define CL_USE_DEPRECATED_OPENCL_2_2_APIS

#include <remora/spec.h>
#include <CL/cl.h>
#include <CL/cl_ext.h>

#include <spec_helpers.h>  // angled: generated code includes it too (apis/opencl is on its include path)

REMORA_API(opencl, "type=cl_int,success=CL_SUCCESS,transport=CL_DEVICE_NOT_AVAILABLE,"
                   "unsupported=CL_INVALID_OPERATION,invalid=CL_INVALID_VALUE,"
                   "no_memory=CL_OUT_OF_HOST_MEMORY,quota=CL_MEM_OBJECT_ALLOCATION_FAILURE");

REMORA_HANDLE(cl_platform_id, CL_INVALID_PLATFORM);
REMORA_HANDLE(cl_device_id, CL_INVALID_DEVICE);
REMORA_HANDLE(cl_context, CL_INVALID_CONTEXT);
REMORA_HANDLE(cl_command_queue, CL_INVALID_COMMAND_QUEUE);
// Memory objects and kernels carry guest records (guest/mem_objects.cpp, guest/icd.cpp), dropped when
// the guest retires the object.
REMORA_HANDLE_WITH_RECORD(cl_mem, CL_INVALID_MEM_OBJECT, remora_cl_mem_retired);
REMORA_HANDLE(cl_program, CL_INVALID_PROGRAM);
REMORA_HANDLE_WITH_RECORD(cl_kernel, CL_INVALID_KERNEL, remora_cl_kernel_retired);
REMORA_HANDLE(cl_event, CL_INVALID_EVENT);
REMORA_HANDLE(cl_sampler, CL_INVALID_SAMPLER);
REMORA_HANDLE(cl_command_buffer_khr, CL_INVALID_COMMAND_BUFFER_KHR);
// Only ever NULL here: mutable commands need cl_khr_command_buffer_mutable_dispatch, which is not
// forwarded. Declared so the out parameter of the clCommand*KHR functions has a type.
REMORA_HANDLE(cl_mutable_command_khr, CL_INVALID_VALUE);

// The three trailing parameters of every enqueue.
// The vendor functions remora's own SVM calls use (server/server_svm.cpp: a 1.2 vendor library has none of
// them, and every SVM call answers CL_INVALID_OPERATION, as an ICD loader does for a missing function)
// and its direct transfers (server/direct.cpp).
#define REMORA_CL_SVM_REQUIRES                                                                        \
  REMORA_REQUIRES(clSVMAlloc, clSVMFree, clSetKernelArgSVMPointer, clSetKernelExecInfo,                \
                  clSetMemObjectDestructorCallback)
#define REMORA_CL_MAP_REQUIRES                                                                        \
  REMORA_REQUIRES_OR(REMORA_CL_DIRECT_UNAVAILABLE, clEnqueueMapBuffer, clEnqueueUnmapMemObject, clWaitForEvents, \
                     clReleaseEvent)

#define REMORA_CL_WAIT_LIST                                                            \
  cl_uint num_events_in_wait_list,                                                     \
      const cl_event *event_wait_list REMORA_COUNT(num_events_in_wait_list), cl_event *event
// The trailing parameters of every clCommand*KHR (cl_khr_command_buffer).
#define REMORA_CL_SYNC_POINTS                                                                \
  cl_uint num_sync_points_in_wait_list,                                                      \
      const cl_sync_point_khr *sync_point_wait_list REMORA_COUNT(num_sync_points_in_wait_list), \
      cl_sync_point_khr *sync_point, cl_mutable_command_khr *mutable_handle REMORA_EXISTING

// ---- Platforms and devices ---------------------------------------------------------------------

REMORA_OPCODE(1) REMORA_CACHE
cl_int clGetPlatformIDs(cl_uint num_entries,
                        cl_platform_id *platforms REMORA_OUT REMORA_COUNT(num_entries)
                            REMORA_LENGTH_RET(num_platforms) REMORA_EXISTING,
                        cl_uint *num_platforms);

REMORA_OPCODE(2) REMORA_CACHE
cl_int clGetPlatformInfo(cl_platform_id platform, cl_platform_info param_name, size_t param_value_size,
                         void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                             REMORA_LENGTH_RET(param_value_size_ret),
                         size_t *param_value_size_ret);

// The server hooks (server/fair_share.cpp) show only the devices the tenant may see.
REMORA_OPCODE(3) REMORA_CACHE REMORA_SERVER(remora_cl_server_get_device_ids) REMORA_REQUIRES(clGetPlatformIDs)
cl_int clGetDeviceIDs(cl_platform_id platform, cl_device_type device_type, cl_uint num_entries,
                      cl_device_id *devices REMORA_OUT REMORA_COUNT(num_entries)
                          REMORA_LENGTH_RET(num_devices) REMORA_EXISTING,
                      cl_uint *num_devices);

// The server hook masks CL_DEVICE_SVM_CAPABILITIES to coarse-grained buffer SVM, the only kind
// remora forwards (guest/guest_svm.cpp).
REMORA_OPCODE(4) REMORA_CACHE_UNLESS(param_name == CL_DEVICE_REFERENCE_COUNT)
REMORA_SERVER(remora_cl_server_get_device_info)
cl_int clGetDeviceInfo(cl_device_id device, cl_device_info param_name, size_t param_value_size,
                       void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                           REMORA_LENGTH_RET(param_value_size_ret)
                           REMORA_HANDLES_WHEN(param_name, CL_DEVICE_PLATFORM, cl_platform_id)
                           REMORA_HANDLES_WHEN(param_name, CL_DEVICE_PARENT_DEVICE, cl_device_id),
                       size_t *param_value_size_ret);

// Sub-devices are created with one application reference each.
REMORA_OPCODE(5)
cl_int clCreateSubDevices(cl_device_id in_device,
                          const cl_device_partition_property *properties REMORA_NONNULL
                              REMORA_COUNT(remora_cl_partition_properties_count(properties)),
                          cl_uint num_devices,
                          cl_device_id *out_devices REMORA_OUT REMORA_COUNT(num_devices)
                              REMORA_LENGTH_RET(num_devices_ret),
                          cl_uint *num_devices_ret);

// Root devices are not reference counted (the call is a no-op for them, CL_SUCCESS): the guest answers
// for those itself, so that a borrowed handle is never retired, and forwards for sub-devices.
REMORA_OPCODE(6) REMORA_ASYNC REMORA_RETAINS(device) REMORA_ANSWER_IF(CL_SUCCESS, remora_cl_root_device(device))
cl_int clRetainDevice(cl_device_id device);

REMORA_OPCODE(7) REMORA_ASYNC REMORA_RELEASES(device) REMORA_ANSWER_IF(CL_SUCCESS, remora_cl_root_device(device))
cl_int clReleaseDevice(cl_device_id device);

REMORA_OPCODE(8)
cl_int clSetDefaultDeviceCommandQueue(cl_context context, cl_device_id device,
                                      cl_command_queue command_queue);

// Timers are the server's: the device and host clocks of the machine that owns the device.
REMORA_OPCODE(9)
cl_int clGetDeviceAndHostTimer(cl_device_id device, cl_ulong *device_timestamp,
                               cl_ulong *host_timestamp);

REMORA_OPCODE(10)
cl_int clGetHostTimer(cl_device_id device, cl_ulong *host_timestamp);

// ---- Contexts ----------------------------------------------------------------------------------

REMORA_OPCODE(11)
cl_context clCreateContext(const cl_context_properties *properties
                               REMORA_PROPERTIES("CL_CONTEXT_PLATFORM:cl_platform_id"),
                           cl_uint num_devices,
                           const cl_device_id *devices REMORA_COUNT(num_devices),
                           void(CL_CALLBACK *pfn_notify)(const char *errinfo, const void *private_info,
                                                         size_t cb, void *user_data)
                               REMORA_CALLBACK(user_data, many, "private_info:bytes(cb)"),
                           void *user_data REMORA_USER_DATA, cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(12) REMORA_SERVER(remora_cl_server_create_context_from_type)
REMORA_REQUIRES(clGetPlatformIDs, clGetDeviceIDs, clCreateContext)
cl_context clCreateContextFromType(const cl_context_properties *properties
                                       REMORA_PROPERTIES("CL_CONTEXT_PLATFORM:cl_platform_id"),
                                   cl_device_type device_type,
                                   void(CL_CALLBACK *pfn_notify)(const char *errinfo,
                                                                 const void *private_info, size_t cb,
                                                                 void *user_data)
                                       REMORA_CALLBACK(user_data, many, "private_info:bytes(cb)"),
                                   void *user_data REMORA_USER_DATA,
                                   cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(13) REMORA_ASYNC REMORA_RETAINS(context)
cl_int clRetainContext(cl_context context);

REMORA_OPCODE(14) REMORA_ASYNC REMORA_RELEASES(context)
cl_int clReleaseContext(cl_context context);

REMORA_OPCODE(15) REMORA_CACHE_UNLESS(param_name == CL_CONTEXT_REFERENCE_COUNT)
cl_int clGetContextInfo(cl_context context, cl_context_info param_name, size_t param_value_size,
                        void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                            REMORA_LENGTH_RET(param_value_size_ret)
                            REMORA_HANDLES_WHEN(param_name, CL_CONTEXT_DEVICES, cl_device_id)
                            REMORA_PROPERTIES_WHEN(param_name, CL_CONTEXT_PROPERTIES,
                                                   "CL_CONTEXT_PLATFORM:cl_platform_id"),
                        size_t *param_value_size_ret);

REMORA_OPCODE(16)
cl_int clSetContextDestructorCallback(cl_context context,
                                      void(CL_CALLBACK *pfn_notify)(cl_context context,
                                                                    void *user_data)
                                          REMORA_CALLBACK(user_data, once, ""),
                                      void *user_data REMORA_USER_DATA);

// ---- Command queues ----------------------------------------------------------------------------

// Queues are created with profiling on, which the server uses to measure device time for fair
// sharing (server/fair_share.cpp); a guest that did not ask for it does not see it.
REMORA_OPCODE(17) REMORA_SERVER(remora_cl_server_create_command_queue_with_properties)
cl_command_queue clCreateCommandQueueWithProperties(cl_context context, cl_device_id device,
                                                    const cl_queue_properties *properties
                                                        REMORA_PROPERTIES(""),
                                                    cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(18) REMORA_ASYNC REMORA_RETAINS(command_queue)
cl_int clRetainCommandQueue(cl_command_queue command_queue);

REMORA_OPCODE(19) REMORA_ASYNC REMORA_RELEASES(command_queue)
cl_int clReleaseCommandQueue(cl_command_queue command_queue);

REMORA_OPCODE(20)
REMORA_CACHE_UNLESS(param_name == CL_QUEUE_REFERENCE_COUNT || param_name == CL_QUEUE_DEVICE_DEFAULT)
REMORA_SERVER(remora_cl_server_get_command_queue_info)
cl_int clGetCommandQueueInfo(cl_command_queue command_queue, cl_command_queue_info param_name,
                             size_t param_value_size,
                             void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                                 REMORA_LENGTH_RET(param_value_size_ret)
                                 REMORA_HANDLES_WHEN(param_name, CL_QUEUE_CONTEXT, cl_context)
                                 REMORA_HANDLES_WHEN(param_name, CL_QUEUE_DEVICE, cl_device_id)
                                 REMORA_HANDLES_WHEN(param_name, CL_QUEUE_DEVICE_DEFAULT,
                                                     cl_command_queue),
                             size_t *param_value_size_ret);

// ---- Memory objects ----------------------------------------------------------------------------
// CL_MEM_USE_HOST_PTR travels as CL_MEM_COPY_HOST_PTR (the server's memory cannot alias the
// application's; REMORA_SEND), and the guest records what mapping, kernel arguments and image
// transfers need (REMORA_RECORD, guest/mem_objects.cpp). The server refuses CL_MEM_USE_HOST_PTR from a
// guest that sends it anyway: the vendor would keep a pointer into a message (REMORA_CHECK).
#define REMORA_CL_NO_HOST_PTR REMORA_CHECK(CL_INVALID_VALUE, (flags & CL_MEM_USE_HOST_PTR) == 0)
#define REMORA_CL_SENT_FLAGS REMORA_SEND(remora_cl_server_flags(flags))

// The guest hook puts large buffers in storage shared with the server where it can (guest/guest_shared_buffers.cpp).
REMORA_OPCODE(21) REMORA_CL_NO_HOST_PTR
REMORA_GUEST(remora_cl_create_buffer) REMORA_RESOURCE(device_memory, size)
cl_mem clCreateBuffer(cl_context context, cl_mem_flags flags REMORA_CL_SENT_FLAGS, size_t size,
                      void *host_ptr REMORA_IN REMORA_BYTES(remora_cl_buffer_host_bytes(flags, size)),
                      cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(22)
REMORA_RECORD(remora_cl_sub_buffer_record(buffer, flags, buffer_create_type, buffer_create_info))
cl_mem clCreateSubBuffer(cl_mem buffer, cl_mem_flags flags, cl_buffer_create_type buffer_create_type,
                         const void *buffer_create_info REMORA_NONNULL
                             REMORA_BYTES(remora_cl_sub_buffer_info_bytes(buffer_create_type)),
                         cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(23) REMORA_CL_NO_HOST_PTR REMORA_RECORD(remora_cl_image_record(flags, host_ptr, image_format, image_desc))
REMORA_RESOURCE(device_memory, remora_cl_image_device_bytes(image_format, image_desc))
cl_mem clCreateImage(cl_context context, cl_mem_flags flags REMORA_CL_SENT_FLAGS, const cl_image_format *image_format,
                     const cl_image_desc *image_desc REMORA_STRUCT_HANDLES("buffer:cl_mem"),
                     void *host_ptr REMORA_IN
                         REMORA_BYTES(remora_cl_image_host_bytes(flags, image_format, image_desc)),
                     cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(24) REMORA_RECORD(remora_cl_pipe_record(flags))
REMORA_RESOURCE(device_memory, (uint64_t)pipe_packet_size * pipe_max_packets)
cl_mem clCreatePipe(cl_context context, cl_mem_flags flags, cl_uint pipe_packet_size,
                    cl_uint pipe_max_packets,
                    const cl_pipe_properties *properties REMORA_PROPERTIES(""),
                    cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(25) REMORA_CL_NO_HOST_PTR REMORA_RECORD(remora_cl_buffer_record(flags, host_ptr))
REMORA_RESOURCE(device_memory, size)
cl_mem clCreateBufferWithProperties(cl_context context,
                                    const cl_mem_properties *properties REMORA_PROPERTIES(""),
                                    cl_mem_flags flags REMORA_CL_SENT_FLAGS, size_t size,
                                    void *host_ptr REMORA_IN
                                        REMORA_BYTES(remora_cl_buffer_host_bytes(flags, size)),
                                    cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(26) REMORA_CL_NO_HOST_PTR REMORA_RECORD(remora_cl_image_record(flags, host_ptr, image_format, image_desc))
REMORA_RESOURCE(device_memory, remora_cl_image_device_bytes(image_format, image_desc))
cl_mem clCreateImageWithProperties(cl_context context,
                                   const cl_mem_properties *properties REMORA_PROPERTIES(""),
                                   cl_mem_flags flags REMORA_CL_SENT_FLAGS, const cl_image_format *image_format,
                                   const cl_image_desc *image_desc
                                       REMORA_STRUCT_HANDLES("buffer:cl_mem"),
                                   void *host_ptr REMORA_IN REMORA_BYTES(
                                       remora_cl_image_host_bytes(flags, image_format, image_desc)),
                                   cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(27) REMORA_ASYNC REMORA_RETAINS(memobj)
cl_int clRetainMemObject(cl_mem memobj);

// The guest's record goes with the last application reference (remora_cl_mem_retired).
REMORA_OPCODE(28) REMORA_ASYNC REMORA_RELEASES(memobj)
cl_int clReleaseMemObject(cl_mem memobj);

REMORA_OPCODE(29) REMORA_CACHE
cl_int clGetSupportedImageFormats(cl_context context, cl_mem_flags flags,
                                  cl_mem_object_type image_type, cl_uint num_entries,
                                  cl_image_format *image_formats REMORA_OUT REMORA_COUNT(num_entries)
                                      REMORA_LENGTH_RET(num_image_formats),
                                  cl_uint *num_image_formats);

// The guest hook answers CL_MEM_FLAGS, CL_MEM_HOST_PTR and CL_MEM_MAP_COUNT from its own records
// (USE_HOST_PTR and mappings live in the guest).
REMORA_OPCODE(30) REMORA_GUEST(remora_cl_get_mem_object_info)
REMORA_CACHE_UNLESS(param_name == CL_MEM_REFERENCE_COUNT || param_name == CL_MEM_MAP_COUNT)
cl_int clGetMemObjectInfo(cl_mem memobj, cl_mem_info param_name, size_t param_value_size,
                          void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                              REMORA_LENGTH_RET(param_value_size_ret)
                              REMORA_HANDLES_WHEN(param_name, CL_MEM_CONTEXT, cl_context)
                              REMORA_HANDLES_WHEN(param_name, CL_MEM_ASSOCIATED_MEMOBJECT, cl_mem),
                          size_t *param_value_size_ret);

REMORA_OPCODE(31) REMORA_CACHE
cl_int clGetImageInfo(cl_mem image, cl_image_info param_name, size_t param_value_size,
                      void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                          REMORA_LENGTH_RET(param_value_size_ret)
                          REMORA_HANDLES_WHEN(param_name, CL_IMAGE_BUFFER, cl_mem),
                      size_t *param_value_size_ret);

REMORA_OPCODE(32) REMORA_CACHE
cl_int clGetPipeInfo(cl_mem pipe, cl_pipe_info param_name, size_t param_value_size,
                     void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                         REMORA_LENGTH_RET(param_value_size_ret),
                     size_t *param_value_size_ret);

REMORA_OPCODE(33)
cl_int clSetMemObjectDestructorCallback(cl_mem memobj,
                                        void(CL_CALLBACK *pfn_notify)(cl_mem memobj, void *user_data)
                                            REMORA_CALLBACK(user_data, once, ""),
                                        void *user_data REMORA_USER_DATA);

// Shared virtual memory, coarse-grained buffers only, lives in the guest (guest/guest_svm.cpp): the
// application gets a guest mirror; the server's allocation is wrapped in a cl_mem of this session
// (remora_clSVMAllocBuffer) through which every transfer and kernel argument goes. 34, 35 reserved.
REMORA_LOCAL(remora_cl_svm_alloc)
void *clSVMAlloc(cl_context context, cl_svm_mem_flags flags, size_t size, cl_uint alignment);

REMORA_LOCAL(remora_cl_svm_free)
void clSVMFree(cl_context context, void *svm_pointer);

// ---- Samplers ----------------------------------------------------------------------------------
// The guest recognises a sampler passed to clSetKernelArg among its live objects (Objects::live).

REMORA_OPCODE(36)
cl_sampler clCreateSamplerWithProperties(cl_context context,
                                         const cl_sampler_properties *sampler_properties
                                             REMORA_PROPERTIES(""),
                                         cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(37) REMORA_ASYNC REMORA_RETAINS(sampler)
cl_int clRetainSampler(cl_sampler sampler);

REMORA_OPCODE(38) REMORA_ASYNC REMORA_RELEASES(sampler)
cl_int clReleaseSampler(cl_sampler sampler);

REMORA_OPCODE(39) REMORA_CACHE_UNLESS(param_name == CL_SAMPLER_REFERENCE_COUNT)
cl_int clGetSamplerInfo(cl_sampler sampler, cl_sampler_info param_name, size_t param_value_size,
                        void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                            REMORA_LENGTH_RET(param_value_size_ret)
                            REMORA_HANDLES_WHEN(param_name, CL_SAMPLER_CONTEXT, cl_context),
                        size_t *param_value_size_ret);

// ---- Programs ----------------------------------------------------------------------------------

REMORA_OPCODE(40)
cl_program clCreateProgramWithSource(cl_context context, cl_uint count,
                                     const char **strings REMORA_STRINGS(count, lengths),
                                     const size_t *lengths, cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(41)
cl_program clCreateProgramWithBinary(cl_context context, cl_uint num_devices,
                                     const cl_device_id *device_list REMORA_COUNT(num_devices),
                                     const size_t *lengths,
                                     const unsigned char **binaries
                                         REMORA_BINARIES(num_devices, lengths),
                                     cl_int *binary_status REMORA_OUT REMORA_COUNT(num_devices),
                                     cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(42)
cl_program clCreateProgramWithBuiltInKernels(cl_context context, cl_uint num_devices,
                                             const cl_device_id *device_list
                                                 REMORA_COUNT(num_devices),
                                             const char *kernel_names,
                                             cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(43)
cl_program clCreateProgramWithIL(cl_context context, const void *il REMORA_BYTES(length),
                                 size_t length, cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(44) REMORA_ASYNC REMORA_RETAINS(program)
cl_int clRetainProgram(cl_program program);

REMORA_OPCODE(45) REMORA_ASYNC REMORA_RELEASES(program)
cl_int clReleaseProgram(cl_program program);

REMORA_OPCODE(46) REMORA_BLOCKING
cl_int clBuildProgram(cl_program program, cl_uint num_devices,
                      const cl_device_id *device_list REMORA_COUNT(num_devices), const char *options,
                      void(CL_CALLBACK *pfn_notify)(cl_program program, void *user_data)
                          REMORA_CALLBACK(user_data, once, ""),
                      void *user_data REMORA_USER_DATA);

REMORA_OPCODE(47) REMORA_BLOCKING
cl_int clCompileProgram(cl_program program, cl_uint num_devices,
                        const cl_device_id *device_list REMORA_COUNT(num_devices),
                        const char *options, cl_uint num_input_headers,
                        const cl_program *input_headers REMORA_COUNT(num_input_headers),
                        const char **header_include_names REMORA_STRINGS(num_input_headers, NULL),
                        void(CL_CALLBACK *pfn_notify)(cl_program program, void *user_data)
                            REMORA_CALLBACK(user_data, once, ""),
                        void *user_data REMORA_USER_DATA);

REMORA_OPCODE(48) REMORA_BLOCKING
cl_program clLinkProgram(cl_context context, cl_uint num_devices,
                         const cl_device_id *device_list REMORA_COUNT(num_devices),
                         const char *options, cl_uint num_input_programs,
                         const cl_program *input_programs REMORA_COUNT(num_input_programs),
                         void(CL_CALLBACK *pfn_notify)(cl_program program, void *user_data)
                             REMORA_CALLBACK(user_data, once, ""),
                         void *user_data REMORA_USER_DATA, cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(49)
cl_int clSetProgramReleaseCallback(cl_program program,
                                   void(CL_CALLBACK *pfn_notify)(cl_program program, void *user_data)
                                       REMORA_CALLBACK(user_data, once, ""),
                                   void *user_data REMORA_USER_DATA);

REMORA_OPCODE(50)
cl_int clSetProgramSpecializationConstant(cl_program program, cl_uint spec_id, size_t spec_size,
                                          const void *spec_value REMORA_BYTES(spec_size));

REMORA_OPCODE(51)
cl_int clUnloadPlatformCompiler(cl_platform_id platform);

// CL_PROGRAM_BINARIES is an array of pointers into the application: the guest hook fills each from
// remora_clGetProgramBinary below and forwards every other query.
REMORA_OPCODE(52) REMORA_GUEST(remora_cl_get_program_info)
cl_int clGetProgramInfo(cl_program program, cl_program_info param_name, size_t param_value_size,
                        void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                            REMORA_LENGTH_RET(param_value_size_ret)
                            REMORA_HANDLES_WHEN(param_name, CL_PROGRAM_CONTEXT, cl_context)
                            REMORA_HANDLES_WHEN(param_name, CL_PROGRAM_DEVICES, cl_device_id),
                        size_t *param_value_size_ret);

REMORA_OPCODE(53)
cl_int clGetProgramBuildInfo(cl_program program, cl_device_id device,
                             cl_program_build_info param_name, size_t param_value_size,
                             void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                                 REMORA_LENGTH_RET(param_value_size_ret),
                             size_t *param_value_size_ret);

// ---- Kernels -----------------------------------------------------------------------------------

REMORA_OPCODE(54)
cl_kernel clCreateKernel(cl_program program, const char *kernel_name,
                         cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(55)
cl_int clCreateKernelsInProgram(cl_program program, cl_uint num_kernels,
                                cl_kernel *kernels REMORA_OUT REMORA_COUNT(num_kernels)
                                    REMORA_LENGTH_RET(num_kernels_ret),
                                cl_uint *num_kernels_ret);

REMORA_OPCODE(56)
cl_kernel clCloneKernel(cl_kernel source_kernel, cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(57) REMORA_ASYNC REMORA_RETAINS(kernel)
cl_int clRetainKernel(cl_kernel kernel);

// The kernel's argument shapes (its record) go with its last application reference.
REMORA_OPCODE(58) REMORA_ASYNC REMORA_RELEASES(kernel)
cl_int clReleaseKernel(cl_kernel kernel);

// An argument holding a memory object or sampler is a guest handle inside the bytes: the guest hook
// recognises those and sends them through remora_clSetKernelArgHandle; everything else goes as bytes.
// The server hook refuses a non-NULL pointer-sized value for an argument that takes an object, so a
// guest can never hand the vendor a pointer of its choosing.
REMORA_OPCODE(59) REMORA_ASYNC REMORA_GUEST(remora_cl_set_kernel_arg)
REMORA_SERVER(remora_cl_server_set_kernel_arg)
cl_int clSetKernelArg(cl_kernel kernel, cl_uint arg_index, size_t arg_size,
                      const void *arg_value REMORA_BYTES(arg_size));

// SVM arguments are translated by the guest (guest/guest_svm.cpp) into remora_clSetKernelArgSVM and
// remora_clSetKernelExecInfoSVM. 60, 61 reserved.
REMORA_LOCAL(remora_cl_set_kernel_arg_svm_pointer)
cl_int clSetKernelArgSVMPointer(cl_kernel kernel, cl_uint arg_index, const void *arg_value);

REMORA_LOCAL(remora_cl_set_kernel_exec_info)
cl_int clSetKernelExecInfo(cl_kernel kernel, cl_kernel_exec_info param_name, size_t param_value_size,
                           const void *param_value);

REMORA_OPCODE(62) REMORA_CACHE_UNLESS(param_name == CL_KERNEL_REFERENCE_COUNT)
cl_int clGetKernelInfo(cl_kernel kernel, cl_kernel_info param_name, size_t param_value_size,
                       void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                           REMORA_LENGTH_RET(param_value_size_ret)
                           REMORA_HANDLES_WHEN(param_name, CL_KERNEL_CONTEXT, cl_context)
                           REMORA_HANDLES_WHEN(param_name, CL_KERNEL_PROGRAM, cl_program),
                       size_t *param_value_size_ret);

REMORA_OPCODE(63) REMORA_CACHE
cl_int clGetKernelArgInfo(cl_kernel kernel, cl_uint arg_indx, cl_kernel_arg_info param_name,
                          size_t param_value_size,
                          void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                              REMORA_LENGTH_RET(param_value_size_ret),
                          size_t *param_value_size_ret);

// CL_KERNEL_LOCAL_MEM_SIZE includes local memory set with clSetKernelArg, so it changes.
REMORA_OPCODE(64) REMORA_CACHE_UNLESS(param_name == CL_KERNEL_LOCAL_MEM_SIZE)
cl_int clGetKernelWorkGroupInfo(cl_kernel kernel, cl_device_id device,
                                cl_kernel_work_group_info param_name, size_t param_value_size,
                                void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                                    REMORA_LENGTH_RET(param_value_size_ret),
                                size_t *param_value_size_ret);

REMORA_OPCODE(65) REMORA_CACHE
cl_int clGetKernelSubGroupInfo(cl_kernel kernel, cl_device_id device,
                               cl_kernel_sub_group_info param_name, size_t input_value_size,
                               const void *input_value REMORA_BYTES(input_value_size),
                               size_t param_value_size,
                               void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                                   REMORA_LENGTH_RET(param_value_size_ret),
                               size_t *param_value_size_ret);

// ---- Events ------------------------------------------------------------------------------------

REMORA_OPCODE(66) REMORA_BLOCKING
cl_int clWaitForEvents(cl_uint num_events, const cl_event *event_list REMORA_COUNT(num_events));

REMORA_OPCODE(67)
cl_int clGetEventInfo(cl_event event, cl_event_info param_name, size_t param_value_size,
                      void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                          REMORA_LENGTH_RET(param_value_size_ret)
                          REMORA_HANDLES_WHEN(param_name, CL_EVENT_COMMAND_QUEUE, cl_command_queue)
                          REMORA_HANDLES_WHEN(param_name, CL_EVENT_CONTEXT, cl_context),
                      size_t *param_value_size_ret);

REMORA_OPCODE(68)
cl_event clCreateUserEvent(cl_context context, cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(69) REMORA_ASYNC REMORA_RETAINS(event)
cl_int clRetainEvent(cl_event event);

REMORA_OPCODE(70) REMORA_ASYNC REMORA_RELEASES(event)
cl_int clReleaseEvent(cl_event event);

// Asynchronous: a second status for the same event is reported at the next synchronisation point.
REMORA_OPCODE(71)
cl_int clSetUserEventStatus(cl_event event, cl_int execution_status);

REMORA_OPCODE(72)
cl_int clSetEventCallback(cl_event event, cl_int command_exec_callback_type,
                          void(CL_CALLBACK *pfn_notify)(cl_event event, cl_int event_command_status,
                                                        void *user_data)
                              REMORA_CALLBACK(user_data, once, ""),
                          void *user_data REMORA_USER_DATA);

REMORA_OPCODE(73) REMORA_SERVER(remora_cl_server_get_event_profiling_info) REMORA_REQUIRES(clGetEventInfo)
cl_int clGetEventProfilingInfo(cl_event event, cl_profiling_info param_name, size_t param_value_size,
                               void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                                   REMORA_LENGTH_RET(param_value_size_ret),
                               size_t *param_value_size_ret);

// ---- Flush, finish, transfers ------------------------------------------------------------------

REMORA_OPCODE(74) REMORA_ASYNC
cl_int clFlush(cl_command_queue command_queue);

REMORA_OPCODE(75) REMORA_BLOCKING
cl_int clFinish(cl_command_queue command_queue);

// Large blocking transfers may go through remora_clEnqueue*BufferDirect instead (guest/transfer.cpp).
REMORA_OPCODE(76) REMORA_BLOCKING_IF(blocking_read) REMORA_GUEST(remora_cl_enqueue_read_buffer)
cl_int clEnqueueReadBuffer(cl_command_queue command_queue, cl_mem buffer, cl_bool blocking_read,
                           size_t offset, size_t size,
                           void *ptr REMORA_OUT REMORA_BYTES(size) REMORA_DEFERRED(event),
                           REMORA_CL_WAIT_LIST);

REMORA_OPCODE(77) REMORA_BLOCKING_IF(blocking_read)
cl_int clEnqueueReadBufferRect(cl_command_queue command_queue, cl_mem buffer, cl_bool blocking_read,
                               const size_t *buffer_origin REMORA_COUNT(3),
                               const size_t *host_origin REMORA_COUNT(3),
                               const size_t *region REMORA_COUNT(3), size_t buffer_row_pitch,
                               size_t buffer_slice_pitch, size_t host_row_pitch,
                               size_t host_slice_pitch,
                               void *ptr REMORA_INOUT REMORA_BYTES(remora_cl_rect_bytes(
                                   host_origin, region, host_row_pitch, host_slice_pitch))
                                   REMORA_DEFERRED(event),
                               REMORA_CL_WAIT_LIST);

REMORA_OPCODE(78)
REMORA_BLOCKING_IF(blocking_write) REMORA_GUEST(remora_cl_enqueue_write_buffer)
cl_int clEnqueueWriteBuffer(cl_command_queue command_queue, cl_mem buffer, cl_bool blocking_write,
                            size_t offset, size_t size,
                            const void *ptr REMORA_BYTES(size) REMORA_DEFERRED(event),
                            REMORA_CL_WAIT_LIST);

REMORA_OPCODE(79)
REMORA_BLOCKING_IF(blocking_write)
cl_int clEnqueueWriteBufferRect(cl_command_queue command_queue, cl_mem buffer, cl_bool blocking_write,
                                const size_t *buffer_origin REMORA_COUNT(3),
                                const size_t *host_origin REMORA_COUNT(3),
                                const size_t *region REMORA_COUNT(3), size_t buffer_row_pitch,
                                size_t buffer_slice_pitch, size_t host_row_pitch,
                                size_t host_slice_pitch,
                                const void *ptr REMORA_BYTES(remora_cl_rect_bytes(
                                    host_origin, region, host_row_pitch, host_slice_pitch))
                                    REMORA_DEFERRED(event),
                                REMORA_CL_WAIT_LIST);

REMORA_OPCODE(80)
cl_int clEnqueueFillBuffer(cl_command_queue command_queue, cl_mem buffer,
                           const void *pattern REMORA_BYTES(pattern_size), size_t pattern_size,
                           size_t offset, size_t size, REMORA_CL_WAIT_LIST);

REMORA_OPCODE(81)
cl_int clEnqueueCopyBuffer(cl_command_queue command_queue, cl_mem src_buffer, cl_mem dst_buffer,
                           size_t src_offset, size_t dst_offset, size_t size, REMORA_CL_WAIT_LIST);

REMORA_OPCODE(82)
cl_int clEnqueueCopyBufferRect(cl_command_queue command_queue, cl_mem src_buffer, cl_mem dst_buffer,
                               const size_t *src_origin REMORA_COUNT(3),
                               const size_t *dst_origin REMORA_COUNT(3),
                               const size_t *region REMORA_COUNT(3), size_t src_row_pitch,
                               size_t src_slice_pitch, size_t dst_row_pitch, size_t dst_slice_pitch,
                               REMORA_CL_WAIT_LIST);

REMORA_OPCODE(83) REMORA_BLOCKING_IF(blocking_read)
cl_int clEnqueueReadImage(cl_command_queue command_queue, cl_mem image, cl_bool blocking_read,
                          const size_t *origin REMORA_COUNT(3), const size_t *region REMORA_COUNT(3),
                          size_t row_pitch, size_t slice_pitch,
                          void *ptr REMORA_INOUT REMORA_BYTES(remora_cl_image_transfer_bytes(
                              image, region, row_pitch, slice_pitch)) REMORA_DEFERRED(event),
                          REMORA_CL_WAIT_LIST);

REMORA_OPCODE(84)
REMORA_BLOCKING_IF(blocking_write)
cl_int clEnqueueWriteImage(cl_command_queue command_queue, cl_mem image, cl_bool blocking_write,
                           const size_t *origin REMORA_COUNT(3), const size_t *region REMORA_COUNT(3),
                           size_t input_row_pitch, size_t input_slice_pitch,
                           const void *ptr REMORA_BYTES(remora_cl_image_transfer_bytes(
                               image, region, input_row_pitch, input_slice_pitch))
                               REMORA_DEFERRED(event),
                           REMORA_CL_WAIT_LIST);

REMORA_OPCODE(85)
cl_int clEnqueueFillImage(cl_command_queue command_queue, cl_mem image,
                          const void *fill_color REMORA_BYTES(remora_cl_fill_color_bytes(image)),
                          const size_t *origin REMORA_COUNT(3), const size_t *region REMORA_COUNT(3),
                          REMORA_CL_WAIT_LIST);

REMORA_OPCODE(86)
cl_int clEnqueueCopyImage(cl_command_queue command_queue, cl_mem src_image, cl_mem dst_image,
                          const size_t *src_origin REMORA_COUNT(3),
                          const size_t *dst_origin REMORA_COUNT(3),
                          const size_t *region REMORA_COUNT(3), REMORA_CL_WAIT_LIST);

REMORA_OPCODE(87)
cl_int clEnqueueCopyImageToBuffer(cl_command_queue command_queue, cl_mem src_image,
                                  cl_mem dst_buffer, const size_t *src_origin REMORA_COUNT(3),
                                  const size_t *region REMORA_COUNT(3), size_t dst_offset,
                                  REMORA_CL_WAIT_LIST);

REMORA_OPCODE(88)
cl_int clEnqueueCopyBufferToImage(cl_command_queue command_queue, cl_mem src_buffer,
                                  cl_mem dst_image, size_t src_offset,
                                  const size_t *dst_origin REMORA_COUNT(3),
                                  const size_t *region REMORA_COUNT(3), REMORA_CL_WAIT_LIST);

// Mapping happens in the guest (guest/map.cpp): the returned pointer is guest memory, filled by a read
// and written back at unmap. 89..91 reserved.
REMORA_LOCAL(remora_cl_enqueue_map_buffer)
void *clEnqueueMapBuffer(cl_command_queue command_queue, cl_mem buffer, cl_bool blocking_map,
                         cl_map_flags map_flags, size_t offset, size_t size, REMORA_CL_WAIT_LIST,
                         cl_int *errcode_ret REMORA_ERRCODE);

REMORA_LOCAL(remora_cl_enqueue_map_image)
void *clEnqueueMapImage(cl_command_queue command_queue, cl_mem image, cl_bool blocking_map,
                        cl_map_flags map_flags, const size_t *origin REMORA_COUNT(3),
                        const size_t *region REMORA_COUNT(3), size_t *image_row_pitch,
                        size_t *image_slice_pitch, REMORA_CL_WAIT_LIST,
                        cl_int *errcode_ret REMORA_ERRCODE);

REMORA_LOCAL(remora_cl_enqueue_unmap_mem_object)
cl_int clEnqueueUnmapMemObject(cl_command_queue command_queue, cl_mem memobj, void *mapped_ptr,
                               REMORA_CL_WAIT_LIST);

REMORA_OPCODE(92)
cl_int clEnqueueMigrateMemObjects(cl_command_queue command_queue, cl_uint num_mem_objects,
                                  const cl_mem *mem_objects REMORA_COUNT(num_mem_objects),
                                  cl_mem_migration_flags flags, REMORA_CL_WAIT_LIST);

// Kernel launches pass the fair-share gate and are timed (server/fair_share.cpp).
REMORA_OPCODE(93) REMORA_SERVER(remora_cl_server_enqueue_nd_range_kernel)
cl_int clEnqueueNDRangeKernel(cl_command_queue command_queue, cl_kernel kernel, cl_uint work_dim,
                              const size_t *global_work_offset
                                  REMORA_COUNT(remora_cl_work_dims(work_dim)),
                              const size_t *global_work_size
                                  REMORA_COUNT(remora_cl_work_dims(work_dim)),
                              const size_t *local_work_size
                                  REMORA_COUNT(remora_cl_work_dims(work_dim)),
                              REMORA_CL_WAIT_LIST);

// 94 reserved.
REMORA_UNSUPPORTED("runs a host function of the application inside the server")
cl_int clEnqueueNativeKernel(cl_command_queue command_queue, void(CL_CALLBACK *user_func)(void *),
                             void *args, size_t cb_args, cl_uint num_mem_objects,
                             const cl_mem *mem_list, const void **args_mem_loc,
                             cl_uint num_events_in_wait_list, const cl_event *event_wait_list,
                             cl_event *event);

REMORA_OPCODE(95)
cl_int clEnqueueMarkerWithWaitList(cl_command_queue command_queue, REMORA_CL_WAIT_LIST);

REMORA_OPCODE(96)
cl_int clEnqueueBarrierWithWaitList(cl_command_queue command_queue, REMORA_CL_WAIT_LIST);

// SVM enqueues run in the guest (guest/guest_svm.cpp) as buffer commands on the allocation's cl_mem.
// clEnqueueSVMFree with a free callback is refused (CL_INVALID_OPERATION). 97..102 reserved.
REMORA_LOCAL(remora_cl_enqueue_svm_free)
cl_int clEnqueueSVMFree(cl_command_queue command_queue, cl_uint num_svm_pointers,
                        void *svm_pointers[],
                        void(CL_CALLBACK *pfn_free_func)(cl_command_queue queue,
                                                         cl_uint num_svm_pointers,
                                                         void *svm_pointers[], void *user_data),
                        void *user_data, cl_uint num_events_in_wait_list,
                        const cl_event *event_wait_list, cl_event *event);

REMORA_LOCAL(remora_cl_enqueue_svm_memcpy)
cl_int clEnqueueSVMMemcpy(cl_command_queue command_queue, cl_bool blocking_copy, void *dst_ptr,
                          const void *src_ptr, size_t size, cl_uint num_events_in_wait_list,
                          const cl_event *event_wait_list, cl_event *event);

REMORA_LOCAL(remora_cl_enqueue_svm_mem_fill)
cl_int clEnqueueSVMMemFill(cl_command_queue command_queue, void *svm_ptr, const void *pattern,
                           size_t pattern_size, size_t size, cl_uint num_events_in_wait_list,
                           const cl_event *event_wait_list, cl_event *event);

REMORA_LOCAL(remora_cl_enqueue_svm_map)
cl_int clEnqueueSVMMap(cl_command_queue command_queue, cl_bool blocking_map, cl_map_flags flags,
                       void *svm_ptr, size_t size, cl_uint num_events_in_wait_list,
                       const cl_event *event_wait_list, cl_event *event);

REMORA_LOCAL(remora_cl_enqueue_svm_unmap)
cl_int clEnqueueSVMUnmap(cl_command_queue command_queue, void *svm_ptr,
                         cl_uint num_events_in_wait_list, const cl_event *event_wait_list,
                         cl_event *event);

REMORA_LOCAL(remora_cl_enqueue_svm_migrate_mem)
cl_int clEnqueueSVMMigrateMem(cl_command_queue command_queue, cl_uint num_svm_pointers,
                              const void **svm_pointers, const size_t *sizes,
                              cl_mem_migration_flags flags, cl_uint num_events_in_wait_list,
                              const cl_event *event_wait_list, cl_event *event);

// Extension functions are looked up in the guest against the extension list and the server's
// platform (guest/icd.cpp). 103 reserved.
REMORA_LOCAL(remora_cl_get_extension_function_address_for_platform)
void *clGetExtensionFunctionAddressForPlatform(cl_platform_id platform, const char *func_name);

// ---- Deprecated (OpenCL 1.0 - 2.2) -------------------------------------------------------------

REMORA_OPCODE(104)
cl_int clSetCommandQueueProperty(cl_command_queue command_queue,
                                 cl_command_queue_properties properties, cl_bool enable,
                                 cl_command_queue_properties *old_properties);

REMORA_OPCODE(105) REMORA_CL_NO_HOST_PTR
REMORA_RECORD(remora_cl_image2d_record(flags, host_ptr, image_format, image_width, image_height, image_row_pitch))
REMORA_RESOURCE(device_memory, remora_cl_image2d_device_bytes(image_format, image_width,
                                                              image_height))
cl_mem clCreateImage2D(cl_context context, cl_mem_flags flags REMORA_CL_SENT_FLAGS, const cl_image_format *image_format,
                       size_t image_width, size_t image_height, size_t image_row_pitch,
                       void *host_ptr REMORA_IN REMORA_BYTES(remora_cl_image2d_host_bytes(
                           flags, image_format, image_width, image_height, image_row_pitch)),
                       cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(106) REMORA_CL_NO_HOST_PTR
REMORA_RECORD(remora_cl_image3d_record(flags, host_ptr, image_format, image_width, image_height, image_depth,
                                       image_row_pitch, image_slice_pitch))
REMORA_RESOURCE(device_memory, remora_cl_image3d_device_bytes(image_format, image_width,
                                                              image_height, image_depth))
cl_mem clCreateImage3D(cl_context context, cl_mem_flags flags REMORA_CL_SENT_FLAGS, const cl_image_format *image_format,
                       size_t image_width, size_t image_height, size_t image_depth,
                       size_t image_row_pitch, size_t image_slice_pitch,
                       void *host_ptr REMORA_IN REMORA_BYTES(remora_cl_image3d_host_bytes(
                           flags, image_format, image_width, image_height, image_depth,
                           image_row_pitch, image_slice_pitch)),
                       cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(107)
cl_int clEnqueueMarker(cl_command_queue command_queue, cl_event *event);

REMORA_OPCODE(108)
cl_int clEnqueueWaitForEvents(cl_command_queue command_queue, cl_uint num_events,
                              const cl_event *event_list REMORA_COUNT(num_events));

REMORA_OPCODE(109)
cl_int clEnqueueBarrier(cl_command_queue command_queue);

REMORA_OPCODE(110)
cl_int clUnloadCompiler(void);

// 111 reserved.
REMORA_LOCAL(remora_cl_get_extension_function_address)
void *clGetExtensionFunctionAddress(const char *func_name);

REMORA_OPCODE(112) REMORA_SERVER(remora_cl_server_create_command_queue)
cl_command_queue clCreateCommandQueue(cl_context context, cl_device_id device,
                                      cl_command_queue_properties properties,
                                      cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(113)
cl_sampler clCreateSampler(cl_context context, cl_bool normalized_coords,
                           cl_addressing_mode addressing_mode, cl_filter_mode filter_mode,
                           cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(114) REMORA_SERVER(remora_cl_server_enqueue_task)
cl_int clEnqueueTask(cl_command_queue command_queue, cl_kernel kernel, REMORA_CL_WAIT_LIST);

// ---- cl_ext.h ----------------------------------------------------------------------------------

// cl_khr_icd: the ICD loader's entry point, answered by the guest (guest/icd.cpp). 115 reserved.
REMORA_LOCAL(remora_cl_icd_get_platform_ids)
cl_int clIcdGetPlatformIDsKHR(cl_uint num_entries,
                              cl_platform_id *platforms REMORA_OUT REMORA_COUNT(num_entries)
                                  REMORA_LENGTH_RET(num_platforms) REMORA_EXISTING,
                              cl_uint *num_platforms);

// cl_khr_il_program
REMORA_OPCODE(116)
cl_program clCreateProgramWithILKHR(cl_context context, const void *il REMORA_BYTES(length),
                                    size_t length, cl_int *errcode_ret REMORA_ERRCODE);

// cl_khr_suggested_local_work_size
REMORA_OPCODE(117)
cl_int clGetKernelSuggestedLocalWorkSizeKHR(cl_command_queue command_queue, cl_kernel kernel,
                                            cl_uint work_dim,
                                            const size_t *global_work_offset
                                                REMORA_COUNT(remora_cl_work_dims(work_dim)),
                                            const size_t *global_work_size
                                                REMORA_COUNT(remora_cl_work_dims(work_dim)),
                                            size_t *suggested_local_work_size REMORA_OUT
                                                REMORA_COUNT(remora_cl_work_dims(work_dim)));

// cl_khr_command_buffer. Recording calls are synchronous: each returns a sync point the application
// may name in the next one.
REMORA_OPCODE(118)
cl_command_buffer_khr clCreateCommandBufferKHR(cl_uint num_queues,
                                               const cl_command_queue *queues
                                                   REMORA_COUNT(num_queues),
                                               const cl_command_buffer_properties_khr *properties
                                                   REMORA_PROPERTIES(""),
                                               cl_int *errcode_ret REMORA_ERRCODE);

REMORA_OPCODE(119)
cl_int clFinalizeCommandBufferKHR(cl_command_buffer_khr command_buffer);

REMORA_OPCODE(120) REMORA_ASYNC REMORA_RETAINS(command_buffer)
cl_int clRetainCommandBufferKHR(cl_command_buffer_khr command_buffer);

REMORA_OPCODE(121) REMORA_ASYNC REMORA_RELEASES(command_buffer)
cl_int clReleaseCommandBufferKHR(cl_command_buffer_khr command_buffer);

REMORA_OPCODE(122)
cl_int clEnqueueCommandBufferKHR(cl_uint num_queues,
                                 cl_command_queue *queues REMORA_IN REMORA_COUNT(num_queues),
                                 cl_command_buffer_khr command_buffer, REMORA_CL_WAIT_LIST);

REMORA_OPCODE(123)
cl_int clCommandBarrierWithWaitListKHR(cl_command_buffer_khr command_buffer,
                                       cl_command_queue command_queue, REMORA_CL_SYNC_POINTS);

REMORA_OPCODE(124)
cl_int clCommandCopyBufferKHR(cl_command_buffer_khr command_buffer, cl_command_queue command_queue,
                              cl_mem src_buffer, cl_mem dst_buffer, size_t src_offset,
                              size_t dst_offset, size_t size, REMORA_CL_SYNC_POINTS);

REMORA_OPCODE(125)
cl_int clCommandCopyBufferRectKHR(cl_command_buffer_khr command_buffer,
                                  cl_command_queue command_queue, cl_mem src_buffer,
                                  cl_mem dst_buffer, const size_t *src_origin REMORA_COUNT(3),
                                  const size_t *dst_origin REMORA_COUNT(3),
                                  const size_t *region REMORA_COUNT(3), size_t src_row_pitch,
                                  size_t src_slice_pitch, size_t dst_row_pitch,
                                  size_t dst_slice_pitch, REMORA_CL_SYNC_POINTS);

REMORA_OPCODE(126)
cl_int clCommandCopyBufferToImageKHR(cl_command_buffer_khr command_buffer,
                                     cl_command_queue command_queue, cl_mem src_buffer,
                                     cl_mem dst_image, size_t src_offset,
                                     const size_t *dst_origin REMORA_COUNT(3),
                                     const size_t *region REMORA_COUNT(3), REMORA_CL_SYNC_POINTS);

REMORA_OPCODE(127)
cl_int clCommandCopyImageKHR(cl_command_buffer_khr command_buffer, cl_command_queue command_queue,
                             cl_mem src_image, cl_mem dst_image,
                             const size_t *src_origin REMORA_COUNT(3),
                             const size_t *dst_origin REMORA_COUNT(3),
                             const size_t *region REMORA_COUNT(3), REMORA_CL_SYNC_POINTS);

REMORA_OPCODE(128)
cl_int clCommandCopyImageToBufferKHR(cl_command_buffer_khr command_buffer,
                                     cl_command_queue command_queue, cl_mem src_image,
                                     cl_mem dst_buffer, const size_t *src_origin REMORA_COUNT(3),
                                     const size_t *region REMORA_COUNT(3), size_t dst_offset,
                                     REMORA_CL_SYNC_POINTS);

REMORA_OPCODE(129)
cl_int clCommandFillBufferKHR(cl_command_buffer_khr command_buffer, cl_command_queue command_queue,
                              cl_mem buffer, const void *pattern REMORA_BYTES(pattern_size),
                              size_t pattern_size, size_t offset, size_t size,
                              REMORA_CL_SYNC_POINTS);

REMORA_OPCODE(130)
cl_int clCommandFillImageKHR(cl_command_buffer_khr command_buffer, cl_command_queue command_queue,
                             cl_mem image,
                             const void *fill_color REMORA_BYTES(remora_cl_fill_color_bytes(image)),
                             const size_t *origin REMORA_COUNT(3),
                             const size_t *region REMORA_COUNT(3), REMORA_CL_SYNC_POINTS);

REMORA_OPCODE(131)
cl_int clCommandNDRangeKernelKHR(cl_command_buffer_khr command_buffer,
                                 cl_command_queue command_queue,
                                 const cl_ndrange_kernel_command_properties_khr *properties
                                     REMORA_PROPERTIES(""),
                                 cl_kernel kernel, cl_uint work_dim,
                                 const size_t *global_work_offset
                                     REMORA_COUNT(remora_cl_work_dims(work_dim)),
                                 const size_t *global_work_size
                                     REMORA_COUNT(remora_cl_work_dims(work_dim)),
                                 const size_t *local_work_size
                                     REMORA_COUNT(remora_cl_work_dims(work_dim)),
                                 REMORA_CL_SYNC_POINTS);

REMORA_OPCODE(132)
cl_int clGetCommandBufferInfoKHR(cl_command_buffer_khr command_buffer,
                                 cl_command_buffer_info_khr param_name, size_t param_value_size,
                                 void *param_value REMORA_OUT REMORA_BYTES(param_value_size)
                                     REMORA_LENGTH_RET(param_value_size_ret)
                                     REMORA_HANDLES_WHEN(param_name, CL_COMMAND_BUFFER_QUEUES_KHR,
                                                         cl_command_queue),
                                 size_t *param_value_size_ret);

// ---- remora's auxiliary functions (no vendor counterpart; each has a server hook) --------------

// CL_SUCCESS when the platform (NULL: any platform of the server) has the extension function
// `func_name`, CL_INVALID_VALUE otherwise. Backs clGetExtensionFunctionAddress[ForPlatform].
REMORA_OPCODE(133) REMORA_CACHE REMORA_SERVER(remora_cl_server_has_extension_function)
cl_int remora_clHasExtensionFunction(cl_platform_id platform, const char *func_name);

// Binary `index` of a program (the CL_PROGRAM_BINARIES entry for device `index` of
// CL_PROGRAM_DEVICES), `size` bytes as CL_PROGRAM_BINARY_SIZES gave them.
REMORA_OPCODE(134) REMORA_SERVER(remora_cl_server_get_program_binary) REMORA_REQUIRES(clGetProgramInfo)
cl_int remora_clGetProgramBinary(cl_program program, cl_uint index, size_t size,
                                 unsigned char *binary REMORA_OUT REMORA_NONNULL REMORA_BYTES(size));

// clSetKernelArg for an argument that is an object: exactly one of mem, sampler, queue is non-NULL.
REMORA_OPCODE(135) REMORA_ASYNC REMORA_SERVER(remora_cl_server_set_kernel_arg_handle) REMORA_REQUIRES(clSetKernelArg)
cl_int remora_clSetKernelArgHandle(cl_kernel kernel, cl_uint arg_index, cl_mem mem,
                                   cl_sampler sampler, cl_command_queue queue);

// Shared virtual memory (guest/guest_svm.cpp). The server allocates `size` bytes of coarse-grained SVM and
// returns a buffer of this session that uses them (CL_MEM_USE_HOST_PTR on the SVM pointer); the SVM
// is freed when the buffer goes. `flags` may hold only CL_MEM_READ_WRITE / WRITE_ONLY / READ_ONLY.
REMORA_OPCODE(136) REMORA_SERVER(remora_cl_server_svm_alloc_buffer) REMORA_RESOURCE(device_memory, size)
REMORA_CL_SVM_REQUIRES REMORA_REQUIRES(clCreateBuffer, clRetainContext, clReleaseContext, clReleaseMemObject)
cl_mem remora_clSVMAllocBuffer(cl_context context, cl_svm_mem_flags flags, size_t size,
                               cl_uint alignment, cl_int *errcode_ret REMORA_ERRCODE);

// clSetKernelArgSVMPointer with the address `offset` bytes into the SVM behind `svm_buffer` (a buffer
// from remora_clSVMAllocBuffer; NULL passes a NULL pointer). The server derives the address itself,
// so a guest can name only its own allocations.
REMORA_OPCODE(137) REMORA_SERVER(remora_cl_server_set_kernel_arg_svm) REMORA_CL_SVM_REQUIRES REMORA_REQUIRES(clGetMemObjectInfo)
cl_int remora_clSetKernelArgSVM(cl_kernel kernel, cl_uint arg_index, cl_mem svm_buffer,
                                size_t offset);

// clSetKernelExecInfo(CL_KERNEL_EXEC_INFO_SVM_PTRS) with the addresses offsets[i] bytes into the SVM
// behind svm_buffers[i], translated and checked as for remora_clSetKernelArgSVM.
REMORA_OPCODE(138) REMORA_SERVER(remora_cl_server_set_kernel_exec_info_svm)
REMORA_CL_SVM_REQUIRES REMORA_REQUIRES(clGetMemObjectInfo)
cl_int remora_clSetKernelExecInfoSVM(cl_kernel kernel, cl_uint count,
                                     const cl_mem *svm_buffers REMORA_COUNT(count),
                                     const size_t *offsets REMORA_COUNT(count));

// Direct transfers (guest/transfer.cpp, server/direct.cpp, SECURITY.md): a blocking
// clEnqueueWriteBuffer / clEnqueueReadBuffer of `size` bytes whose data the server copies itself,
// in one copy, between the application's memory at `address` in guest process `pid` and the buffer
// region, mapped for the purpose (server/peer_memory.h says which process and which bytes it may
// touch). CL_SUCCESS: done, exactly as the blocking enqueue would have. Otherwise nothing observable
// happened and the guest sends the call the ordinary way, which also gives every error its native
// value: REMORA_CL_DIRECT_UNAVAILABLE says not to try again in this session, REMORA_CL_DIRECT_RETRY
// (or any error) only that this call could not be made directly. Not REMORA_BLOCKING, although they
// block: the guest reports an earlier asynchronous failure itself, after a direct transfer that was
// made (the generated stub would return it in place of CL_SUCCESS, indistinguishable from a transfer
// that was not made); the server hook calls Call::about_to_block itself.
REMORA_OPCODE(139) REMORA_SERVER(remora_cl_server_write_buffer_direct) REMORA_CL_MAP_REQUIRES
cl_int remora_clEnqueueWriteBufferDirect(cl_command_queue command_queue, cl_mem buffer, size_t offset,
                                         size_t size, cl_ulong address, cl_long pid,
                                         cl_uint num_events_in_wait_list,
                                         const cl_event *event_wait_list
                                             REMORA_COUNT(num_events_in_wait_list));

REMORA_OPCODE(140) REMORA_SERVER(remora_cl_server_read_buffer_direct) REMORA_CL_MAP_REQUIRES
cl_int remora_clEnqueueReadBufferDirect(cl_command_queue command_queue, cl_mem buffer, size_t offset,
                                        size_t size, cl_ulong address, cl_long pid,
                                        cl_uint num_events_in_wait_list,
                                        const cl_event *event_wait_list
                                            REMORA_COUNT(num_events_in_wait_list));

// Shared buffer storage (guest/guest_shared_buffers.cpp, server/server_shared_buffers.cpp, SECURITY.md): where the
// session has a region link (the shm transport) and every device of `context` keeps CL_MEM_USE_HOST_PTR
// buffers in the host memory given (PoCL's CPU device; probed once per device), a buffer is created
// over a shared region that the server passes to the guest before replying (*region_bytes is then its
// size, else 0 and the buffer is an ordinary one). The guest then moves the application's data with its
// own memcpy, where a native application pays one copy too. `flags` never holds USE_HOST_PTR (the guest
// sends that kind the ordinary way); COPY_HOST_PTR data is placed in the region before the buffer is
// created over it.
REMORA_OPCODE(141) REMORA_SERVER(remora_cl_server_create_buffer_shared) REMORA_RESOURCE(device_memory, size)
REMORA_REQUIRES(clCreateBuffer) REMORA_CL_NO_HOST_PTR
cl_mem remora_clCreateBufferShared(cl_context context, cl_mem_flags flags, size_t size,
                                   void *host_ptr REMORA_IN REMORA_BYTES(remora_cl_buffer_host_bytes(flags, size)),
                                   cl_ulong *region_bytes, cl_int *errcode_ret REMORA_ERRCODE);

// Orders an access by the guest to a shared buffer as the blocking transfer or map it stands for:
// returns once every command that transfer would have waited for is complete (all earlier commands of
// an in-order queue, and the wait list). `wait_us` 0: waits as long as that takes; otherwise at most
// about that long (a non-blocking transfer, which must not wait on, say, a user event the application
// sets later), answering REMORA_CL_DIRECT_RETRY when the commands are not complete by then (a marker
// it enqueued may stay behind: it orders nothing the ordinary call does not). CL_SUCCESS: the guest may
// now read or write the buffer's storage. Anything else (REMORA_CL_DIRECT_RETRY: the queue and buffer are not of one context, the
// buffer is not shared, a wait-list event failed or is invalid): nothing happened, and the guest sends
// the ordinary call, which reports the native error. Not REMORA_BLOCKING, for the reason the direct
// calls above are not.
REMORA_OPCODE(142) REMORA_SERVER(remora_cl_server_shared_access)
cl_int remora_clEnqueueSharedAccess(cl_command_queue command_queue, cl_mem buffer, cl_uint wait_us,
                                    cl_uint num_events_in_wait_list,
                                    const cl_event *event_wait_list REMORA_COUNT(num_events_in_wait_list));
