// A logging stand-in for libcuda.so.1, to learn what the CUDA runtime (cudart, static or shared) and
// the libraries on top of it (cuBLAS) ask of the driver: every cuGetProcAddress lookup (symbol, version,
// flags), every cuGetExportTable UUID, and every call through what they return (arguments, return
// value), in order. Not part of remora; docs/cuda-export-tables.md holds what it found.
//
// How it stands in: the library is named libcuda.so.1 and needs the real driver by its absolute path
// (build: a stub whose SONAME is that path), so every symbol the probe does not define resolves to the
// driver through the probe's own lookup scope. cuGetProcAddress and cuGetExportTable hand out
// trampolines (probe_tramps.S) that log the call, run the real entry and log its return.
//
//   PROBE_LOG=FILE (default stderr); PROBE_MAX_CALLS=N calls logged per entry (default 40);
//   PROBE_WRAP_TABLES=0 / PROBE_WRAP_PROCS=0 hand out the driver's own tables / functions (lookups
//   are still logged), to tell which wrapping the runtime notices; PROBE_SKIP_TABLES=UUIDPREFIX,...
//   hands out those tables unwrapped.
#define _GNU_SOURCE
#include <cuda.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SLOTS 8192
#define MAX_DEPTH 256

extern char probe_tramp_base[];  // MAX_SLOTS trampolines, 16 bytes apart (probe_tramps.S)

struct slot {
  void* real;
  char label[96];
  unsigned long calls;
};
static struct slot slots[MAX_SLOTS];
static int slot_count;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static FILE* out;
static unsigned long max_calls = 40;
static void* driver;
static int wrap_tables = 1, wrap_procs = 1;

struct frame {
  int slot;
  void* ret;
  uint64_t args[6];
};
static __thread struct frame frames[MAX_DEPTH];
static __thread int depth;

static void setup(void) {
  if (out != NULL) return;
  const char* path = getenv("PROBE_LOG");
  out = path ? fopen(path, "a") : stderr;
  if (out == NULL) out = stderr;
  setvbuf(out, NULL, _IOLBF, 0);
  if (getenv("PROBE_WRAP_TABLES")) wrap_tables = atoi(getenv("PROBE_WRAP_TABLES"));
  if (getenv("PROBE_WRAP_PROCS")) wrap_procs = atoi(getenv("PROBE_WRAP_PROCS"));
  if (getenv("PROBE_MAX_CALLS")) max_calls = strtoul(getenv("PROBE_MAX_CALLS"), NULL, 10);
  driver = dlopen(PROBE_REAL_DRIVER, RTLD_NOW | RTLD_NOLOAD);
  if (driver == NULL) driver = dlopen(PROBE_REAL_DRIVER, RTLD_NOW);
  fprintf(out, "probe: pid %d, driver %s %s\n", (int)getpid(), PROBE_REAL_DRIVER, driver ? "loaded" : dlerror());
}

static void* real(const char* name) {
  setup();
  void* p = dlsym(driver, name);
  if (p == NULL) fprintf(out, "probe: driver lacks %s\n", name);
  return p;
}

// A trampoline for `fn` labelled `label`: the same one for the same (fn, label).
static void* wrap(void* fn, const char* label) {
  if (fn == NULL) return NULL;
  pthread_mutex_lock(&mu);
  for (int i = 0; i < slot_count; ++i)
    if (slots[i].real == fn && strcmp(slots[i].label, label) == 0) {
      pthread_mutex_unlock(&mu);
      return probe_tramp_base + 16 * i;
    }
  if (slot_count == MAX_SLOTS) {
    pthread_mutex_unlock(&mu);
    fprintf(out, "probe: out of trampolines, %s unwrapped\n", label);
    return fn;
  }
  int i = slot_count++;
  slots[i].real = fn;
  snprintf(slots[i].label, sizeof slots[i].label, "%s", label);
  pthread_mutex_unlock(&mu);
  return probe_tramp_base + 16 * i;
}

static int mapping_perms(const void* p, char want);

