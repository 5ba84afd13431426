// Modules and libraries from images in the application's memory (what the CUDA runtimes register: a
// fatbin per translation unit, loaded through cuLibraryLoadData or the runtime interface's
// get_module_from_cubin), and the names of functions and kernels.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "guest_glue.h"
#include "spec_helpers.h"

namespace remora::cuda::guest_glue {

CUresult load_module_image(CUmodule* module, const void* image) {
  // TODO(perf): content-hash the image and send it once per server (issue 13, "Large modules").
  return remora_remote_cuModuleLoadData(module, image);
}

namespace {

// Option values are integers in pointer-sized slots; one that points at the application's memory (a
// JIT log buffer) is refused, as for cuModuleLoadDataEx.
CUresult option_values(unsigned int n, const CUjit_option* options, void* const* values, std::vector<uint64_t>* out) {
  if (n > 0 && (options == nullptr || values == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  out->resize(n);
  for (unsigned int i = 0; i < n; ++i) {
    if (remora_cu_jit_option_is_pointer(options[i])) return CUDA_ERROR_NOT_SUPPORTED;
    (*out)[i] = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(values[i]));
  }
  return CUDA_SUCCESS;
}

// Strings the driver's name queries hand out: kept for the process's life, one copy per text.
const char* intern(std::string text) {
  static std::mutex mu;
  static std::unordered_set<std::string> names;
  std::lock_guard<std::mutex> lock(mu);
  return names.insert(std::move(text)).first->c_str();
}

CUresult name_of(CUfunction f, int which, const char** name) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<char> text(256);
  size_t length = 0;
  CUresult r = remora_remote_remora_cuGetNameText(f, which, text.data(), text.size(), &length);
  if (r == CUDA_SUCCESS && length > text.size()) {  // a long (mangled C++) name: ask again with room
    text.resize(length);
    r = remora_remote_remora_cuGetNameText(f, which, text.data(), text.size(), &length);
  }
  if (r != CUDA_SUCCESS) return r;
  text.back() = '\0';
  *name = intern(text.data());
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace remora::cuda::guest_glue

using namespace remora::cuda::guest_glue;

extern "C" {

CUresult remora_cu_library_load_data(CUlibrary* library, const void* code, CUjit_option* jit_options,
                                     void** jit_values, unsigned int num_jit, CUlibraryOption* library_options,
                                     void** library_values, unsigned int num_library) {
  std::vector<uint64_t> jit, lib;
  if (CUresult r = option_values(num_jit, jit_options, jit_values, &jit); r != CUDA_SUCCESS) return r;
  if (num_library > 0 && (library_options == nullptr || library_values == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  lib.resize(num_library);
  for (unsigned int i = 0; i < num_library; ++i) lib[i] = reinterpret_cast<uintptr_t>(library_values[i]);
  // TODO(perf): content-hash the image and send it once per server; load lazily (issue 13).
  return remora_remote_remora_cuLibraryLoadData(library, code, jit_options, jit.data(), num_jit, library_options,
                                                lib.data(), num_library);
}

CUresult remora_cu_library_load_from_file(CUlibrary* library, const char* file_name, CUjit_option* jit_options,
                                          void** jit_values, unsigned int num_jit, CUlibraryOption* library_options,
                                          void** library_values, unsigned int num_library) {
  if (library == nullptr || file_name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::ifstream in(file_name, std::ios::binary);
  if (!in) return CUDA_ERROR_FILE_NOT_FOUND;
  std::vector<char> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  image.push_back('\0');  // a PTX file is text: its size is up to its NUL
  return remora_cu_library_load_data(library, image.data(), jit_options, jit_values, num_jit, library_options,
                                     library_values, num_library);
}

CUresult remora_cu_kernel_get_name(const char** name, CUkernel kernel) {
  return name_of(reinterpret_cast<CUfunction>(kernel), 1, name);
}

CUresult remora_cu_func_get_name(const char** name, CUfunction f) { return name_of(f, 0, name); }

}  // extern "C"
