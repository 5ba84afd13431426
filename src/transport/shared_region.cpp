#include "transport/shared_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

namespace remora::transport {

namespace {

constexpr uint64_t kPageBytes = 4096;
constexpr uint64_t kRegionMagic = 0x4e4f494745524d52;  // "RMREGION"

// What travels with a region's descriptor.
struct RegionOffer {
  uint64_t magic;
  uint64_t bytes;
};

class SocketRegionLink final : public RegionLink {
 public:
  SocketRegionLink(int sock, std::shared_ptr<void> keep) : sock_(sock), keep_(std::move(keep)) {}

  Status send_region(int fd, uint64_t bytes) override {
    const RegionOffer offer{kRegionMagic, bytes};
    std::lock_guard lock(mu_);
    return send_fd(sock_, fd, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&offer), sizeof offer));
  }

  Status receive_region(Fd* fd, uint64_t* bytes, Deadline deadline) override {
    RegionOffer offer{};
    std::lock_guard lock(mu_);
    Status st = recv_fd(sock_, fd, std::span<uint8_t>(reinterpret_cast<uint8_t*>(&offer), sizeof offer), deadline);
    if (!st.ok()) return st;
    if (offer.magic != kRegionMagic) return Status(Code::kMalformed, "region offer has a bad magic");
    *bytes = offer.bytes;
    return Status::Ok();
  }

 private:
  int sock_;
  std::shared_ptr<void> keep_;
  std::mutex mu_;
};

}  // namespace

SharedRegion::~SharedRegion() {
  if (base_ != nullptr) ::munmap(base_, bytes_);
}

Status create_shared_region(uint64_t bytes, Fd* fd, std::unique_ptr<SharedRegion>* out) {
  if (bytes == 0 || bytes > kMaxSharedRegionBytes) return Status(Code::kInvalid, "shared region size out of range");
  bytes = (bytes + kPageBytes - 1) / kPageBytes * kPageBytes;
  Fd memfd(::memfd_create("remora-region", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!memfd.valid()) return io_error("memfd_create", errno);
  if (::ftruncate(memfd.get(), static_cast<off_t>(bytes)) != 0) return io_error("ftruncate region", errno);
  // Sealed: the guest holds the descriptor too, and shrinking it would make the server's (and the
  // device's) accesses fault.
  if (::fcntl(memfd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
    return io_error("seal region", errno);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
  if (p == MAP_FAILED) return io_error("mmap region", errno);
  *out = std::make_unique<SharedRegion>(static_cast<uint8_t*>(p), bytes);
  *fd = std::move(memfd);
  return Status::Ok();
}

Status map_shared_region(const Fd& fd, uint64_t bytes, std::unique_ptr<SharedRegion>* out, Populate populate) {
  if (bytes == 0 || bytes > kMaxSharedRegionBytes || bytes % kPageBytes != 0)
    return Status(Code::kMalformed, "shared region size out of range");
  struct stat sb {};
  if (::fstat(fd.get(), &sb) != 0) return io_error("fstat region", errno);
  if (static_cast<uint64_t>(sb.st_size) != bytes)
    return Status(Code::kMalformed, "shared region is " + std::to_string(sb.st_size) + " bytes, offer says " +
                                        std::to_string(bytes));
  const int seals = ::fcntl(fd.get(), F_GET_SEALS);
  if (seals < 0 || !(seals & F_SEAL_SHRINK)) return Status(Code::kMalformed, "shared region is not sealed");
  // kPopulate: the server touched (and pinned) every page already, so this only fills our page tables,
  // in one go rather than one fault per page during the first copies.
  const int populate_flag = populate == Populate::kPopulate ? MAP_POPULATE : 0;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | populate_flag, fd.get(), 0);
  if (p == MAP_FAILED) return io_error("mmap region", errno);
  *out = std::make_unique<SharedRegion>(static_cast<uint8_t*>(p), bytes);
  return Status::Ok();
}

std::shared_ptr<RegionLink> make_socket_region_link(int sock, std::shared_ptr<void> keep) {
  return std::make_shared<SocketRegionLink>(sock, std::move(keep));
}

}  // namespace remora::transport