// The first 32 bytes behind each argument of a table entry that points at readable data.
static void dump_args(const char* when, const char* label, const uint64_t* a) {
  for (int i = 0; i < 6; ++i) {
    if (a[i] < 4096 || !mapping_perms((void*)a[i], 'r')) continue;
    const unsigned char* b = (const unsigned char*)a[i];
    char hex[100];
    for (int k = 0; k < 32; ++k) sprintf(hex + 2 * k + k / 8, k % 8 == 7 ? "%02x " : "%02x", b[k]);
    fprintf(out, "    %s %s a%d -> %s\n", when, label, i, hex);
  }
}

__attribute__((visibility("hidden"))) void* probe_on_enter(uint64_t slot, const uint64_t* gp, void* ret) {
  struct slot* s = &slots[slot];
  // gp: rax, r9, r8, rcx, rdx, rsi, rdi (push order reversed)
  uint64_t a[6] = {gp[6], gp[5], gp[4], gp[3], gp[2], gp[1]};
  unsigned long n = __atomic_add_fetch(&s->calls, 1, __ATOMIC_RELAXED);
  if (depth < MAX_DEPTH) {
    struct frame* f = &frames[depth];
    f->slot = (int)slot;
    f->ret = ret;
    memcpy(f->args, a, sizeof a);
  } else {
    fprintf(out, "probe: call depth exceeded\n");
    abort();
  }
  ++depth;
  if (n <= max_calls && strncmp(s->label, "table", 5) == 0) dump_args(">", s->label, a);
  if (n <= max_calls)
    fprintf(out, "[%ld] > %s #%lu (%#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 ")\n",
            (long)gettid(), s->label, n, a[0], a[1], a[2], a[3], a[4], a[5]);
  return s->real;
}

__attribute__((visibility("hidden"))) void* probe_on_exit(uint64_t rax) {
  struct frame* f = &frames[--depth];
  struct slot* s = &slots[f->slot];
  if (s->calls <= max_calls) {
    // Out parameters: show the first word behind every argument that points into this thread's stack.
    char extra[400] = "";
    size_t used = 0;
    uintptr_t here = (uintptr_t)&f;
    for (int i = 0; i < 6; ++i) {
      uintptr_t p = (uintptr_t)f->args[i];
      if (p > here && p - here < (1u << 20) && p % 4 == 0) {
        uint64_t v;
        memcpy(&v, (void*)p, sizeof v);
        used += (size_t)snprintf(extra + used, sizeof extra - used, " *a%d=%#" PRIx64, i, v);
        if (used >= sizeof extra) break;
      }
    }
    fprintf(out, "[%ld] < %s = %#" PRIx64 "%s\n", (long)gettid(), s->label, rax, extra);
    if (strncmp(s->label, "table", 5) == 0) dump_args("<", s->label, f->args);
  }
  return f->ret;
}

// Whether `p` lies in an executable mapping of this process.
static int executable(const void* p) { return mapping_perms(p, 'x'); }
static int mapping_perms(const void* p, char want) {
  FILE* m = fopen("/proc/self/maps", "r");
  if (m == NULL) return 0;
  char line[512];
  int yes = 0;
  while (fgets(line, sizeof line, m)) {
    uintptr_t lo, hi;
    char perms[8];
    if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s", &lo, &hi, perms) == 3 && (uintptr_t)p >= lo &&
        (uintptr_t)p < hi) {
      yes = want == 'x' ? perms[2] == 'x' : (perms[0] == 'r' && perms[2] != 'x');
      break;
    }
  }
  fclose(m);
  return yes;
}

static void uuid_text(const CUuuid* id, char* text) {
  for (int i = 0; i < 16; ++i) sprintf(text + 2 * i, "%02x", (unsigned char)id->bytes[i]);
}

struct table {
  const void* real;
  void* copy;
};
static struct table tables[64];
static int table_count;

