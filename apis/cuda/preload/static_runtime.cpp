// libremora-cuda-preload.so: makes programs linked with nvcc's default static cudart use remora's
// runtime API.
//
// A static cudart lives inside the executable and reaches the driver through libcuda.so.1, but it
// first checks the driver's private export tables with a challenge-response that no stand-in libcuda
// can answer (docs/cuda-export-tables.md), so through remora such a program fails at its first call.
// The runtime API itself is public, though, and remora's guest library implements it (the same code a
// -cudart shared program gets as libcudart.so.13). `remora run` preloads this library; before the
// program's own constructors run (nvcc's kernel registration is one), it looks in the executable's
// symbol table for cudart's entry points and, when it finds them, points each at remora's: the entry
// gets a 5-byte relative jump to a trampoline page placed within reach, which jumps on to the guest
// library's function of the same name. The executable on disk is untouched; only this process's
// private copy of its code pages changes.
//
// Which function goes where:
//  - a name the guest library exports (its runtime API with the per-thread-default-stream variants it
//    implements, and the refusals it exports for every other runtime function returning
//    cudaError_t): that function;
//  - another per-thread-default-stream variant (_ptsz, _ptds) of such a name: a refusal answering
//    cudaErrorNotSupported, as the plain function's does;
//  - one of nvcc's registration entry points remora does not implement (kUnimplementedEntryPoints):
//    a stop with a message naming it; these run from constructors, where an error code would be
//    ignored and the program would go on with wrong results;
//  - anything else keeps cudart's own code (a helper that needs no driver still works; one that does
//    gets remora's libcuda.so.1 and the export-table refusal, an error, as before).
// Programs without a static cudart, and stripped executables (no symbol table: a warning when the
// program carries CUDA kernels), are left alone; so are shared libraries that embed a static cudart.
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace {

// cudaErrorNotSupported (driver_types.h); this library includes no CUDA header.
constexpr int kCudaErrorNotSupported = 801;

// nvcc's host code calls these (crt/host_runtime.h and the launch stubs); the guest library implements
// the others (__cudaRegisterFatBinary, __cudaRegisterFunction, __cudaRegisterVar, __cudaGetKernel,
// __cudaLaunchKernel, ...).
constexpr std::string_view kUnimplementedEntryPoints[] = {
    "__cudaRegisterManagedVar",   // managed memory
    "__cudaRegisterTexture",      // texture and surface references
    "__cudaRegisterSurface",
    "__cudaRegisterHostVar",
    "__cudaRegisterUnifiedTable",
};

// ---- Messages: remora's log format (src/common/log.h), without its dependencies -----------------------

int log_level() {  // 0 error, 1 warn, 2 info, 3 debug
  const char* v = std::getenv("REMORA_LOG");
  if (v == nullptr) return 1;
  if (std::strcmp(v, "error") == 0) return 0;
  if (std::strcmp(v, "info") == 0) return 2;
  if (std::strcmp(v, "debug") == 0) return 3;
  return 1;
}

__attribute__((format(printf, 2, 3))) void say(int level, const char* format, ...) {
  static const int enabled = log_level();
  if (level > enabled) return;
  static const char* const names[] = {"error", "warn", "info", "debug"};
  char line[1024];
  int n = std::snprintf(line, sizeof line, "remora[guest %d] %s: ", static_cast<int>(getpid()), names[level]);
  va_list args;
  va_start(args, format);
  n += std::vsnprintf(line + n, sizeof line - static_cast<size_t>(n), format, args);
  va_end(args);
  if (n > static_cast<int>(sizeof line) - 2) n = static_cast<int>(sizeof line) - 2;
  line[n++] = '\n';
  ssize_t ignored = ::write(STDERR_FILENO, line, static_cast<size_t>(n));  // one write: lines stay whole
  (void)ignored;
}

// ---- What the trampolines lead to -----------------------------------------------------------------------

// A refused function: the trampoline passes the function's name in the first argument register (the
// arguments themselves are never read) and returns what this returns.
extern "C" int remora_static_cudart_refuse(const char* name) {
  static std::mutex mu;
  static std::vector<const char*> told;  // names live as long as the process (the symbol names)
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const char* t : told)
      if (t == name) return kCudaErrorNotSupported;
    told.push_back(name);
  }
  say(1, "%s is not implemented by remora (answers cudaErrorNotSupported)", name);
  return kCudaErrorNotSupported;
}

extern "C" [[noreturn]] void remora_static_cudart_stop(const char* name) {
  say(0, "this program calls %s, which remora does not implement (see the README's CUDA coverage); stopping",
      name);
  std::abort();
}

