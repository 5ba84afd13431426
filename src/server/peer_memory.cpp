#include "server/peer_memory.h"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace remora::server {

namespace {

// One system call moves at most this much (the kernel caps a transfer below 2 GiB anyway).
constexpr size_t kMaxPerCall = size_t{1} << 30;

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

}  // namespace

PeerMemory::PeerMemory(pid_t pid) : pid_(pid), available_(pid > 0) {
  if (pid_ <= 0) return;
  // Without a pidfd a recycled pid could not be told from the guest: no direct access then.
  pidfd_ = open_pidfd(pid_);
  if (pidfd_ < 0) {
    log::info("direct transfers off: pidfd_open({}): {}", pid_, std::strerror(errno));
    available_ = false;
  }
}

PeerMemory::~PeerMemory() {
  if (pidfd_ >= 0) ::close(pidfd_);
}

bool PeerMemory::peer_alive() const {
  // A pidfd becomes readable when its process has exited.
  pollfd p{pidfd_, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

PeerMemory::Result PeerMemory::read(uint64_t address, void* local, size_t size) {
  return transfer(address, local, size, /*to_guest=*/false);
}

PeerMemory::Result PeerMemory::write(uint64_t address, const void* local, size_t size) {
  return transfer(address, const_cast<void*>(local), size, /*to_guest=*/true);
}

PeerMemory::Result PeerMemory::transfer(uint64_t address, void* local, size_t size, bool to_guest) {
  if (!available()) return Result::kUnavailable;
  if (address > UINT64_MAX - size || address > UINTPTR_MAX - size) return Result::kFault;
  if (!peer_alive()) {
    available_ = false;
    return Result::kUnavailable;
  }
  auto* here = static_cast<uint8_t*>(local);
  size_t done = 0;
  while (done < size) {
    const size_t n = std::min(size - done, kMaxPerCall);
    iovec l{here + done, n};
    iovec r{reinterpret_cast<void*>(static_cast<uintptr_t>(address + done)), n};
    const ssize_t got = to_guest ? ::process_vm_writev(pid_, &l, 1, &r, 1, 0) : ::process_vm_readv(pid_, &l, 1, &r, 1, 0);
    if (got > 0) {
      done += static_cast<size_t>(got);
      continue;
    }
    if (got == 0) return Result::kFault;  // nothing movable at the guest's address
    if (errno == EINTR) continue;
    if (errno == EFAULT || errno == ENOMEM || errno == EINVAL) return Result::kFault;
    // EPERM (another uid, Yama), ESRCH (gone), ENOSYS (kernel without it, seccomp): for good.
    log::info("direct transfers off for guest pid {}: {}: {}", pid_,
              to_guest ? "process_vm_writev" : "process_vm_readv", std::strerror(errno));
    available_ = false;
    return Result::kUnavailable;
  }
  // The pid could have been recycled during the copy only if the guest exited meanwhile; a read from
  // such a process ends up only in this session's buffer, and a write is what the check before it
  // could not exclude in the window of one system call (see the header).
  return Result::kDone;
}

}  // namespace remora::server
