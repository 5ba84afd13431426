// The guest runtime: what generated guest code (and an API's hand-written guest glue) calls.
//
// It lives in the application's process, so it follows the rules of a guest in someone else's house:
// it never prints to stdout, never calls exit/abort on a recoverable error, and exports nothing (the
// guest library's version script exports only the API's entry points).
//
// One Runtime per API per process. The API glue owns it (for OpenCL: apis/opencl/guest/icd.cpp) and
// generated functions reach it through a function the glue defines; there is no other global state.
//
// Calls. A generated function encodes its arguments, then either
//   end_async()  queues the call in the process's batch (flushed at the next synchronous call, when the
//                batch reaches Options::batch_bytes, or by the flusher thread after flush_interval), or
//   end_sync()   sends the batch with this call last and waits for the Reply addressed to this thread.
// A synchronous call is encoded into the calling thread's own Writer (no lock) and sent from there. An
// asynchronous one (begin_call(true)) is encoded straight into the batch, under the batch lock, so
// its arguments are never copied: a batched call costs the encoding and little else.
// Threads hold the batch lock only to encode an asynchronous call or to send, never while waiting for
// a reply, so a multi-threaded guest is serialised at most for a call's transport time.
//
// Objects. Each server object the guest can name is an Object (see below); handles travel as ids.
// Ids of objects created by synchronous calls are chosen by the server; asynchronous calls that
// return a new handle (an event from a batched enqueue) get an id chosen by the guest, which the server
// checks is fresh. The two ranges never meet (kServerIdBit).
//
// Events. A thread of the runtime receives the events channel: it runs application callbacks (with
// the application's user data) and applies deferred data (non-blocking reads). A reply carries the
// number of deferred messages sent before it; end_sync returns only once that many were applied.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/protocol.h"
#include "common/status.h"
#include "common/wire.h"
#include "transport/channel.h"
#include "transport/endpoint.h"

namespace remora::guest {

inline constexpr uint64_t kServerIdBit = uint64_t{1} << 63;

// Settings, from the environment the application was started with (`remora run` sets them).
struct Options {
  std::string connect;  // REMORA_CONNECT: endpoint of the server; required
  transport::TransportKind transport = transport::TransportKind::kShm;  // REMORA_TRANSPORT
  std::string tenant;   // REMORA_TENANT
  std::string token;    // REMORA_TOKEN, or the first line of the file REMORA_TOKEN_FILE
  // tls: endpoints (transport/tls.h): REMORA_TLS_CA (else the system's CAs), and an optional client
  // certificate REMORA_TLS_CERT with its key REMORA_TLS_KEY.
  std::string tls_ca, tls_cert, tls_key;
  bool all_sync = false;  // REMORA_SYNC=1: every call synchronous (exact error placement, for debugging)
  // REMORA_BATCH_BYTES: flush an async batch at this size. Small enough that the server executes one
  // batch while the guest encodes the next (and, still spinning from the last one, needs no wake-up):
  // 1000 batched clSetKernelArg + clFinish on a quiet 2-core machine, median of 5, shm/unix/tcp:
  // 8 KiB 18.7/13.3/11.7 M calls/s, 64 KiB 9.1/10.9/10.4 (BENCHMARKS.md).
  size_t batch_bytes = 8 * 1024;
  std::chrono::microseconds flush_interval{500};  // REMORA_FLUSH_US: flush a waiting batch this late
  // REMORA_CALL_TIMEOUT_MS: a call whose reply takes longer fails with the API's transport error.
  // 0 = no limit (a long kernel is not a failure); the server's death is detected regardless.
  std::chrono::milliseconds call_timeout{0};
  std::chrono::milliseconds connect_timeout{5000};  // REMORA_CONNECT_TIMEOUT_MS
  // REMORA_TCP_TIMEOUT_MS: a server unreachable this long over TCP (link cut, host gone without a
  // FIN) fails the pending and later calls with the API's transport error (keepalive and
  // TCP_USER_TIMEOUT, transport/sockets.h). No effect on unix/shm.
  std::chrono::milliseconds tcp_timeout = transport::kTcpTimeout;