CUresult cuGetExportTable(const void** ppExportTable, const CUuuid* pExportTableId) {
  static CUresult (*fn)(const void**, const CUuuid*);
  if (fn == NULL) fn = (CUresult(*)(const void**, const CUuuid*))real("cuGetExportTable");
  char id[33] = "null";
  if (pExportTableId) uuid_text(pExportTableId, id);
  CUresult r = fn(ppExportTable, pExportTableId);
  if (r != CUDA_SUCCESS || ppExportTable == NULL || *ppExportTable == NULL) {
    fprintf(out, "[%ld] cuGetExportTable %s -> %d\n", (long)gettid(), id, (int)r);
    return r;
  }
  const uint64_t* t = (const uint64_t*)*ppExportTable;
  pthread_mutex_lock(&mu);
  for (int i = 0; i < table_count; ++i)
    if (tables[i].real == t) {
      pthread_mutex_unlock(&mu);
      *ppExportTable = tables[i].copy;
      fprintf(out, "[%ld] cuGetExportTable %s -> table %p again\n", (long)gettid(), id, (const void*)t);
      return r;
    }
  pthread_mutex_unlock(&mu);
  // The first word is the table's size in bytes when it is small; otherwise the table has no size word.
  uint64_t first = t[0];
  size_t words = 0, start = 0;
  if (first >= 16 && first < 8192 && first % 8 == 0) {
    words = first / 8;
    start = 1;
  } else {
    words = 0;
  }
  fprintf(out, "[%ld] cuGetExportTable %s -> table %p, first word %#" PRIx64 ", %zu entries\n", (long)gettid(), id,
          (const void*)t, first, words ? words - 1 : 0);
  const char* skip = getenv("PROBE_SKIP_TABLES");  // UUID prefixes, comma-separated, handed out unwrapped
  int skipped = 0;
  for (const char* k = skip; k && *k; k = strchr(k, ',') ? strchr(k, ',') + 1 : "")
    if (strncmp(id, k, strcspn(k, ",")) == 0) skipped = 1;
  if (words == 0 || !wrap_tables || skipped) {  // unknown shape (or not wrapping): log the first words, hand out the real table
    for (size_t i = 0; i < (words ? words : 16); ++i)
      fprintf(out, "    [%zu] %#" PRIx64 " %s\n", i, t[i], executable((void*)t[i]) ? "code" : "");
    return r;
  }
  uint64_t* copy = malloc(words * 8);
  memcpy(copy, t, words * 8);
  for (size_t i = start; i < words; ++i) {
    int code = t[i] != 0 && executable((void*)t[i]);
    Dl_info info;
    const char* sym = (code && dladdr((void*)t[i], &info) && info.dli_sname) ? info.dli_sname : "";
    fprintf(out, "    [%zu] %#" PRIx64 " %s %s\n", i, t[i], code ? "code" : "data", sym);
    if (code) {
      char label[96];
      snprintf(label, sizeof label, "table %.8s[%zu]", id, i);
      copy[i] = (uint64_t)wrap((void*)t[i], label);
    }
  }
  pthread_mutex_lock(&mu);
  if (table_count < 64) tables[table_count++] = (struct table){t, copy};
  pthread_mutex_unlock(&mu);
  *ppExportTable = copy;
  return r;
}

CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult* status);

static void* own(const char* symbol) {
  if (strcmp(symbol, "cuGetExportTable") == 0) return (void*)&cuGetExportTable;
  if (strcmp(symbol, "cuGetProcAddress") == 0) return (void*)&cuGetProcAddress_v2;
  return NULL;
}

CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult* status) {
  static CUresult (*fn)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*);
  if (fn == NULL) fn = (CUresult(*)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*))real(
                      "cuGetProcAddress_v2");
  CUresult r = fn(symbol, pfn, cudaVersion, flags, status);
  fprintf(out, "[%ld] cuGetProcAddress %s version %d flags %#llx -> %d status %d\n", (long)gettid(),
          symbol ? symbol : "(null)", cudaVersion, (unsigned long long)flags, (int)r, status ? (int)*status : -1);
  if (r == CUDA_SUCCESS && pfn && *pfn && symbol && wrap_procs) {
    void* mine = own(symbol);
    if (mine) {
      *pfn = mine;
    } else {
      char label[96];
      snprintf(label, sizeof label, "%s%s", symbol,
               (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) ? "@ptds" : "");
      *pfn = wrap(*pfn, label);
    }
  }
  return r;
}

#undef cuGetProcAddress
CUresult cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags) {
  fprintf(out ? out : stderr, "probe: v1 cuGetProcAddress %s\n", symbol);
  return cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, NULL);
}

__attribute__((constructor)) static void probe_init(void) { setup(); }

__attribute__((destructor)) static void probe_fini(void) {
  fprintf(out, "probe: call counts\n");
  for (int i = 0; i < slot_count; ++i)
    if (slots[i].calls) fprintf(out, "    %8lu %s\n", slots[i].calls, slots[i].label);
}
