// The guest's records of memory objects, and the hooks around them.
//
// - CL_MEM_USE_HOST_PTR: the server's memory cannot alias the application's, so the object is created
//   with CL_MEM_COPY_HOST_PTR (REMORA_SEND of remora_cl_server_flags) and the guest keeps host_ptr in
//   the object's record; map/unmap (map.cpp) keep it in step.
// - Images record their pixel layout: transfer sizes are computed while a call is being encoded, when
//   no other call may be made.
// - clSetKernelArg recognises a memory object or sampler inside an argument's bytes among the
//   runtime's live objects (Objects::live) and sends it as a handle.
// Records are made by the generated stubs (REMORA_RECORD) through the helpers below and dropped by
// remora_cl_mem_retired (REMORA_HANDLE_WITH_RECORD) when the object is retired.
#include <cstring>
#include <optional>
#include <utility>
#include <memory>

#include "guest_glue.h"

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

std::unique_ptr<glue::MemRecord> buffer_record(cl_mem_flags flags, void* host_ptr) {
  auto r = std::make_unique<glue::MemRecord>();
  r->app_flags = flags;
  if ((flags & CL_MEM_USE_HOST_PTR) != 0) r->host_ptr = host_ptr;
  return r;
}

void* image_record(cl_mem_flags flags, void* host_ptr, const cl_image_format* format, const cl_image_desc* desc) {
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
  return r.release();
}

}  // namespace

extern "C" {

// ---- Records (spec_helpers.h: the REMORA_RECORD expressions of opencl.spec.c) ---------------------------

cl_mem_flags remora_cl_server_flags(cl_mem_flags flags) {
  if ((flags & CL_MEM_USE_HOST_PTR) == 0) return flags;
  return (flags & ~cl_mem_flags{CL_MEM_USE_HOST_PTR}) | CL_MEM_COPY_HOST_PTR;
}

void* remora_cl_buffer_record(cl_mem_flags flags, void* host_ptr) { return buffer_record(flags, host_ptr).release(); }

void* remora_cl_sub_buffer_record(cl_mem buffer, cl_mem_flags flags, cl_buffer_create_type buffer_create_type,
                                  const void* buffer_create_info) {
  auto record = std::make_unique<glue::MemRecord>();
  record->app_flags = flags;
  glue::MemRecord* parent = glue::mem_record(buffer);
  if (parent == nullptr || buffer_create_type != CL_BUFFER_CREATE_TYPE_REGION || buffer_create_info == nullptr)
    return record.release();
  cl_buffer_region region;
  std::memcpy(&region, buffer_create_info, sizeof(region));
  // A sub-buffer of a USE_HOST_PTR buffer maps onto the parent's memory at its origin.
  if (parent->host_ptr != nullptr) {
    record->host_ptr = static_cast<char*>(parent->host_ptr) + region.origin;
    record->app_flags |= parent->app_flags & CL_MEM_USE_HOST_PTR;
  }
  if (parent->shared != nullptr) glue::share_parent_storage(*parent, region.origin, region.size, record.get());
  return record.release();
}

void* remora_cl_image_record(cl_mem_flags flags, void* host_ptr, const cl_image_format* image_format,
                             const cl_image_desc* image_desc) {
  return image_record(flags, host_ptr, image_format, image_desc);
}

void* remora_cl_image2d_record(cl_mem_flags flags, void* host_ptr, const cl_image_format* image_format,
                               size_t image_width, size_t image_height, size_t image_row_pitch) {
  cl_image_desc desc{};
  desc.image_type = CL_MEM_OBJECT_IMAGE2D;
  desc.image_width = image_width;
  desc.image_height = image_height;
  desc.image_row_pitch = image_row_pitch;
  return image_record(flags, host_ptr, image_format, &desc);
}

void* remora_cl_image3d_record(cl_mem_flags flags, void* host_ptr, const cl_image_format* image_format,
                               size_t image_width, size_t image_height, size_t image_depth, size_t image_row_pitch,
                               size_t image_slice_pitch) {
  cl_image_desc desc{};
  desc.image_type = CL_MEM_OBJECT_IMAGE3D;
  desc.image_width = image_width;
  desc.image_height = image_height;
  desc.image_depth = image_depth;
  desc.image_row_pitch = image_row_pitch;
  desc.image_slice_pitch = image_slice_pitch;
  return image_record(flags, host_ptr, image_format, &desc);
}

void* remora_cl_pipe_record(cl_mem_flags flags) {
  auto record = std::make_unique<glue::MemRecord>();
  record->app_flags = flags;
  record->type = CL_MEM_OBJECT_PIPE;
  return record.release();
}

// Root devices are not reference counted: retain/release are no-ops for them (OpenCL 3.0,
// clRetainDevice). They are the borrowed objects (no application reference); sub-devices were
// created with one.
int remora_cl_root_device(cl_device_id device) {
  Object* o = glue::live_object(device, kType_cl_device_id);
  return o != nullptr && o->app_refs.load(std::memory_order_relaxed) == 0;
}

}  // extern "C"

// REMORA_HANDLE_WITH_RECORD(cl_mem): the record goes with the object's last application reference,
// with the mirrors of mappings the application never unmapped.
void remora_cl_mem_retired(Object* o) {
  auto* record = static_cast<glue::MemRecord*>(std::exchange(o->api_data, nullptr));
  if (record == nullptr) return;
  for (auto& [ptr, m] : record->maps)
    if (m.owns_mirror) std::free(ptr);
  delete record;
}

extern "C" {

// ---- Creation (the shared-storage path) -----------------------------------------------------------

cl_mem remora_cl_create_buffer(cl_context context, cl_mem_flags flags, size_t size, void* host_ptr,
                               cl_int* errcode_ret) {
  std::unique_ptr<glue::MemRecord> record = buffer_record(flags, host_ptr);
  cl_mem mem = glue::shared_buffer_wanted(flags, size)
                   ? glue::create_shared_buffer(context, flags, size, host_ptr, errcode_ret, record.get())
                   : remora_remote_clCreateBuffer(context, flags, size, host_ptr, errcode_ret);
  if (mem != nullptr) remora::guest::Objects::as_object(mem)->api_data = record.release();
  return mem;
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
    uint32_t type = 0;
    if (object != nullptr && remora_opencl_runtime().objects().live(object, &type) &&
        (type == kType_cl_mem || type == kType_cl_sampler))
      shape.kind = type == kType_cl_mem ? glue::ArgShape::kMem : glue::ArgShape::kSampler;
    else
      object = nullptr;
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

// spec_helpers.h: the guest answers from the record made at creation, never from the server (this runs while
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
