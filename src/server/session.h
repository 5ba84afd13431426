// The server side of one guest session: what generated dispatch code calls.
//
// One session per server process (the daemon forks a process per guest, see daemon/daemon.h), so a
// crash here harms one guest only. Inside, the session's threads follow a leader/follower pattern:
// the leader receives a Batch from the calls channel and runs its calls in order. Before a call that
// may block (spec BLOCKING / BLOCKING_IF, when the guest has several threads), the leader promotes a
// follower to receive the next Batch, so one guest thread's clFinish does not hold up the others.
//
// Handles. Each session has its own HandleTable: ids the guest sends are looked up with the expected
// type; a missing, released or mistyped id yields the API's invalid-object error, never a pointer.
// Real pointers never leave the server. At session end every object the guest still holds a
// reference to is released through the type's release function, so a guest that dies leaks nothing.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/protocol.h"
#include "common/status.h"
#include "common/wire.h"
#include "common/host_block.h"
#include "server/peer_memory.h"
#include "transport/channel.h"

namespace remora::server {

class Session;
struct Call;

using DispatchFn = void (*)(Call& call);

// Generated per API (<api>_server_dispatch.cpp).
struct HandleTypeInfo {
  const char* name;                   // "cl_mem"
  void (*release)(void* real);        // drops one reference on the real object; null if none
};

struct ApiServer {
  const char* name;       // "opencl"
  protocol::OpcodeTable opcodes;  // signatures for the handshake's negotiation
  uint32_t num_opcodes;   // highest opcode + 1
  const DispatchFn* dispatch;        // indexed by opcode; null for gaps
  const char* const* opcode_names;   // indexed by opcode
  uint32_t num_handle_types;         // types are 1..num_handle_types
  const HandleTypeInfo* handle_types;  // indexed by type (entry 0 unused)
  // Loads the vendor library (dlopen + dlsym of every function the spec forwards). `path` empty
  // means the API's default (libOpenCL.so.1). Returns false with a reason.
  bool (*load_vendor)(const std::string& path, std::string* error);
  // Indexed by type: the other types a parameter of that type accepts, one bit each
  // (REMORA_HANDLE_ACCEPTS). Null: none.
  const uint64_t* handle_accepts = nullptr;
};

// Per-session resource accounting. The generated server charges what the spec's REMORA_RESOURCE
// says before a creating call and ties the charge to the created handle; releasing the handle's last
// reference refunds it. A Policy (the daemon's tenant quotas) may refuse a charge.
enum class ResourceKind : uint32_t { kDeviceMemory = 0, kCount };

class Policy {
 public:
  virtual ~Policy() = default;
  // Asked before charging; return false to refuse (the guest gets the API's quota error).
  virtual bool may_charge(ResourceKind kind, uint64_t amount, uint64_t in_use) = 0;
  virtual void charged(ResourceKind kind, int64_t delta) = 0;
  // Called before each call is dispatched, on the serving thread. It may wait (the daemon's rate
  // limit and fair-share pacing do), which delays this session only.
  virtual void before_call(uint32_t opcode) {}

  // Fair sharing of device time (docs/daemon.md). The API glue brackets every command that runs on
  // the device: before_launch() before enqueueing it (it may wait while the tenant is ahead of its
  // share; serving thread), then exactly one launch_done() once the command completed or failed to
  // enqueue, with its measured device time (0 if none). launch_done may run on a vendor thread.
  virtual void before_launch() {}
  virtual void launch_done(uint64_t device_ns) {}
  // Per-tenant device visibility: whether the session may see the device at `index` in the server's
  // device list (the API glue defines the order; OpenCL: platforms in order, each one's devices).
  virtual bool device_visible(uint32_t index) { return true; }
};

class HandleTable {
 public:
  struct Entry {
    void* real = nullptr;
    uint32_t type = 0;
    int64_t app_refs = 0;         // references the guest holds (0 for borrowed handles)
    ResourceKind charge_kind = ResourceKind::kDeviceMemory;
    uint64_t charge = 0;          // resources to refund when the last reference goes
  };

