// Server side of shared host regions (cuda.spec.c remora_cuHostRegion*, remora_cuMemcpy*Region): the
// server creates each region (transport/shared_region.h), registers it with the driver so copies
// from and to it are the driver's own DMA, and passes it to the guest over the session's region link.
// Copies name a region and a range in it; the range is checked against the region's size here, and
// the bytes are never interpreted (the guest may change them at any time, as natively).
#include <dlfcn.h>

#include <memory>

#include "common/log.h"
#include "cuda_server.h"  // generated
#include "spec_helpers.h"
#include "server_glue.h"
#include "transport/shared_region.h"

// What a region handle points at on the server.
struct remora_cu_host_region_st {
  std::unique_ptr<remora::transport::SharedRegion> mapping;
};

namespace {

using remora::cuda::vendor;

// Driver entry points remora does not forward (the spec refuses cuMemHostRegister to guests), from
// the library the vendor table was loaded from.
struct HostRegisterFns {
  decltype(&::cuMemHostRegister_v2) reg = nullptr;
  decltype(&::cuMemHostUnregister) unreg = nullptr;
};

const HostRegisterFns& host_register_fns() {
  // Resolved once per process, like the vendor table itself.
  static const HostRegisterFns fns = [] {
    HostRegisterFns f;
    Dl_info info{};
    if (vendor().cuInit == nullptr || ::dladdr(reinterpret_cast<void*>(vendor().cuInit), &info) == 0 ||
        info.dli_fname == nullptr)
      return f;
    void* lib = ::dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    if (lib == nullptr) return f;
    f.reg = reinterpret_cast<decltype(f.reg)>(::dlsym(lib, "cuMemHostRegister_v2"));
    f.unreg = reinterpret_cast<decltype(f.unreg)>(::dlsym(lib, "cuMemHostUnregister"));
    ::dlclose(lib);  // NOLOAD: only dropped the reference this took; the vendor table holds its own
    return f;
  }();
  return fns;
}

// Whether [offset, offset + bytes) lies in the region. Compares sizes, never pointers.
bool in_region(const remora_cu_host_region_st* region, uint64_t offset, size_t bytes) {
  const uint64_t size = region->mapping->size();
  return offset <= size && bytes <= size - offset;
}

// A region copy in `mode` (REMORA_CU_COPY_*, cuda_host_region.h): `sync` is its synchronous form,
// `async` queues it on `stream`.
template <typename Sync, typename Async>
CUresult copy_in_mode(unsigned int mode, CUstream stream, Sync sync, Async async) {
  switch (mode) {
    case REMORA_CU_COPY_SYNC:
      return sync();
    case REMORA_CU_COPY_ASYNC:
      return async();
    case REMORA_CU_COPY_ASYNC_WAIT: {
      const CUresult r = async();
      return r != CUDA_SUCCESS ? r : vendor().cuStreamSynchronize(stream);
    }
    case REMORA_CU_COPY_WAIT_ASYNC: {
      const CUresult r = vendor().cuStreamSynchronize(stream);
      return r != CUDA_SUCCESS ? r : async();
    }
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
}

}  // namespace

CUresult remora_cu_server_host_region_create(remora::server::Call& c, remora_cu_host_region* region, size_t bytes) {
  remora::transport::RegionLink* link = c.session.regions();
  const HostRegisterFns& fns = host_register_fns();
  if (link == nullptr || fns.reg == nullptr || fns.unreg == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (region == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (bytes > remora::transport::kMaxSharedRegionBytes) return CUDA_ERROR_OUT_OF_MEMORY;
  // TODO(security): page-locked host memory is not charged to the tenant's quota yet; a region is at
  // most kMaxSharedRegionBytes, and the driver refuses what the host cannot pin.
  remora::transport::Fd fd;
  std::unique_ptr<remora::transport::SharedRegion> mapping;
  if (remora::Status st = remora::transport::create_shared_region(bytes, &fd, &mapping); !st.ok()) {
    remora::log::warn("cannot create a shared host region of {} bytes: {}", bytes, st.message());
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  // Portable: the region serves every context of the session (staging is shared by all of them).
  const CUresult r = fns.reg(mapping->base(), mapping->size(), CU_MEMHOSTREGISTER_PORTABLE);
  if (r != CUDA_SUCCESS) return r;
  // The descriptor goes before the reply: the guest receives it once the call returned success.
  if (remora::Status st = link->send_region(fd.get(), mapping->size()); !st.ok()) {
    (void)fns.unreg(mapping->base());
    return CUDA_ERROR_OPERATING_SYSTEM;
  }
  *region = new remora_cu_host_region_st{std::move(mapping)};
  return CUDA_SUCCESS;
}

CUresult remora_cu_server_host_region_destroy(remora::server::Call& c, remora_cu_host_region region) {
  if (region == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // The handle goes first, so no later call can name the region while it is being torn down.
  const uint64_t id = c.session.handles().id_for(region, remora::cuda::kType_remora_cu_host_region);
  if (!c.session.release_handle(id)) return CUDA_ERROR_INVALID_VALUE;
  const HostRegisterFns& fns = host_register_fns();
  if (fns.unreg != nullptr) (void)fns.unreg(region->mapping->base());
  delete region;
  return CUDA_SUCCESS;
}

CUresult remora_cu_server_memcpy_htod_region(remora::server::Call&, CUdeviceptr dst, remora_cu_host_region region, uint64_t offset,
                                             size_t bytes, CUstream stream, unsigned int mode) {
  if (region == nullptr || !in_region(region, offset, bytes)) return CUDA_ERROR_INVALID_VALUE;
  const uint8_t* src = region->mapping->base() + offset;
  return copy_in_mode(
      mode, stream, [&] { return vendor().cuMemcpyHtoD_v2(dst, src, bytes); },
      [&] { return vendor().cuMemcpyHtoDAsync_v2(dst, src, bytes, stream); });
}

CUresult remora_cu_server_memcpy_dtoh_region(remora::server::Call&, remora_cu_host_region region, uint64_t offset, CUdeviceptr src,
                                             size_t bytes, CUstream stream, unsigned int mode) {
  if (region == nullptr || !in_region(region, offset, bytes)) return CUDA_ERROR_INVALID_VALUE;
  uint8_t* dst = region->mapping->base() + offset;
  return copy_in_mode(
      mode, stream, [&] { return vendor().cuMemcpyDtoH_v2(dst, src, bytes); },
      [&] { return vendor().cuMemcpyDtoHAsync_v2(dst, src, bytes, stream); });
}

