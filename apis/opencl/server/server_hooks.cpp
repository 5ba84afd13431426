// Server-side glue of the OpenCL stack: the vendor library's defaults, extension lookup, deferred read
// data, and the REMORA_SERVER hooks named in opencl.spec.c.
//
// Expects from the generated opencl_server.h: namespace remora::opencl { struct Vendor; const Vendor&
// vendor(); } with members for every vendor function the spec names, including
// clGetExtensionFunctionAddressForPlatform (a guest-local function whose vendor symbol the server uses).
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/log.h"
#include "spec_helpers.h"
#include "opencl_server.h"  // generated
#include "server/session.h"

using remora::opencl::vendor;

namespace {

// The completion callback's user data: the pending op, kept alive until the callback has run.
struct DeferredRef {
  remora::server::Session* session;
  std::shared_ptr<remora::server::DeferredOp> op;
};

void CL_CALLBACK deferred_complete(cl_event, cl_int status, void* user_data) {
  std::unique_ptr<DeferredRef> ref(static_cast<DeferredRef*>(user_data));
  // A negative status is the command's error: the application reads it from the event; no data.
  ref->session->complete_deferred(*ref->op, status == CL_COMPLETE);
}

}  // namespace

void remora_opencl_server_defer(remora::server::Session& session, cl_event event, bool release_event,
                                uint64_t token, remora::HostBlock data, uint64_t size) {
  auto op = std::make_shared<remora::server::DeferredOp>();
  op->token = token;
  op->data = std::move(data);
  op->size = size;
  // The op holds its own reference on the event: it outlives the guest's, which may be released
  // before the read completes.
  vendor().clRetainEvent(event);
  op->poll = [event] {
    const cl_int status = remora_opencl_server_event_status(event);
    return status == CL_COMPLETE ? 0 : (status < 0 ? -1 : 1);
  };
  op->cleanup = [event] { vendor().clReleaseEvent(event); };
  session.add_deferred(op);
  // The callback delivers the data as soon as the read completes; replies also flush completed ops
  // (Session::add_deferred), which covers vendors that call back late.
  auto ref = std::make_unique<DeferredRef>(DeferredRef{&session, op});
  if (vendor().clSetEventCallback != nullptr &&
      vendor().clSetEventCallback(event, CL_COMPLETE, deferred_complete, ref.get()) == CL_SUCCESS)
    ref.release();
  if (release_event) vendor().clReleaseEvent(event);
}

cl_int remora_opencl_server_event_status(cl_event event) {
  cl_int status = CL_QUEUED;
  if (vendor().clGetEventInfo(event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, nullptr) !=
      CL_SUCCESS)
    return -1;
  return status;
}

const char* remora_opencl_default_vendor_library() { return "libOpenCL.so.1"; }

void* remora_opencl_server_extension_lookup(const char* name) {
  if (name == nullptr || vendor().clGetPlatformIDs == nullptr ||
      vendor().clGetExtensionFunctionAddressForPlatform == nullptr)
    return nullptr;
  cl_uint n = 0;
  if (vendor().clGetPlatformIDs(0, nullptr, &n) != CL_SUCCESS || n == 0) return nullptr;
  std::vector<cl_platform_id> platforms(n);
  if (vendor().clGetPlatformIDs(n, platforms.data(), nullptr) != CL_SUCCESS) return nullptr;
  for (cl_platform_id p : platforms)
    if (void* fn = vendor().clGetExtensionFunctionAddressForPlatform(p, name)) return fn;
  return nullptr;
}

// spec_helpers.h, server side: the image's layout from the vendor.
extern "C" int remora_cl_image_layout(cl_mem image, size_t* element_size, cl_mem_object_type* type,
                                      cl_channel_order* order) {
  if (image == nullptr || vendor().clGetImageInfo == nullptr) return -1;
  cl_image_format format{};
  if (vendor().clGetImageInfo(image, CL_IMAGE_FORMAT, sizeof(format), &format, nullptr) != CL_SUCCESS ||
      vendor().clGetImageInfo(image, CL_IMAGE_ELEMENT_SIZE, sizeof(*element_size), element_size,
                              nullptr) != CL_SUCCESS ||
      vendor().clGetMemObjectInfo(image, CL_MEM_TYPE, sizeof(*type), type, nullptr) != CL_SUCCESS)
    return -1;
  *order = format.image_channel_order;
  return 0;
}

// REMORA_SERVER hooks (declared by the generated opencl_server.h; docs/generated-code.md, "Hooks"). Each
// runs after the dispatch checked the handles, the lengths and that the vendor functions it needs
// exist.