// ---- The executable's symbols -----------------------------------------------------------------------

struct Entry {
  const char* name;  // kept for the life of the process: trampolines pass it to the refusals
  uintptr_t address;  // in this process
  uint64_t size;
  const unsigned char* file_bytes;  // the function's first bytes in the file, to check what is patched
};

// A read-only mapping of the executable file.
class MappedFile {
 public:
  explicit MappedFile(const char* path) {
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > static_cast<off_t>(sizeof(Elf64_Ehdr))) {
      void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) data_ = static_cast<const unsigned char*>(p), size_ = static_cast<size_t>(st.st_size);
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // `count` objects of T at `offset`, or nullptr when they do not lie inside the file.
  template <typename T>
  const T* at(uint64_t offset, uint64_t count = 1) const {
    if (data_ == nullptr || offset > size_ || count > (size_ - offset) / sizeof(T)) return nullptr;
    return reinterpret_cast<const T*>(data_ + offset);
  }

 private:
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

bool is_runtime_name(const char* name) {
  return std::strncmp(name, "cuda", 4) == 0 || std::strncmp(name, "__cuda", 6) == 0;
}

struct Scan {
  std::vector<Entry> entries;  // defined functions named cuda* / __cuda*
  bool has_symtab = false;
  bool has_kernels = false;  // a .nv_fatbin section: the program carries CUDA device code
};

// The executable's defined cuda* / __cuda* functions, from its (static) symbol table. `bias` is the
// difference between run-time and link-time addresses (0 for a non-PIE executable).
Scan scan_executable(const MappedFile& file, uintptr_t bias) {
  Scan scan;
  const auto* eh = file.at<Elf64_Ehdr>(0);
  if (eh == nullptr || std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_shentsize != sizeof(Elf64_Shdr))
    return scan;
  const auto* sections = file.at<Elf64_Shdr>(eh->e_shoff, eh->e_shnum);
  if (sections == nullptr || eh->e_shstrndx >= eh->e_shnum) return scan;
  const Elf64_Shdr& names = sections[eh->e_shstrndx];
  for (unsigned i = 0; i < eh->e_shnum; ++i) {
    const char* n = file.at<char>(names.sh_offset + sections[i].sh_name);
    if (n != nullptr && sections[i].sh_name < names.sh_size && std::strncmp(n, ".nv_fatbin", 11) == 0)
      scan.has_kernels = true;
  }
  for (unsigned i = 0; i < eh->e_shnum; ++i) {
    const Elf64_Shdr& sh = sections[i];
    if (sh.sh_type != SHT_SYMTAB || sh.sh_entsize != sizeof(Elf64_Sym) || sh.sh_link >= eh->e_shnum) continue;
    scan.has_symtab = true;
    const Elf64_Shdr& strtab = sections[sh.sh_link];
    const auto* syms = file.at<Elf64_Sym>(sh.sh_offset, sh.sh_size / sizeof(Elf64_Sym));
    if (syms == nullptr) continue;
    for (uint64_t k = 0; k < sh.sh_size / sizeof(Elf64_Sym); ++k) {
      const Elf64_Sym& s = syms[k];
      if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_shndx == SHN_UNDEF || s.st_shndx >= eh->e_shnum ||
          s.st_value == 0 || s.st_name >= strtab.sh_size)
        continue;
      const char* name = file.at<char>(strtab.sh_offset + s.st_name);
      if (name == nullptr || !is_runtime_name(name)) continue;
      // The function's bytes in the file: its section's file offset plus its place in the section.
      const Elf64_Shdr& code = sections[s.st_shndx];
      if (code.sh_type != SHT_PROGBITS || s.st_value < code.sh_addr || s.st_value - code.sh_addr >= code.sh_size)
        continue;
      const auto* bytes = file.at<unsigned char>(code.sh_offset + (s.st_value - code.sh_addr), 16);
      if (bytes == nullptr) continue;
      scan.entries.push_back(Entry{strdup(name), bias + s.st_value, s.st_size, bytes});
    }
  }
  return scan;
}

// ---- Patching ---------------------------------------------------------------------------------------

// The main program's load bias and the extent of its loaded segments.
struct Program {
  uintptr_t bias = 0;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  std::vector<std::pair<uintptr_t, uintptr_t>> code;  // executable segments [begin, end)
};