  // A serving thread's cache of recent lookups: the table is read on every handle argument of every
  // call and written only when objects come and go, and a shared lock per lookup cost more than the
  // dispatch of a batched call (perf). A line is valid while the table's generation is the one it
  // was filled under; every change that removes an entry or could change what an id names bumps the
  // generation, so a released, re-created or retyped id is never answered from a stale line. Only
  // successful lookups are cached: an id that is not there now is looked up again next time.
  struct Cache {
    static constexpr size_t kLines = 64;  // direct-mapped by id
    struct Line {
      uint64_t id = 0;
      uint64_t generation = 0;  // 0: empty (the table's generation starts at 1)
      void* real = nullptr;
      uint32_t type = 0;
    };
    Line lines[kLines];
  };

  // The other types a lookup of each type accepts (ApiServer::handle_accepts); set once, before use.
  void set_accepts(const uint64_t* accepts, uint32_t num_types) {
    accepts_ = accepts;
    num_types_ = num_types;
  }
  // The real object for a guest id of the expected type (or one it accepts), or nullptr.
  void* lookup(uint64_t id, uint32_t type) const;
  // Likewise through a serving thread's cache (nullptr: none).
  void* lookup(uint64_t id, uint32_t type, Cache* cache) const;
  // Registers an object the guest named (async creates). Fails if the id is not in the guest range
  // or already in use.
  bool insert_guest_id(uint64_t id, uint32_t type, void* real, int64_t app_refs);
  // Registers a new object (created with one application reference) and returns its server id.
  uint64_t insert_new(uint32_t type, void* real);
  // The id of an object the API returned from a query: the existing id when the object is known
  // with this type, else a new borrowed entry (no application reference).
  uint64_t id_for(void* real, uint32_t type);
  // Application reference counting. release() returns the entry when its last reference went (the
  // entry is then removed), so the caller can refund its charge.
  bool retain(uint64_t id);
  bool release(uint64_t id, Entry* removed);
  void set_charge(uint64_t id, ResourceKind kind, uint64_t amount);
  // Removes everything, calling `drop(entry)` once per application reference still held.
  void drain(const std::function<void(const Entry&)>& drop);
  size_t size() const;