  // Reads the variables above. An unusable value is reported in *error and the default kept.
  static Options from_env(std::string* error);
};

struct Object;
// A handle type's REMORA_HANDLE_WITH_RECORD function: drops the record the glue attached to an object
// (Object::api_data) once the object is retired.
using RetireHook = void (*)(Object* o);

// Generated per API (<api>_guest.cpp): names and signatures for the handshake and for logs, and the
// handle types' retire hooks.
struct ApiDescriptor {
  const char* name;        // "opencl"
  protocol::OpcodeTable opcodes;  // signatures for the handshake's negotiation
  uint32_t num_opcodes;    // highest opcode + 1
  const char* const* opcode_names;  // indexed by opcode, "" for gaps
  uint32_t num_handle_types = 0;    // entries of retire_hooks: types 0..num_handle_types-1
  const RetireHook* retire_hooks = nullptr;  // indexed by handle type; null entries: none
  // Indexed by type: the other types a parameter of that type accepts, one bit each
  // (REMORA_HANDLE_ACCEPTS). Null: none.
  const uint64_t* handle_accepts = nullptr;
};

// A guest-side stand-in for a server object. Layout matters: APIs whose handles are read by someone
// else (the OpenCL ICD loader reads `dispatch` first) rely on `dispatch` being the first member.
struct Object {
  void* dispatch = nullptr;
  uint64_t id = 0;
  uint32_t type = 0;
  uint32_t magic = 0;  // kLive while the object is in use, kDead once retired
  std::atomic<int64_t> app_refs{0};
  void* api_data = nullptr;  // for an API's hand-written glue (map and SVM bookkeeping)

  static constexpr uint32_t kLive = 0x0b7ec7ed;
  static constexpr uint32_t kDead = 0xdeadbeef;
};

// The registry of Objects. Retired objects are kept (with magic kDead) rather than freed, so a stale
// handle from the application is caught as invalid rather than read after free.
class Objects {
 public:
  explicit Objects(void* dispatch, uint32_t num_hooks = 0, const RetireHook* retire_hooks = nullptr,
                   const uint64_t* accepts = nullptr)
      : dispatch_(dispatch), num_hooks_(num_hooks), retire_hooks_(retire_hooks), accepts_(accepts) {}
  Objects(const Objects&) = delete;
  Objects& operator=(const Objects&) = delete;
  ~Objects();

  // The object for an id the server sent, created on first sight. nullptr for id 0. A known id with a
  // different type is a protocol error: returns nullptr.
  Object* from_id(uint64_t id, uint32_t type);
  // A new object with a fresh guest-chosen id, one application reference.
  Object* create(uint32_t type);
  // The id of an application handle. Returns false when `handle` is not a live object of `type`;
  // a null handle is id 0 (true), leaving it to the API to report. Values below kMinObjectAddress
  // are never objects (nothing is mapped there): false, unless the type has a SpecialHandleFn.
  bool to_id(const void* handle, uint32_t type, uint64_t* id) const;

  // Handle values an API gives a meaning of their own (CUDA's CU_STREAM_LEGACY and
  // CU_STREAM_PER_THREAD): below kMinObjectAddress, null included. The function puts the object (or
  // null) the value stands for in *resolved, or returns false for an invalid handle. to_id calls it
  // before the call is encoded (generated stubs convert handles first), so it may make calls itself.
  static constexpr uintptr_t kMinObjectAddress = 4096;
  using SpecialHandleFn = bool (*)(const void* handle, const void** resolved);
  static constexpr uint32_t kMaxSpecialTypes = 64;
  // Set once at start-up, before calls are made.
  void set_special_handles(uint32_t type, SpecialHandleFn fn) {
    if (type < kMaxSpecialTypes) special_[type] = fn;
  }
  // A value below kMinObjectAddress other than null: never an object the application owns.
  static bool special(const void* handle) {
    return handle != nullptr && reinterpret_cast<uintptr_t>(handle) < kMinObjectAddress;
  }
  static Object* as_object(const void* handle) {
    return const_cast<Object*>(static_cast<const Object*>(handle));
  }
  // Application reference counting mirrors the calls that change it (spec RETAINS/RELEASES).
  void add_ref(Object* o) { o->app_refs.fetch_add(1, std::memory_order_relaxed); }
  // Drops one reference; when none remain the object is retired (the id is forgotten). Returns true
  // when this call retired it.
  bool drop_ref(Object* o);
  // Retires an object whose creation failed on the server. Retiring runs the type's retire hook
  // (ApiDescriptor::retire_hooks) once, after the object is marked dead.
  void retire(Object* o);
  // Whether `p` is one of the live objects (of any type; *type says which), found by address without
  // reading through it: for values that may be anything (a kernel argument's bytes).
  bool live(const void* p, uint32_t* type) const;

