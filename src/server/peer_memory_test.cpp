#include "server/peer_memory.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

namespace remora::server {
namespace {

uint64_t addr(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

// The test process is its own peer: process_vm_* on oneself needs no extra permission.
TEST(PeerMemory, ReadsAndWritesTheNamedRange) {
  PeerMemory peer(::getpid());
  ASSERT_TRUE(peer.available());
  EXPECT_TRUE(peer.usable_for(::getpid()));
  EXPECT_FALSE(peer.usable_for(::getpid() + 1));

  std::vector<uint8_t> guest(3 << 20), server(3 << 20, 0);
  for (size_t i = 0; i < guest.size(); ++i) guest[i] = static_cast<uint8_t>(i * 7);
  EXPECT_EQ(peer.read(addr(guest.data()), server.data(), server.size()), PeerMemory::Result::kDone);
  EXPECT_EQ(server, guest);

  std::memset(server.data(), 0x5a, 4096);
  EXPECT_EQ(peer.write(addr(guest.data() + 100), server.data(), 4096), PeerMemory::Result::kDone);
  EXPECT_EQ(guest[99], static_cast<uint8_t>(99 * 7));
  EXPECT_EQ(guest[100], 0x5a);
  EXPECT_EQ(guest[4195], 0x5a);
  EXPECT_EQ(guest[4196], static_cast<uint8_t>(4196 * 7));
}

TEST(PeerMemory, UnmappedGuestMemoryIsAFaultForThatCallOnly) {
  PeerMemory peer(::getpid());
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  // Two pages, the second unmapped: a range across both fails part way.
  auto* p = static_cast<uint8_t*>(::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_EQ(::munmap(p + page, page), 0);
  std::vector<uint8_t> local(2 * page);
  EXPECT_EQ(peer.read(addr(p), local.data(), local.size()), PeerMemory::Result::kFault);
  EXPECT_EQ(peer.write(addr(p), local.data(), local.size()), PeerMemory::Result::kFault);
  EXPECT_EQ(peer.read(0, local.data(), 16), PeerMemory::Result::kFault);
  EXPECT_EQ(peer.read(UINT64_MAX - 4, local.data(), 16), PeerMemory::Result::kFault);
  EXPECT_TRUE(peer.available());
  EXPECT_EQ(peer.read(addr(p), local.data(), page), PeerMemory::Result::kDone);
  ::munmap(p, page);
}

TEST(PeerMemory, NoPidMeansUnavailable) {
  PeerMemory peer(0);
  EXPECT_FALSE(peer.available());
  EXPECT_FALSE(peer.usable_for(0));
  uint8_t a = 1, b = 0;
  EXPECT_EQ(peer.read(addr(&a), &b, 1), PeerMemory::Result::kUnavailable);
}

TEST(PeerMemory, AGuestThatExitedIsNeverTouchedAgain) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  PeerMemory peer(child);
  ASSERT_TRUE(peer.available());
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  uint8_t local[16] = {};
  // The child's address space is gone; whatever process gets the pid next is not the guest.
  EXPECT_EQ(peer.read(addr(local), local, sizeof local), PeerMemory::Result::kUnavailable);
  EXPECT_FALSE(peer.available());
}

}  // namespace
}  // namespace remora::server
