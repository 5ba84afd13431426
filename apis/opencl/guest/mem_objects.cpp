// Guest hooks around object creation and queries: what the generated stubs cannot express alone.
//
// - CL_MEM_USE_HOST_PTR: the server's memory cannot alias the application's, so the object is created
//   with CL_MEM_COPY_HOST_PTR and the guest keeps host_ptr; map/unmap (map.cpp) keep it in step.
// - Every memory object and sampler is recorded, so clSetKernelArg can recognise one inside an
//   argument's bytes and send it as a handle.
// - Images record their pixel layout: transfer sizes are computed while a call is being encoded, when
//   no other call may be made.
#include <cstring>
#include <optional>
#include <utility>
#include <memory>

#include "glue.h"

namespace glue = remora::opencl::guest_glue;
using remora::guest::Object;
using remora::opencl::kType_cl_device_id;
using remora::opencl::kType_cl_mem;
using remora::opencl::kType_cl_sampler;

namespace remora::opencl::guest_glue {

MemRecord* mem_record(cl_mem mem) {
  Object* o = live_object(mem, kType_cl_mem);
  return o != nullptr ? static_cast<MemRecord*>(o->api_data) : nullptr;
}

}  // namespace remora::opencl::guest_glue

namespace {

cl_mem_flags server_flags(cl_mem_flags flags) {
  if ((flags & CL_MEM_USE_HOST_PTR) == 0) return flags;
  return (flags & ~cl_mem_flags{CL_MEM_USE_HOST_PTR}) | CL_MEM_COPY_HOST_PTR;
}

void track_kernel_arg_object(const void* handle) {
  glue::GlueState& g = glue::glue_state();
  std::lock_guard<std::mutex> lock(g.mu);
  g.kernel_arg_objects.insert(handle);
}

// Attaches `record` to a memory object the server just created (not yet visible to the application).
cl_mem adopt(cl_mem mem, std::unique_ptr<glue::MemRecord> record) {
  if (mem == nullptr) return nullptr;
  remora::guest::Objects::as_object(mem)->api_data = record.release();
  track_kernel_arg_object(mem);
  return mem;
}

std::unique_ptr<glue::MemRecord> buffer_record(cl_mem_flags flags, void* host_ptr) {
  auto r = std::make_unique<glue::MemRecord>();
  r->app_flags = flags;
  if ((flags & CL_MEM_USE_HOST_PTR) != 0) r->host_ptr = host_ptr;
  return r;
}

std::unique_ptr<glue::MemRecord> image_record(cl_mem_flags flags, void* host_ptr,
                                              const cl_image_format* format,
                                              const cl_image_desc* desc) {
  auto r = buffer_record(flags, host_ptr);
  r->is_image = true;
  if (format != nullptr) {
    r->order = format->image_channel_order;
    r->element_size = remora_cl_format_element_size(format);
  }
  if (desc != nullptr) {
    r->type = desc->image_type;
    r->host_row_pitch = desc->image_row_pitch != 0 ? desc->image_row_pitch
                                                   : desc->image_width * r->element_size;
    if (desc->image_slice_pitch != 0) {
      r->host_slice_pitch = desc->image_slice_pitch;
    } else if (desc->image_type == CL_MEM_OBJECT_IMAGE1D_ARRAY) {
      r->host_slice_pitch = r->host_row_pitch;
    } else if (desc->image_type == CL_MEM_OBJECT_IMAGE2D_ARRAY ||
               desc->image_type == CL_MEM_OBJECT_IMAGE3D) {
      r->host_slice_pitch = r->host_row_pitch * desc->image_height;
    }
  }
  return r;
}

// After a release: once the object is retired (the last application reference went), forget it.
// Retired Objects stay allocated (runtime.h), so reading `magic` is safe.
void forget_if_retired(const void* handle, bool is_mem) {
  Object* o = remora::guest::Objects::as_object(handle);
  if (o->magic != Object::kDead) return;
  {
    glue::GlueState& g = glue::glue_state();
    std::lock_guard<std::mutex> lock(g.mu);
    g.kernel_arg_objects.erase(handle);
  }
  if (is_mem) {
    auto* record = static_cast<glue::MemRecord*>(o->api_data);
    o->api_data = nullptr;
    if (record != nullptr) {
      // Mirrors of mappings the application never unmapped.
      for (auto& [ptr, m] : record->maps)
        if (m.owns_mirror) std::free(ptr);
      delete record;
    }
  }
}

}  // namespace