 private:
  Object* make_locked(uint64_t id, uint32_t type);
  bool retire_locked(Object* o);  // false: it was not live

  void* dispatch_;
  const uint32_t num_hooks_;
  const RetireHook* const retire_hooks_;
  const uint64_t* const accepts_;  // ApiDescriptor::handle_accepts, num_hooks_ entries
  bool type_ok(uint32_t have, uint32_t want) const {
    return have == want || (accepts_ != nullptr && want < num_hooks_ && have < 64 && ((accepts_[want] >> have) & 1) != 0);
  }
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Object*> by_id_;
  std::unordered_set<Object*> all_;  // live objects, owned
  std::deque<Object*> quarantine_;   // the most recently retired, owned (see class comment)
  // Their ids: a callback that names an object after its release (a destructor callback) gets the
  // application's own pointer back.
  std::unordered_map<uint64_t, Object*> dead_by_id_;
  uint64_t next_guest_id_ = 1;
  SpecialHandleFn special_[kMaxSpecialTypes] = {};
};

// Application callbacks registered with the server. The server sends the id back in a Callback
// message; the events thread finds the entry and calls `invoke`, a generated function that decodes
// the callback's arguments and calls the application's function with its user data.
class Runtime;
using CallbackInvoker = void (*)(Runtime& rt, void* fn, void* user_data, wire::Reader& args);

class Callbacks {
 public:
  uint64_t add(CallbackInvoker invoke, void* fn, void* user_data, bool once);
  // Looks up (and for `once` entries removes) an entry. Returns false for an unknown id.
  bool take(uint64_t id, CallbackInvoker* invoke, void** fn, void** user_data);
  // Forgets an entry whose registration failed on the server.
  void remove(uint64_t id);

 private:
  struct Entry {
    CallbackInvoker invoke;
    void* fn;
    void* user_data;
    bool once;
  };
  std::mutex mu_;
  std::unordered_map<uint64_t, Entry> entries_;
  uint64_t next_ = 1;
};

// Destinations of deferred data (non-blocking reads): token -> application memory.
class DeferredTargets {
 public:
  uint64_t expect(void* dst, uint64_t size);
  bool take(uint64_t token, void** dst, uint64_t* size);
  void cancel(uint64_t token);

 private:
  std::mutex mu_;
  std::unordered_map<uint64_t, std::pair<void*, uint64_t>> targets_;
  uint64_t next_ = 1;
};

// A received reply. `body` reads the call's results in the order the server encoded them.
struct Reply {
  transport::Message message;
  protocol::ReplyHeader header{};
  wire::Reader body;
};

// Makes the calling thread's calls synchronous while in scope. API glue uses it where only the
// vendor's own answer will do (the first clSetKernelArg of an argument, see apis/opencl/guest).
class SyncScope {
 public:
  SyncScope();
  ~SyncScope();
  SyncScope(const SyncScope&) = delete;
  SyncScope& operator=(const SyncScope&) = delete;

 private:
  bool previous_;
};

class Runtime {
 public:
  Runtime(const ApiDescriptor& api, void* dispatch);
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  ~Runtime();

  // Connects on first use (thread-safe). After a failure every later call fails fast with the same
  // Status; the reason is logged once to stderr. After shutdown() it fails (kClosed) and stopped()
  // is true: generated stubs then answer the API's "deinitialized" error.
  Status ensure_connected();
  bool stopped() const { return stopping_.load(std::memory_order_acquire); }
  bool connected() const { return state_.load(std::memory_order_acquire) == State::kConnected; }
  // Uses an already established connection instead of dialing (tests, embedding). Reads Options
  // from the environment like ensure_connected would.
  Status adopt(transport::Connection conn);