Program find_program() {
  Program p;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        auto* prog = static_cast<Program*>(out);
        prog->bias = info->dlpi_addr;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD) continue;
          uintptr_t begin = info->dlpi_addr + ph.p_vaddr, end = begin + ph.p_memsz;
          prog->lo = std::min(prog->lo, begin);
          prog->hi = std::max(prog->hi, end);
          if ((ph.p_flags & PF_X) != 0) prog->code.emplace_back(begin, end);
        }
        return 1;  // the first object is the main program
      },
      &p);
  return p;
}

bool in_code(const Program& p, uintptr_t address, uint64_t size) {
  for (auto [begin, end] : p.code)
    if (address >= begin && address + size <= end) return true;
  return false;
}

constexpr size_t kSlot = 32;  // bytes per trampoline

// Maps `bytes` within +-2 GiB of the program's code, so a 5-byte relative jump reaches it.
unsigned char* map_near(const Program& p, size_t bytes) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  constexpr uintptr_t kStep = uintptr_t{1} << 21, kReach = uintptr_t{1} << 30;
  for (uintptr_t d = kStep; d < kReach; d += kStep) {
    for (uintptr_t hint : {(p.hi + d) & ~(page - 1), p.lo > d + bytes ? (p.lo - d - bytes) & ~(page - 1) : 0}) {
      if (hint == 0) continue;
      void* m = ::mmap(reinterpret_cast<void*>(hint), bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
      if (m == MAP_FAILED) continue;
      if (m == reinterpret_cast<void*>(hint)) return static_cast<unsigned char*>(m);
      ::munmap(m, bytes);  // a kernel without MAP_FIXED_NOREPLACE took it as a hint only
    }
  }
  return nullptr;
}

// jmp *0(%rip) followed by the target's address.
void write_jump(unsigned char* at, const void* target) {
  static const unsigned char kJmp[] = {0xFF, 0x25, 0, 0, 0, 0};
  std::memcpy(at, kJmp, sizeof kJmp);
  std::memcpy(at + sizeof kJmp, &target, sizeof target);
}