extern "C" {

// ---- Creation ------------------------------------------------------------------------------------

cl_mem remora_cl_create_buffer(cl_context context, cl_mem_flags flags, size_t size, void* host_ptr,
                               cl_int* errcode_ret) {
  if (glue::shared_buffer_wanted(flags, size)) {
    auto record = buffer_record(flags, host_ptr);
    cl_mem mem = glue::create_shared_buffer(context, flags, size, host_ptr, errcode_ret, record.get());
    return adopt(mem, std::move(record));
  }
  return adopt(remora_remote_clCreateBuffer(context, server_flags(flags), size, host_ptr, errcode_ret),
               buffer_record(flags, host_ptr));
}

cl_mem remora_cl_create_buffer_with_properties(cl_context context, const cl_mem_properties* properties,
                                               cl_mem_flags flags, size_t size, void* host_ptr,
                                               cl_int* errcode_ret) {
  return adopt(remora_remote_clCreateBufferWithProperties(context, properties, server_flags(flags),
                                                          size, host_ptr, errcode_ret),
               buffer_record(flags, host_ptr));
}

cl_mem remora_cl_create_sub_buffer(cl_mem buffer, cl_mem_flags flags,
                                   cl_buffer_create_type buffer_create_type,
                                   const void* buffer_create_info, cl_int* errcode_ret) {
  cl_mem sub = remora_remote_clCreateSubBuffer(buffer, flags, buffer_create_type, buffer_create_info,
                                               errcode_ret);
  if (sub == nullptr) return nullptr;
  // A sub-buffer of a USE_HOST_PTR buffer maps onto the parent's memory at its origin.
  auto record = std::make_unique<glue::MemRecord>();
  record->app_flags = flags;
  glue::MemRecord* parent = glue::mem_record(buffer);
  if (parent != nullptr && parent->host_ptr != nullptr &&
      buffer_create_type == CL_BUFFER_CREATE_TYPE_REGION && buffer_create_info != nullptr) {
    cl_buffer_region region;
    std::memcpy(&region, buffer_create_info, sizeof(region));
    record->host_ptr = static_cast<char*>(parent->host_ptr) + region.origin;
    record->app_flags |= parent->app_flags & CL_MEM_USE_HOST_PTR;
  }
  if (parent != nullptr && parent->shared != nullptr && buffer_create_type == CL_BUFFER_CREATE_TYPE_REGION &&
      buffer_create_info != nullptr) {
    cl_buffer_region region;
    std::memcpy(&region, buffer_create_info, sizeof(region));
    glue::share_parent_storage(*parent, region.origin, region.size, record.get());
  }
  return adopt(sub, std::move(record));
}

cl_mem remora_cl_create_image(cl_context context, cl_mem_flags flags,
                              const cl_image_format* image_format, const cl_image_desc* image_desc,
                              void* host_ptr, cl_int* errcode_ret) {
  return adopt(remora_remote_clCreateImage(context, server_flags(flags), image_format, image_desc,
                                           host_ptr, errcode_ret),
               image_record(flags, host_ptr, image_format, image_desc));
}

cl_mem remora_cl_create_image_with_properties(cl_context context, const cl_mem_properties* properties,
                                              cl_mem_flags flags, const cl_image_format* image_format,
                                              const cl_image_desc* image_desc, void* host_ptr,
                                              cl_int* errcode_ret) {
  return adopt(remora_remote_clCreateImageWithProperties(context, properties, server_flags(flags),
                                                         image_format, image_desc, host_ptr,
                                                         errcode_ret),
               image_record(flags, host_ptr, image_format, image_desc));
}

cl_mem remora_cl_create_image_2d(cl_context context, cl_mem_flags flags,
                                 const cl_image_format* image_format, size_t image_width,
                                 size_t image_height, size_t image_row_pitch, void* host_ptr,
                                 cl_int* errcode_ret) {
  cl_image_desc desc{};
  desc.image_type = CL_MEM_OBJECT_IMAGE2D;
  desc.image_width = image_width;
  desc.image_height = image_height;
  desc.image_row_pitch = image_row_pitch;
  return adopt(remora_remote_clCreateImage2D(context, server_flags(flags), image_format, image_width,
                                             image_height, image_row_pitch, host_ptr, errcode_ret),
               image_record(flags, host_ptr, image_format, &desc));
}

cl_mem remora_cl_create_image_3d(cl_context context, cl_mem_flags flags,
                                 const cl_image_format* image_format, size_t image_width,
                                 size_t image_height, size_t image_depth, size_t image_row_pitch,
                                 size_t image_slice_pitch, void* host_ptr, cl_int* errcode_ret) {
  cl_image_desc desc{};
  desc.image_type = CL_MEM_OBJECT_IMAGE3D;
  desc.image_width = image_width;
  desc.image_height = image_height;
  desc.image_depth = image_depth;
  desc.image_row_pitch = image_row_pitch;
  desc.image_slice_pitch = image_slice_pitch;
  return adopt(remora_remote_clCreateImage3D(context, server_flags(flags), image_format, image_width,
                                             image_height, image_depth, image_row_pitch,
                                             image_slice_pitch, host_ptr, errcode_ret),
               image_record(flags, host_ptr, image_format, &desc));
}

cl_mem remora_cl_create_pipe(cl_context context, cl_mem_flags flags, cl_uint pipe_packet_size,
                             cl_uint pipe_max_packets, const cl_pipe_properties* properties,
                             cl_int* errcode_ret) {
  auto record = std::make_unique<glue::MemRecord>();
  record->app_flags = flags;
  record->type = CL_MEM_OBJECT_PIPE;
  return adopt(remora_remote_clCreatePipe(context, flags, pipe_packet_size, pipe_max_packets,
                                          properties, errcode_ret),
               std::move(record));
}

cl_sampler remora_cl_create_sampler(cl_context context, cl_bool normalized_coords,
                                    cl_addressing_mode addressing_mode, cl_filter_mode filter_mode,
                                    cl_int* errcode_ret) {
  cl_sampler s = remora_remote_clCreateSampler(context, normalized_coords, addressing_mode,
                                               filter_mode, errcode_ret);
  if (s != nullptr) track_kernel_arg_object(s);
  return s;
}

cl_sampler remora_cl_create_sampler_with_properties(cl_context context,
                                                    const cl_sampler_properties* sampler_properties,
                                                    cl_int* errcode_ret) {
  cl_sampler s = remora_remote_clCreateSamplerWithProperties(context, sampler_properties, errcode_ret);
  if (s != nullptr) track_kernel_arg_object(s);
  return s;
}

// ---- Release -------------------------------------------------------------------------------------

cl_int remora_cl_release_mem_object(cl_mem memobj) {
  const cl_int err = remora_remote_clReleaseMemObject(memobj);
  if (err == CL_SUCCESS) forget_if_retired(memobj, true);
  return err;
}

cl_int remora_cl_release_kernel(cl_kernel kernel) {
  const cl_int err = remora_remote_clReleaseKernel(kernel);
  if (err != CL_SUCCESS) return err;
  // Retired Objects stay allocated (runtime.h): reading them is safe, and a retired kernel is no
  // longer live_object(), so kernel_arg_shapes() cannot hand out the shapes freed here.
  Object* o = remora::guest::Objects::as_object(kernel);
  if (o->magic == Object::kDead) delete static_cast<glue::KernelArgShapes*>(std::exchange(o->api_data, nullptr));
  return CL_SUCCESS;
}

cl_int remora_cl_release_sampler(cl_sampler sampler) {
  const cl_int err = remora_remote_clReleaseSampler(sampler);
  if (err == CL_SUCCESS) forget_if_retired(sampler, false);
  return err;
}

// Root devices are not reference counted: retain/release are no-ops (OpenCL 3.0, clRetainDevice).
// They are the borrowed objects (no application reference); sub-devices were created with one.
cl_int remora_cl_retain_device(cl_device_id device) {
  Object* o = glue::live_object(device, kType_cl_device_id);
  if (o != nullptr && o->app_refs.load(std::memory_order_relaxed) == 0) return CL_SUCCESS;
  return remora_remote_clRetainDevice(device);
}

cl_int remora_cl_release_device(cl_device_id device) {
  Object* o = glue::live_object(device, kType_cl_device_id);
  if (o != nullptr && o->app_refs.load(std::memory_order_relaxed) == 0) return CL_SUCCESS;
  return remora_remote_clReleaseDevice(device);
}

// ---- Queries -------------------------------------------------------------------------------------

cl_int remora_cl_get_mem_object_info(cl_mem memobj, cl_mem_info param_name, size_t param_value_size,
                                     void* param_value, size_t* param_value_size_ret) {
  const cl_int err = remora_remote_clGetMemObjectInfo(memobj, param_name, param_value_size,
                                                      param_value, param_value_size_ret);
  glue::MemRecord* r = glue::mem_record(memobj);
  if (err != CL_SUCCESS || r == nullptr || param_value == nullptr) return err;
  // The server saw COPY_HOST_PTR and knows nothing of the guest's mappings: answer from the record.
  switch (param_name) {
    case CL_MEM_FLAGS:
      if (param_value_size >= sizeof(cl_mem_flags)) std::memcpy(param_value, &r->app_flags, sizeof(cl_mem_flags));
      break;
    case CL_MEM_HOST_PTR:
      if (param_value_size >= sizeof(void*)) std::memcpy(param_value, &r->host_ptr, sizeof(void*));
      break;
    case CL_MEM_MAP_COUNT: {
      std::lock_guard<std::mutex> lock(r->mu);
      const cl_uint count = static_cast<cl_uint>(r->maps.size());
      if (param_value_size >= sizeof(cl_uint)) std::memcpy(param_value, &count, sizeof(cl_uint));
      break;
    }
    default:
      break;
  }
  return err;
}

// Bytes of a pointer-sized argument that equal a live memory object or sampler are that object. A
// plain value that happens to equal one is indistinguishable (the API has the same ambiguity), and
// the server refuses raw pointers for object arguments, so a mistake cannot reach the vendor.
cl_int remora_cl_set_kernel_arg(cl_kernel kernel, cl_uint arg_index, size_t arg_size,
                                const void* arg_value) {
  // What the argument is: plain bytes, or one of our memory objects or samplers (then it travels as a
  // handle). The bytes are compared against the set of live objects, never dereferenced first.
  glue::ArgShape shape{arg_size, arg_value == nullptr, glue::ArgShape::kBytes};
  void* object = nullptr;
  if (arg_size == sizeof(void*) && arg_value != nullptr) {
    std::memcpy(&object, arg_value, sizeof(object));
    if (object != nullptr) {
      glue::GlueState& g = glue::glue_state();
      std::lock_guard<std::mutex> lock(g.mu);
      if (g.kernel_arg_objects.count(object) == 0) object = nullptr;
    }
    if (object != nullptr)
      shape.kind = remora::guest::Objects::as_object(object)->type == kType_cl_mem ? glue::ArgShape::kMem
                                                                                    : glue::ArgShape::kSampler;
  }
  // The vendor's checks depend only on the argument's shape (index, size, NULL or not, object kind).
  // Once it accepted a shape, setting the same shape again cannot fail for a live kernel and can be
  // batched; a new shape waits for the vendor's own answer, so errors come back exactly as natively.
  glue::KernelArgShapes* known = glue::kernel_arg_shapes(kernel);
  const bool seen = known != nullptr && known->accepted(arg_index, shape);
  std::optional<remora::guest::SyncScope> sync;
  if (!seen) sync.emplace();
  cl_int err;
  if (shape.kind == glue::ArgShape::kMem)
    err = remora_remote_remora_clSetKernelArgHandle(kernel, arg_index, static_cast<cl_mem>(object), nullptr, nullptr);
  else if (shape.kind == glue::ArgShape::kSampler)
    err = remora_remote_remora_clSetKernelArgHandle(kernel, arg_index, nullptr, static_cast<cl_sampler>(object),
                                                    nullptr);
  else
    err = remora_remote_clSetKernelArg(kernel, arg_index, arg_size, arg_value);
  if (!seen && err == CL_SUCCESS && known != nullptr) known->accept(arg_index, shape);
  return err;
}

// CL_PROGRAM_BINARIES: param_value is an array of pointers to the application's buffers, one per
// device, each CL_PROGRAM_BINARY_SIZES[i] bytes (a NULL entry skips that device).
cl_int remora_cl_get_program_info(cl_program program, cl_program_info param_name,
                                  size_t param_value_size, void* param_value,
                                  size_t* param_value_size_ret) {
  if (param_name != CL_PROGRAM_BINARIES || param_value == nullptr)
    return remora_remote_clGetProgramInfo(program, param_name, param_value_size, param_value,
                                          param_value_size_ret);
  size_t sizes_bytes = 0;
  cl_int err = remora_remote_clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, 0, nullptr, &sizes_bytes);
  if (err != CL_SUCCESS) return err;
  const size_t n = sizes_bytes / sizeof(size_t);
  std::unique_ptr<size_t[]> sizes(new (std::nothrow) size_t[n + 1]);
  if (sizes == nullptr) return CL_OUT_OF_HOST_MEMORY;
  err = remora_remote_clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, n * sizeof(size_t), sizes.get(),
                                       nullptr);
  if (err != CL_SUCCESS) return err;
  if (param_value_size < n * sizeof(unsigned char*)) return CL_INVALID_VALUE;
  auto** binaries = static_cast<unsigned char**>(param_value);
  for (size_t i = 0; i < n; ++i) {
    if (binaries[i] == nullptr || sizes[i] == 0) continue;
    err = remora_remote_remora_clGetProgramBinary(program, static_cast<cl_uint>(i), sizes[i], binaries[i]);
    if (err != CL_SUCCESS) return err;
  }
  if (param_value_size_ret != nullptr) *param_value_size_ret = n * sizeof(unsigned char*);
  return CL_SUCCESS;
}

// hooks.h: the guest answers from the record made at creation, never from the server (this runs while
// the calling thread's Writer holds a call being encoded).
int remora_cl_image_layout(cl_mem image, size_t* element_size, cl_mem_object_type* type,
                           cl_channel_order* order) {
  glue::MemRecord* r = glue::mem_record(image);
  if (r == nullptr || !r->is_image || r->element_size == 0) return -1;
  *element_size = r->element_size;
  *type = r->type;
  *order = r->order;
  return 0;
}

}  // extern "C"