 private:
  bool type_ok(uint32_t have, uint32_t want) const {
    return have == want || (accepts_ != nullptr && want <= num_types_ && have < 64 && ((accepts_[want] >> have) & 1) != 0);
  }
  const uint64_t* accepts_ = nullptr;
  uint32_t num_types_ = 0;
  // Bumped (under mu_, before the change) whenever an entry is removed; see Cache.
  std::atomic<uint64_t> generation_{1};
  mutable std::shared_mutex mu_;
  std::unordered_map<uint64_t, Entry> by_id_;
  std::unordered_map<void*, uint64_t> by_real_;
  // Recently released objects, real -> (id, type): a vendor callback that names an object after the
  // guest released it (a destructor callback) reaches the guest under the id it knew. Bounded.
  std::unordered_map<void*, std::pair<uint64_t, uint32_t>> released_;
  std::deque<void*> released_order_;
  uint64_t next_server_id_ = 1;
};

// A server thread's large out-parameter block, reused from call to call: a fresh block of hundreds of
// MiB costs a page fault per 4 KiB on first touch (more than the copy into it), and the allocator
// gives such blocks back to the kernel when freed. Held: the largest such out-parameter so far, up to
// kMaxKeptBytes (the device buffer it was read from is at least as large).
struct ScratchCache {
  static constexpr uint64_t kMinBytes = uint64_t{1} << 20;    // smaller ones come from the allocator
  static constexpr uint64_t kMaxKeptBytes = uint64_t{1} << 30;
  HostBlock block;
  uint64_t size = 0;
  bool in_use = false;  // lent to the current call
};

// Everything a generated dispatch function needs for one call.
struct Call {
  Call(Session& s, wire::Reader& a, wire::Writer& r, uint32_t op, bool is_sync, bool concurrent)
      : session(s), args(a), reply(r), opcode(op), sync(is_sync), guest_concurrent(concurrent) {}
  ~Call() {
    if (scratch_cache_ != nullptr) scratch_cache_->in_use = false;
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  Session& session;
  wire::Reader& args;
  wire::Writer& reply;  // results; ignored for asynchronous calls
  uint32_t opcode = 0;
  bool sync = false;
  bool guest_concurrent = false;

  // A handle argument: the real object, or nullptr with `bad_handle_type` set (first one wins) so the
  // dispatch function can answer with that type's invalid error after decoding the rest.
  void* handle(uint64_t id, uint32_t type) {
    if (id == 0) return nullptr;
    void* real = lookup(id, type);
    if (real == nullptr && bad_handle_type == 0) bad_handle_type = type;
    return real;
  }
  uint32_t bad_handle_type = 0;

  // Temporary memory for out-parameters, released after the call. Refuses (nullptr, and marks the
  // call malformed) sizes over the session's cap.
  void* scratch(uint64_t bytes);
  // Like scratch, for an out-parameter the reply will carry as it is: where the transport can, the
  // memory is the reply's own space in it (shm), so the vendor writes the result where the guest
  // reads it and the server copies nothing. Synchronous calls of a single-threaded guest only: the
  // reservation holds the reply area until this call's reply is sent.
  void* reply_scratch(uint64_t bytes);
  // After scratch/reply_scratch returned nullptr: true when that was for want of host memory (not a
  // malformed request). Generated code then answers with the API's no-memory error and the session
  // goes on; a failure it does not take this way ends the session as malformed (serve_batch).
  bool out_of_host_memory() {
    const bool oom = out_of_memory_;
    out_of_memory_ = false;
    return oom;
  }
  // Called by generated code just before a vendor call that may block.
  void about_to_block();
  // For an asynchronous call that failed: remember the API error for the next synchronisation point.
  void async_failed(int64_t api_error);
  // Decoding failed or a guest-chosen id was bad: the session ends after this batch.
  void malformed(const char* why);

 private:
  void* lookup(uint64_t id, uint32_t type) const;
  void* no_host_memory(uint64_t bytes);  // notes the failure, returns nullptr
  friend class Session;
  std::vector<HostBlock> scratch_;
  uint64_t scratch_total_ = 0;
  ScratchCache* cache_ = nullptr;          // the serving thread's, if any (set by Session)
  HandleTable::Cache* handle_cache_ = nullptr;  // likewise
  ScratchCache* scratch_cache_ = nullptr;  // == cache_ while this call holds its block
  bool reserved_reply_ = false;             // reply_scratch reserved transport space
  bool out_of_memory_ = false;              // a scratch allocation failed; see out_of_host_memory()
};

// A non-blocking read's data waiting for its command to complete (see Session::add_deferred).
struct DeferredOp {
  uint64_t token = 0;  // 0: nothing goes to the guest; `data` is only kept alive until completion
  remora::HostBlock data;
  uint64_t size = 0;
  // > 0: still running; 0: completed; < 0: failed. Called with no session lock held.
  std::function<int()> poll;
  // Runs once after the data was sent or dropped (e.g. releases the vendor event).
  std::function<void()> cleanup;
  std::atomic<bool> done{false};
  ~DeferredOp() {
    if (cleanup) cleanup();
  }
};

// User data the server registers with the vendor for an application callback: which session and
// which guest-side callback entry to notify. `many` slots live until the session ends (the session
// owns them). A `once` slot is held twice: by the vendor until its callback fires (callback_fired)
// and by the registering call until it returns (callback_call_done); the last to let go frees it. A
// vendor may fire the callback inside a call that then fails (PoCL's clLinkProgram does).
struct CallbackSlot {
  Session* session;
  uint64_t callback_id;
  bool once = false;
  std::atomic<int> holds{0};  // once slots: 2 at creation
};

struct SessionOptions {
  uint64_t max_scratch_bytes = uint64_t{8} << 30;  // per call
  std::string tenant;
  Policy* policy = nullptr;  // may be null: no limits
  // The opcodes the handshake granted this guest (protocol::negotiate); a call of any other is
  // malformed. Empty: every opcode of the API (sessions set up without a handshake: tests).
  protocol::ServedOpcodes served;
  // Test-only: a folder where every message received from the guest is appended, as a u32 length and
  // the bytes, to one file per session (<pid>-<n>.session). These files are the seed corpus of the
  // session fuzz target (tests/fuzz/README.md). The session process fills it from REMORA_RECORD_DIR;
  // empty (the default): nothing is recorded.
  std::string record_dir;
};

class Session {
 public:
  Session(const ApiServer& api, transport::Connection conn, SessionOptions options);
  ~Session();

  // Serves until the guest says goodbye, disconnects, or sends a malformed message. Then releases
  // everything the guest still holds. Returns why the session ended.
  Status run();

  HandleTable& handles() { return handles_; }
  const ApiServer& api() const { return api_; }
  const SessionOptions& options() const { return options_; }
  // The session's shared-region link (transport/shared_region.h), or null where the transport has none.
  transport::RegionLink* regions() const { return conn_.regions.get(); }

