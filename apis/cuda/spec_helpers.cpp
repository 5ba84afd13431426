// The helpers of spec_helpers.h: pure functions over the application's own data.
#include "spec_helpers.h"

#include <algorithm>
#include <cstring>

namespace {

template <typename T>
T read_at(const uint8_t* p, size_t off) {
  T v;
  std::memcpy(&v, p + off, sizeof v);
  return v;
}

// a + b, or SIZE_MAX when it overflows (larger than any cap, so the call is refused).
size_t add_sat(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }
size_t mul_sat(size_t a, size_t b) { return b != 0 && a > SIZE_MAX / b ? SIZE_MAX : a * b; }

constexpr uint32_t kFatbinMagic = 0xBA55ED50;
constexpr uint32_t kSectionNoBits = 8;  // SHT_NOBITS: occupies no bytes in the file

size_t elf64_bytes(const uint8_t* p) {
  // Offsets of the ELF64 header fields (System V gABI).
  const uint64_t phoff = read_at<uint64_t>(p, 0x20), shoff = read_at<uint64_t>(p, 0x28);
  const uint16_t phentsize = read_at<uint16_t>(p, 0x36), phnum = read_at<uint16_t>(p, 0x38);
  const uint16_t shentsize = read_at<uint16_t>(p, 0x3A), shnum = read_at<uint16_t>(p, 0x3C);
  size_t end = 64;  // the ELF64 header itself
  end = std::max(end, add_sat(phoff, mul_sat(phnum, phentsize)));
  end = std::max(end, add_sat(shoff, mul_sat(shnum, shentsize)));
  if (end == SIZE_MAX) return end;
  // Sections and segments may lie after the header tables.
  if (shentsize >= 0x28)
    for (uint16_t i = 0; i < shnum; ++i) {
      const uint8_t* sh = p + shoff + size_t{i} * shentsize;
      if (read_at<uint32_t>(sh, 0x04) == kSectionNoBits) continue;
      end = std::max(end, add_sat(read_at<uint64_t>(sh, 0x18), read_at<uint64_t>(sh, 0x20)));
    }
  if (phentsize >= 0x28)
    for (uint16_t i = 0; i < phnum; ++i) {
      const uint8_t* ph = p + phoff + size_t{i} * phentsize;
      end = std::max(end, add_sat(read_at<uint64_t>(ph, 0x08), read_at<uint64_t>(ph, 0x20)));
    }
  return end;
}

}  // namespace

extern "C" size_t remora_cu_count_in(const size_t* n) { return n != nullptr ? *n : 0; }

size_t remora_cu_mempool_attribute_bytes(CUmemPool_attribute attr) {
  switch (attr) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
      return sizeof(int);
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
    case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
    case CU_MEMPOOL_ATTR_USED_MEM_CURRENT:
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
      return sizeof(cuuint64_t);
    default:
      return 0;
  }
}

// cuda.h is C89-compatible: its "boolean" attributes are written as unsigned int.
size_t remora_cu_pointer_attribute_bytes(CUpointer_attribute attr) {
  switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: return sizeof(CUcontext);
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: return sizeof(unsigned int);
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: return sizeof(CUdeviceptr);
    case CU_POINTER_ATTRIBUTE_HOST_POINTER: return sizeof(void*);
    case CU_POINTER_ATTRIBUTE_P2P_TOKENS: return sizeof(CUDA_POINTER_ATTRIBUTE_P2P_TOKENS);
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: return sizeof(unsigned int);
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: return sizeof(unsigned long long);
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: return sizeof(unsigned int);
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: return sizeof(int);
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: return sizeof(unsigned int);
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: return sizeof(CUdeviceptr);
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: return sizeof(size_t);
    case CU_POINTER_ATTRIBUTE_MAPPED: return sizeof(unsigned int);
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES: return sizeof(unsigned long long);
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE: return sizeof(unsigned int);
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS: return sizeof(unsigned int);
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: return sizeof(CUmemoryPool);
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE: return sizeof(size_t);
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR: return sizeof(void*);
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID: return sizeof(unsigned long long);
    case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE: return sizeof(unsigned int);
    default: return 0;
  }
}

size_t remora_cu_nonnegative(int len) { return len < 0 ? 0 : static_cast<size_t>(len); }

extern "C" size_t remora_cu_module_image_bytes(const void* image) {
  if (image == nullptr) return 0;
  const auto* p = static_cast<const uint8_t*>(image);
  // Fatbin: u32 magic, u16 version, u16 header size, u64 size of what follows the header.
  if (read_at<uint32_t>(p, 0) == kFatbinMagic)
    return add_sat(read_at<uint16_t>(p, 6), read_at<uint64_t>(p, 8));
  // Cubin: a 64-bit ELF file (CUDA emits no other class).
  if (p[0] == 0x7f && p[1] == 'E' && p[2] == 'L' && p[3] == 'F') return p[4] == 2 ? elf64_bytes(p) : SIZE_MAX;
  // PTX: NUL-terminated text.
  return std::strlen(static_cast<const char*>(image)) + 1;
}

extern "C" int remora_cu_pack_params(const uint64_t* layout, unsigned int count, void* const* kernel_params,
                                     uint8_t* out, size_t* size) {
  size_t end = 0;
  for (unsigned int i = 0; i < count; ++i) {
    const size_t offset = layout[i] >> 32, bytes = layout[i] & 0xffffffffu;
    // The driver lays parameters out in order: one starting before the previous one ends is not a layout.
    if (offset < end || offset + bytes > REMORA_CU_MAX_PARAM_BYTES) return -1;
    if (kernel_params == nullptr || kernel_params[i] == nullptr) return -1;
    std::memset(out + end, 0, offset - end);  // padding between parameters
    std::memcpy(out + offset, kernel_params[i], bytes);
    end = offset + bytes;
  }
  *size = end;
  return 0;
}

extern "C" int remora_cu_jit_option_is_pointer(CUjit_option option) {
  switch (option) {
    case CU_JIT_WALL_TIME:
    case CU_JIT_INFO_LOG_BUFFER:
    case CU_JIT_ERROR_LOG_BUFFER:
    case CU_JIT_GLOBAL_SYMBOL_NAMES:
    case CU_JIT_GLOBAL_SYMBOL_ADDRESSES:
    case CU_JIT_REFERENCED_KERNEL_NAMES:
    case CU_JIT_REFERENCED_VARIABLE_NAMES:
      return 1;
    default:
      return 0;
  }
}