// mov $name, %rdi; then a jump to `fn(name)`.
void write_call_with_name(unsigned char* at, const char* name, const void* fn) {
  at[0] = 0x48, at[1] = 0xBF;
  std::memcpy(at + 2, &name, sizeof name);
  write_jump(at + 10, fn);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

enum class Action { kKeep, kRedirect, kRefuse, kStop };

struct Plan {
  const Entry* entry;
  Action action;
  void* target;  // kRedirect: the guest library's function
};

Plan plan_for(const Entry& e, void* guest) {
  if (void* fn = dlsym(guest, e.name)) return Plan{&e, Action::kRedirect, fn};
  const std::string_view name = e.name;
  for (std::string_view stop : kUnimplementedEntryPoints)
    if (name == stop) return Plan{&e, Action::kStop, nullptr};
  for (std::string_view suffix : {"_ptsz", "_ptds"}) {
    if (ends_with(name, suffix) &&
        dlsym(guest, std::string(name.substr(0, name.size() - suffix.size())).c_str()) != nullptr)
      return Plan{&e, Action::kRefuse, nullptr};
  }
  return Plan{&e, Action::kKeep, nullptr};
}

// Where the jump goes in the function: after an endbr64, kept so the entry stays a valid indirect
// branch target under CET.
size_t patch_offset(const Entry& e) {
  static const unsigned char kEndbr64[] = {0xF3, 0x0F, 0x1E, 0xFA};
  return std::memcmp(e.file_bytes, kEndbr64, sizeof kEndbr64) == 0 ? sizeof kEndbr64 : 0;
}

// Writes the 5-byte jumps; false when the trampolines cannot be placed. A plan that is not carried out
// ends up kKeep.
bool patch(const Program& prog, std::vector<Plan>& plans) {
  std::vector<Plan*> todo;
  std::vector<uintptr_t> taken;  // an address with several names (aliases) is patched once, for the first
  for (Plan& p : plans) {
    if (p.action == Action::kKeep) continue;
    const Entry& e = *p.entry;
    if (std::find(taken.begin(), taken.end(), e.address) != taken.end()) {
      p.action = Action::kKeep;
      continue;
    }
    size_t at = patch_offset(e);
    if (e.size < at + 5 || !in_code(prog, e.address, at + 5) ||
        std::memcmp(reinterpret_cast<const void*>(e.address), e.file_bytes, at + 5) != 0) {
      // Too short for a jump, outside the program's code, or changed since it was loaded.
      say(p.action == Action::kRedirect ? 1 : 3, "static cudart: cannot redirect %s (%llu bytes)", e.name,
          static_cast<unsigned long long>(e.size));
      p.action = Action::kKeep;
      continue;
    }
    todo.push_back(&p);
    taken.push_back(e.address);
  }
  if (todo.empty()) return true;

  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t bytes = (todo.size() * kSlot + page - 1) / page * page;
  unsigned char* slots = map_near(prog, bytes);
  if (slots == nullptr) return false;
  for (size_t i = 0; i < todo.size(); ++i) {
    unsigned char* slot = slots + i * kSlot;
    switch (todo[i]->action) {
      case Action::kRedirect: write_jump(slot, todo[i]->target); break;
      case Action::kRefuse:
        write_call_with_name(slot, todo[i]->entry->name, reinterpret_cast<void*>(&remora_static_cudart_refuse));
        break;
      case Action::kStop:
        write_call_with_name(slot, todo[i]->entry->name, reinterpret_cast<void*>(&remora_static_cudart_stop));
        break;
      case Action::kKeep: break;
    }
  }
  if (::mprotect(slots, bytes, PROT_READ | PROT_EXEC) != 0) return false;

  // Each jump is written with its page writable and the page then made executable again. Nothing runs
  // the program's code meanwhile: this is a constructor of a preloaded library, before the program's.
  for (size_t i = 0; i < todo.size(); ++i) {
    const Entry& e = *todo[i]->entry;
    auto* at = reinterpret_cast<unsigned char*>(e.address + patch_offset(e));
    const uintptr_t first = reinterpret_cast<uintptr_t>(at) & ~(page - 1);
    const size_t span = (reinterpret_cast<uintptr_t>(at) + 5 - first + page - 1) / page * page;
    if (::mprotect(reinterpret_cast<void*>(first), span, PROT_READ | PROT_WRITE) != 0) {
      say(0, "static cudart: cannot make the program's code writable to redirect %s and after it", e.name);
      for (size_t j = i; j < todo.size(); ++j) todo[j]->action = Action::kKeep;
      return true;
    }
    const intptr_t rel = reinterpret_cast<intptr_t>(slots + i * kSlot) - (reinterpret_cast<intptr_t>(at) + 5);
    const auto rel32 = static_cast<int32_t>(rel);
    at[0] = 0xE9;
    std::memcpy(at + 1, &rel32, sizeof rel32);
    ::mprotect(reinterpret_cast<void*>(first), span, PROT_READ | PROT_EXEC);
  }
  return true;
}

// The guest library beside this one (both live in remora's lib directory).
void* open_guest_library() {
  Dl_info self{};
  if (dladdr(reinterpret_cast<void*>(&open_guest_library), &self) == 0 || self.dli_fname == nullptr) return nullptr;
  std::string path = self.dli_fname;
  path = path.substr(0, path.find_last_of('/') + 1) + "libremora-cuda.so";
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) say(0, "static cudart: cannot load %s: %s", path.c_str(), dlerror());
  return h;
}

__attribute__((constructor)) void redirect_static_runtime() {
  if (const char* off = std::getenv("REMORA_STATIC_CUDART"); off != nullptr && std::strcmp(off, "0") == 0) return;
  MappedFile exe("/proc/self/exe");
  const Program prog = find_program();
  const Scan scan = scan_executable(exe, prog.bias);
  if (scan.entries.empty()) {
    if (scan.has_kernels && !scan.has_symtab)
      say(1, "this CUDA program has no symbol table (stripped): if it links cudart statically, its runtime "
             "calls cannot reach remora (link it with -cudart shared)");
    return;
  }
  // A program with cudart in a shared library defines no cuda* functions of its own; one with a static
  // cudart defines its registration entry point.
  bool static_runtime = false;
  for (const Entry& e : scan.entries) static_runtime |= std::strcmp(e.name, "__cudaRegisterFatBinary") == 0;
  if (!static_runtime) return;

  void* guest = open_guest_library();
  if (guest == nullptr) return;
  std::vector<Plan> plans;
  for (const Entry& e : scan.entries) plans.push_back(plan_for(e, guest));
  if (!patch(prog, plans)) {
    say(0, "static cudart: cannot place remora's trampolines near the program; its runtime calls will fail");
    return;
  }
  int redirected = 0, refused = 0, stopped = 0;
  for (const Plan& p : plans) {
    redirected += p.action == Action::kRedirect;
    refused += p.action == Action::kRefuse;
    stopped += p.action == Action::kStop;
  }
  say(3, "static cudart: %d of the program's %zu runtime functions go to remora, %d refuse (per-thread "
         "variants of unimplemented functions), %d stop (not implemented)",
      redirected, scan.entries.size(), refused, stopped);
}

}  // namespace