  // Events channel, thread-safe (vendor callbacks arrive on the vendor's threads).
  // Sends a Callback message: the callback id, then the arguments encoded in `args`.
  Status send_callback(uint64_t callback_id, const wire::Writer& args);
  // Deferred data (non-blocking reads). The API glue registers each pending read with
  // add_deferred(); its data is sent on the events channel exactly once, either when the vendor's
  // completion callback calls complete_deferred(), or - whichever comes first - when a synchronous
  // reply is about to be sent and the op's poll() says the command is done. The second path matters:
  // a vendor may run completion callbacks after clFinish has returned, and the guest must have the
  // data before that reply.
  void add_deferred(std::shared_ptr<DeferredOp> op);
  void complete_deferred(DeferredOp& op, bool succeeded);

  // Resource accounting (see Policy).
  bool charge(ResourceKind kind, uint64_t amount);
  void refund(ResourceKind kind, uint64_t amount);
  uint64_t in_use(ResourceKind kind) const { return in_use_[static_cast<size_t>(kind)].load(); }

  // Drops one application reference on `id` and refunds its charge if it was the last.
  bool release_handle(uint64_t id);

  // The guest process's memory, for direct transfers on the same host (server/peer_memory.h).
  PeerMemory& peer_memory() { return peer_memory_; }

  // Callback slots (CallbackSlot): a `many` slot is kept until the session ends.
  CallbackSlot* new_callback_slot(uint64_t callback_id, bool once);
  // A once slot's callback ran (its trampoline, after notifying the guest).
  void callback_fired(CallbackSlot* slot);
  // The call that registered the slot returned; `vendor_kept` false when it failed, after which the
  // vendor will not call back (if it has already, the slot goes now all the same).
  void callback_call_done(CallbackSlot* slot, bool vendor_kept);

  // Counters for status and metrics.
  struct Stats {
    std::atomic<uint64_t> calls{0}, batches{0}, bytes_in{0}, bytes_out{0}, errors{0};
  };
  Stats& stats() { return stats_; }

 private:
  friend struct Call;
  // Per-thread buffers for serving batches (several threads serve at once after a promotion).
  struct Worker {
    wire::Writer reply;
    std::vector<wire::Segment> segs, body;
    bool handed_off = false;  // this thread gave up leadership during its current batch
    transport::Message copy;  // a lent message's private copy (serve_batch); capacity is reused
    ScratchCache scratch;
    HandleTable::Cache handles;
  };
  Status serve_batch(transport::Message& msg, Worker& w, bool* done);
  Status send_reply(Worker& w, uint32_t tag, protocol::ReplyStatus status, bool with_body);
  void promote_follower();
  Status receive_guarded(transport::Message& msg);
  void thread_loop(bool start_as_leader);

  const ApiServer& api_;
  transport::Connection conn_;
  SessionOptions options_;
  const protocol::ServedOpcodes served_;  // options_.served, or every opcode of the API
  HandleTable handles_;
  PeerMemory peer_memory_;
  Stats stats_;
  std::atomic<uint64_t> in_use_[static_cast<size_t>(ResourceKind::kCount)] = {};

  std::mutex reply_mu_;   // serialises sends on the calls channel
  std::mutex events_mu_;  // serialises sends on the events channel
  std::atomic<uint64_t> deferred_sent_{0};
  std::mutex deferred_mu_;
  std::vector<std::shared_ptr<DeferredOp>> deferred_pending_;
  void flush_completed_deferred();

  std::mutex async_err_mu_;
  uint32_t async_err_opcode_ = 0;
  int64_t async_err_value_ = 0;

  // Leader/follower. Followers live until the session ends: their number is bounded by how many
  // blocking calls the guest's threads have had in flight at once.
  std::mutex lf_mu_;
  std::condition_variable lf_cv_;
  bool leader_present_ = false;
  int idle_followers_ = 0;
  std::vector<std::thread> followers_;
  std::atomic<bool> ending_{false};
  std::mutex slots_mu_;
  std::vector<std::unique_ptr<CallbackSlot>> many_slots_;
  Status end_reason_;

  std::mutex record_mu_;
  int record_fd_ = -1;  // SessionOptions::record_dir's file, or -1
  void record(const transport::Message& msg);
};

}  // namespace remora::server