  const ApiDescriptor& api() const { return api_; }
  const Options& options() const { return options_; }
  // The server process serving this session (the Welcome's server_pid), 0 until connected or if the
  // server did not say. For API glue that grants it access to this process (direct transfers).
  int32_t server_pid() const { return server_pid_.load(std::memory_order_acquire); }
  Objects& objects() { return objects_; }
  Callbacks& callbacks() { return callbacks_; }
  DeferredTargets& deferred() { return deferred_; }
  // The session's shared-region link (transport/shared_region.h), or null where the transport has none.
  // Valid once connected.
  transport::RegionLink* regions() const { return conn_.regions.get(); }
  // Whether the calling thread may batch calls now (not under REMORA_SYNC=1 or a SyncScope).
  bool async_enabled() const;
  // Whether the server serves `opcode` as this guest's spec declares it (the handshake's negotiation,
  // protocol.h "Compatibility"). Valid once connected; a generated stub asks before every call and
  // answers the API's "not supported" error itself when not (after unserved()).
  bool serves(uint32_t opcode) const { return served_.has(opcode); }
  // Logs, once per opcode, that `opcode` is not served by this server.
  void unserved(uint32_t opcode);

  // ---- Calls -------------------------------------------------------------------------------------
  // Starts a call: returns the Writer to encode its arguments into.
  //   begin_call()      the calling thread's own Writer, cleared; end with end_sync (or end_async,
  //                     which then copies the arguments into the batch).
  //   begin_call(true)  the batch itself, with the batch lock held until end_async, which must follow.
  //                     In between the caller only encodes: no other runtime call, nothing that may
  //                     block (generated code guarantees this; it runs a REMORA_THREAD_STATE hook
  //                     before begin_call).
  wire::Writer& begin_call(bool queue = false);
  // Queues the call encoded since begin_call. Blobs passed by reference must stay valid until the
  // next synchronous call returns (the API's own rules guarantee that for non-blocking transfers).
  Status end_async(uint32_t opcode);
  // Sends the batch with this call last and waits for its reply. A transport failure or timeout
  // returns an error Status: the generated caller turns it into the API's transport error.
  Status end_sync(uint32_t opcode, Reply* reply);

  // The reply cache (spec REMORA_CACHE): keyed by opcode and the arguments the calling thread has
  // encoded since begin_call. cache_lookup fills `reply` from a stored body; cache_store keeps a copy
  // of a successful reply's body (what `body` has left to read).
  bool cache_lookup(uint32_t opcode, Reply* reply);
  void cache_store(uint32_t opcode, const wire::Reader& body);

  // The first asynchronous failure not yet reported: its opcode and the API's error value. Generated
  // code for synchronisation points (spec BLOCKING) reports it in place of success. Returns false if none.
  bool take_async_error(uint32_t* opcode, int64_t* value);

  // Flushes the pending batch (used by the flusher thread and before process exit).
  Status flush();

  // Tells the server that the calling thread works a while before its next call (a staged copy
  // about to fill or empty a chunk), so that the server's wait for it neither spins nor teaches its
  // adaptive spin anything: an empty batch with protocol::kBatchPauseFollows, after what is queued.
  // A hint; failures are the next call's to report.
  void announce_pause();

  // Logs to stderr (common/log.h), never stdout.
  void log_error(const std::string& msg) const;
  std::string opcode_name(uint32_t opcode) const;

  // Flushes, says goodbye to the server and stops the runtime's threads. Called by the destructor,
  // and at exit for the runtime of a process_guest.
  void shutdown();

 private:
  enum class State { kIdle, kConnecting, kConnected, kFailed };
  struct ThreadSlot;
  ThreadSlot& my_slot();
  Status connect_locked();
  // Sends the pending batch, followed by `last` (a synchronous call) when given.
  Status send_batch_locked(uint32_t tag, const protocol::CallHeader* last = nullptr,
                           const wire::Writer* last_args = nullptr);
  Status wait_reply(ThreadSlot& slot, Reply* reply);
  void events_loop();
  void flusher_loop();
  void note_async_error(const protocol::ReplyHeader& h);
  void fail_all(const Status& why);
  Status failure_or_closed() const;

  const ApiDescriptor& api_;
  Options options_;
  Objects objects_;
  Callbacks callbacks_;
  DeferredTargets deferred_;