// Only coarse-grained buffer SVM is forwarded (server/server_svm.cpp, guest/guest_svm.cpp): fine-grained sharing
// and SVM atomics would need one address space with the application, so no device claims them.
cl_int remora_cl_server_get_device_info(remora::server::Call&, cl_device_id device, cl_device_info param_name,
                                        size_t param_value_size, void* param_value,
                                        size_t* param_value_size_ret) {
  const cl_int err =
      vendor().clGetDeviceInfo(device, param_name, param_value_size, param_value, param_value_size_ret);
  if (err == CL_SUCCESS && param_name == CL_DEVICE_SVM_CAPABILITIES && param_value != nullptr &&
      param_value_size >= sizeof(cl_device_svm_capabilities)) {
    cl_device_svm_capabilities caps;
    std::memcpy(&caps, param_value, sizeof(caps));
    caps &= CL_DEVICE_SVM_COARSE_GRAIN_BUFFER;
    std::memcpy(param_value, &caps, sizeof(caps));
  }
  return err;
}

// A guest sends objects through remora_clSetKernelArgHandle. A non-NULL pointer-sized value for an
// argument that takes an object would be a pointer of the guest's choosing handed to the vendor: refuse.
cl_int remora_cl_server_set_kernel_arg(remora::server::Call&, cl_kernel kernel, cl_uint arg_index, size_t arg_size,
                                       const void* arg_value) {
  if (arg_size == sizeof(void*) && arg_value != nullptr) {
    void* value;
    std::memcpy(&value, arg_value, sizeof(value));
    // clGetKernelArgInfo is OpenCL 1.2: a 1.0/1.1 vendor has none and gives no argument information
    // (see below), so it is optional here rather than REMORA_REQUIRES.
    if (value != nullptr && vendor().clGetKernelArgInfo != nullptr) {
      cl_kernel_arg_address_qualifier address = 0;
      const cl_int aerr = vendor().clGetKernelArgInfo(kernel, arg_index, CL_KERNEL_ARG_ADDRESS_QUALIFIER,
                                                      sizeof(address), &address, nullptr);
      if (aerr == CL_SUCCESS &&
          (address == CL_KERNEL_ARG_ADDRESS_GLOBAL || address == CL_KERNEL_ARG_ADDRESS_CONSTANT))
        return CL_INVALID_MEM_OBJECT;
      char type_name[32] = {};
      if (vendor().clGetKernelArgInfo(kernel, arg_index, CL_KERNEL_ARG_TYPE_NAME, sizeof(type_name) - 1,
                                      type_name, nullptr) == CL_SUCCESS) {
        if (std::strcmp(type_name, "sampler_t") == 0) return CL_INVALID_SAMPLER;
        if (std::strcmp(type_name, "queue_t") == 0) return CL_INVALID_DEVICE_QUEUE;
      }
      // TODO(security): without argument information (CL_KERNEL_ARG_INFO_NOT_AVAILABLE) the value
      // cannot be checked; it is passed on as the guest sent it.
    }
  }
  return vendor().clSetKernelArg(kernel, arg_index, arg_size, arg_value);
}

cl_int remora_cl_server_set_kernel_arg_handle(remora::server::Call&, cl_kernel kernel, cl_uint arg_index, cl_mem mem,
                                              cl_sampler sampler, cl_command_queue queue) {
  const int given = (mem != nullptr) + (sampler != nullptr) + (queue != nullptr);
  if (given != 1) return CL_INVALID_ARG_VALUE;
  if (mem != nullptr) return vendor().clSetKernelArg(kernel, arg_index, sizeof(mem), &mem);
  if (sampler != nullptr) return vendor().clSetKernelArg(kernel, arg_index, sizeof(sampler), &sampler);
  return vendor().clSetKernelArg(kernel, arg_index, sizeof(queue), &queue);
}

// The vendor's clGetExtensionFunctionAddressForPlatform is OpenCL 1.2; without it (or without a
// platform) the extension lookup over every platform answers.
cl_int remora_cl_server_has_extension_function(remora::server::Call&, cl_platform_id platform, const char* func_name) {
  if (func_name == nullptr) return CL_INVALID_VALUE;
  void* fn = platform != nullptr && vendor().clGetExtensionFunctionAddressForPlatform != nullptr
                 ? vendor().clGetExtensionFunctionAddressForPlatform(platform, func_name)
                 : remora_opencl_server_extension_lookup(func_name);
  return fn != nullptr ? CL_SUCCESS : CL_INVALID_VALUE;
}

cl_int remora_cl_server_get_program_binary(remora::server::Call&, cl_program program, cl_uint index, size_t size,
                                           unsigned char* binary) {
  size_t sizes_bytes = 0;
  cl_int err = vendor().clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, 0, nullptr, &sizes_bytes);
  if (err != CL_SUCCESS) return err;
  const size_t n = sizes_bytes / sizeof(size_t);
  if (index >= n) return CL_INVALID_VALUE;
  std::vector<size_t> sizes(n);
  err = vendor().clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, n * sizeof(size_t), sizes.data(), nullptr);
  if (err != CL_SUCCESS) return err;
  if (size < sizes[index]) return CL_INVALID_VALUE;
  // The vendor fills every binary at once; only entry `index` points somewhere.
  std::vector<unsigned char*> binaries(n, nullptr);
  binaries[index] = binary;
  return vendor().clGetProgramInfo(program, CL_PROGRAM_BINARIES, n * sizeof(unsigned char*),
                                   binaries.data(), nullptr);
}