  std::atomic<State> state_{State::kIdle};
  std::mutex connect_mu_;
  Status failure_;
  transport::Connection conn_;
  std::atomic<int32_t> server_pid_{0};
  // The opcodes the server serves to this guest; written once while connecting (before state_ says
  // kConnected, which every stub checks first), read-only afterwards.
  protocol::ServedOpcodes served_;
  std::mutex unserved_mu_;
  std::unordered_set<uint32_t> unserved_logged_;  // under unserved_mu_

  // Batch of async calls not yet sent, and the send side of the calls channel.
  std::mutex batch_mu_;
  wire::Writer batch_;
  uint32_t batch_count_ = 0;
  uint64_t batch_serial_ = 0;          // batches sent so far
  transport::Clock::time_point batch_since_;  // when the pending batch got its first call
  // The flusher. It sleeps on batch_cv_ only while no batch is pending (flusher_idle_, so that only
  // the call that starts a batch while it sleeps pays for a wake-up), and otherwise on its own
  // mutex until the pending batch is due: waking it for every batch, and its taking batch_mu_ at
  // once, cost the calls that were being queued meanwhile about a tenth of their time.
  std::condition_variable batch_cv_;
  bool flusher_idle_ = false;  // under batch_mu_
  std::mutex flusher_mu_;
  std::condition_variable flusher_cv_;  // interrupts the flusher's timed sleep at shutdown
  // The call being encoded in place (begin_call(true)): where its CallHeader is and the batch's size
  // after it. Written and read only by the thread holding batch_mu_.
  size_t queued_header_ = 0;
  size_t queued_start_ = 0;
  // The thread between begin_call(true) and end_async (it holds batch_mu_), else 0. Read without
  // the lock by end_async to tell an in-place call from a copied one: a thread can only ever find its
  // own id there if it put it there itself. pthread_self() rather than the thread's slot: it is a
  // plain load, where a thread_local in a shared library is a call to __tls_get_addr.
  std::atomic<pthread_t> queuing_thread_{0};
  std::vector<wire::Segment> segs_, batch_segs_;  // scratch for send, under batch_mu_

  // Reply routing: one reader at a time receives from the calls channel and hands replies to the
  // thread whose slot the tag names (leader/follower). The slots live in a pool shared with the
  // threads' exit handlers, so a thread that outlives the Runtime can still return its slot safely.
  struct SlotPool;
  const uint64_t serial_;  // tells Runtimes apart in threads' slot lists (addresses get reused)
  std::shared_ptr<SlotPool> pool_;
  std::mutex& route_mu_;
  std::condition_variable route_cv_;
  bool reader_active_ = false;
  // Threads that have ever called through this runtime. Once two have, synchronous calls carry
  // kCallConcurrent so the server lets blocking ones run without holding up the others. (A program
  // whose second thread appears while the first is already blocked waits for that one call.)
  std::atomic<uint32_t> threads_seen_{0};

  // Async error not yet reported.
  std::mutex async_err_mu_;
  uint32_t async_err_opcode_ = 0;
  int64_t async_err_value_ = 0;

  // Reply cache. Bounded: past kMaxCacheEntries nothing more is stored (immutable queries are few).
  std::shared_mutex cache_mu_;
  std::unordered_map<std::string, std::vector<uint8_t>> cache_;

  // Deferred data applied by the events thread.
  std::atomic<uint64_t> deferred_applied_{0};
  std::mutex deferred_mu_;
  std::condition_variable deferred_cv_;

  std::thread events_thread_;
  std::thread flusher_thread_;
  std::atomic<bool> stopping_{false};
};

// Shuts `rt` down when the process exits (atexit; at dlclose for a library unloaded earlier).
void shut_down_at_exit(Runtime* rt);

// The process's one instance of a guest library's state (a struct with a `runtime` member), built
// on first use and never destroyed: the runtimes and loaders above a guest library call into it from
// their own exit-time destructors, which may run after this library's (cudart frees its context
// storage and unloads its modules then). At exit the runtime says goodbye; a call after that
// answers the API's "deinitialized" error instead of reaching freed memory.
template <typename Guest>
Guest& process_guest() {
  static Guest* const g = [] {
    auto* p = new Guest;
    shut_down_at_exit(&p->runtime);
    return p;
  }();
  return *g;
}

}  // namespace remora::guest
