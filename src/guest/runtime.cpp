#include "guest/runtime.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "common/log.h"
#include "transport/shm.h"
#include "transport/sockets.h"
#include "transport/tls.h"

namespace remora::guest {

using protocol::CallHeader;
using protocol::MessageHeader;
using protocol::MessageType;

namespace {

// A process-wide fact rather than per-runtime state: after fork() the child shares the parent's
// session, and any use of it from the child would corrupt both.
std::atomic<bool> g_forked_child{false};
void note_fork_child() { g_forked_child.store(true); }

std::string env_or(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

bool parse_u64(const std::string& s, uint64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || end == nullptr || *end != '\0') return false;
  *out = v;
  return true;
}

std::string program_name() {
  std::ifstream f("/proc/self/comm");
  std::string name;
  std::getline(f, name);
  return name;
}

// Retired objects kept before their memory is reused, so that a recently released handle is still
// recognised as dead. Older stale handles are as undefined as they are natively.
constexpr size_t kQuarantine = 4096;

}  // namespace

// ---- Options ---------------------------------------------------------------------------------------

Options Options::from_env(std::string* error) {
  Options o;
  std::string problems;
  auto complain = [&](const std::string& msg) {
    if (!problems.empty()) problems += "; ";
    problems += msg;
  };
  o.connect = env_or("REMORA_CONNECT");
  if (const std::string t = env_or("REMORA_TRANSPORT"); !t.empty()) {
    if (!transport::parse_transport_kind(t, &o.transport).ok())
      complain("REMORA_TRANSPORT must be shm, unix or tcp (got '" + t + "')");
  } else if (o.connect.rfind("tcp:", 0) == 0 || o.connect.rfind("tls:", 0) == 0) {
    o.transport = transport::TransportKind::kTcp;
  }
  o.tenant = env_or("REMORA_TENANT");
  o.token = env_or("REMORA_TOKEN");
  if (const std::string f = env_or("REMORA_TOKEN_FILE"); !f.empty() && o.token.empty()) {
    std::ifstream in(f);
    if (!in) complain("cannot read REMORA_TOKEN_FILE " + f);
    std::getline(in, o.token);
  }
  o.tls_ca = env_or("REMORA_TLS_CA");
  o.tls_cert = env_or("REMORA_TLS_CERT");
  o.tls_key = env_or("REMORA_TLS_KEY");
  o.all_sync = env_or("REMORA_SYNC") == "1";
  uint64_t v = 0;
  if (const std::string s = env_or("REMORA_BATCH_BYTES"); !s.empty()) {
    if (parse_u64(s, &v) && v >= 4096) o.batch_bytes = v;
    else complain("REMORA_BATCH_BYTES must be a number >= 4096");
  }
  if (const std::string s = env_or("REMORA_FLUSH_US"); !s.empty()) {
    if (parse_u64(s, &v)) o.flush_interval = std::chrono::microseconds(v);
    else complain("REMORA_FLUSH_US must be a number of microseconds");
  }
  if (const std::string s = env_or("REMORA_CALL_TIMEOUT_MS"); !s.empty()) {
    if (parse_u64(s, &v)) o.call_timeout = std::chrono::milliseconds(v);
    else complain("REMORA_CALL_TIMEOUT_MS must be a number of milliseconds");
  }
  if (const std::string s = env_or("REMORA_TCP_TIMEOUT_MS"); !s.empty()) {
    if (parse_u64(s, &v) && v > 0) o.tcp_timeout = std::chrono::milliseconds(v);
    else complain("REMORA_TCP_TIMEOUT_MS must be a number of milliseconds > 0");
  }
  if (const std::string s = env_or("REMORA_CONNECT_TIMEOUT_MS"); !s.empty()) {
    if (parse_u64(s, &v)) o.connect_timeout = std::chrono::milliseconds(v);
    else complain("REMORA_CONNECT_TIMEOUT_MS must be a number of milliseconds");
  }
  if (error) *error = problems;
  return o;
}

// ---- Objects ---------------------------------------------------------------------------------------

Objects::~Objects() {
  for (Object* o : all_) delete o;
  for (Object* o : quarantine_) delete o;
}

Object* Objects::make_locked(uint64_t id, uint32_t type) {
  auto* o = new Object;
  o->dispatch = dispatch_;
  o->id = id;
  o->type = type;
  o->magic = Object::kLive;
  all_.insert(o);
  by_id_[id] = o;
  return o;
}

Object* Objects::from_id(uint64_t id, uint32_t type) {
  if (id == 0) return nullptr;
  std::lock_guard lock(mu_);
  if (auto it = by_id_.find(id); it != by_id_.end()) return it->second->type == type ? it->second : nullptr;
  if (auto it = dead_by_id_.find(id); it != dead_by_id_.end()) return it->second->type == type ? it->second : nullptr;
  return make_locked(id, type);
}

Object* Objects::create(uint32_t type) {
  std::lock_guard lock(mu_);
  Object* o = make_locked(next_guest_id_++, type);
  o->app_refs.store(1, std::memory_order_relaxed);
  return o;
}

bool Objects::to_id(const void* handle, uint32_t type, uint64_t* id) const {
  if (reinterpret_cast<uintptr_t>(handle) < kMinObjectAddress) {
    if (type < kMaxSpecialTypes && special_[type] != nullptr && !special_[type](handle, &handle)) return false;
    if (handle == nullptr) {
      *id = 0;
      return true;
    }
    if (reinterpret_cast<uintptr_t>(handle) < kMinObjectAddress) return false;
  }
  const Object* o = static_cast<const Object*>(handle);
  if (o->magic != Object::kLive || !type_ok(o->type, type)) return false;
  *id = o->id;
  return true;
}

bool Objects::drop_ref(Object* o) {
  if (o->app_refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return false;
  retire(o);
  return true;
}

bool Objects::live(const void* p, uint32_t* type) const {
  std::lock_guard lock(mu_);
  auto it = all_.find(static_cast<Object*>(const_cast<void*>(p)));
  if (it == all_.end()) return false;
  if (type != nullptr) *type = (*it)->type;
  return true;
}

void Objects::retire(Object* o) {
  {
    std::lock_guard lock(mu_);
    if (!retire_locked(o)) return;
  }
  // Outside the lock: the hook may look other objects up. `o` stays allocated (the quarantine).
  if (o->type < num_hooks_ && retire_hooks_[o->type] != nullptr) retire_hooks_[o->type](o);
}

bool Objects::retire_locked(Object* o) {
  if (o->magic != Object::kLive) return false;
  o->magic = Object::kDead;
  if (auto it = by_id_.find(o->id); it != by_id_.end() && it->second == o) by_id_.erase(it);
  all_.erase(o);
  quarantine_.push_back(o);
  dead_by_id_[o->id] = o;
  if (quarantine_.size() > kQuarantine) {
    Object* oldest = quarantine_.front();
    quarantine_.pop_front();
    if (auto it = dead_by_id_.find(oldest->id); it != dead_by_id_.end() && it->second == oldest) dead_by_id_.erase(it);
    delete oldest;
  }
  return true;
}

// ---- Callbacks and deferred targets -------------------------------------------------------------------

uint64_t Callbacks::add(CallbackInvoker invoke, void* fn, void* user_data, bool once) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_++;
  entries_.emplace(id, Entry{invoke, fn, user_data, once});
  return id;
}

bool Callbacks::take(uint64_t id, CallbackInvoker* invoke, void** fn, void** user_data) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  *invoke = it->second.invoke;
  *fn = it->second.fn;
  *user_data = it->second.user_data;
  if (it->second.once) entries_.erase(it);
  return true;
}

void Callbacks::remove(uint64_t id) {
  std::lock_guard lock(mu_);
  entries_.erase(id);
}

uint64_t DeferredTargets::expect(void* dst, uint64_t size) {
  std::lock_guard lock(mu_);
  const uint64_t token = next_++;
  targets_.emplace(token, std::make_pair(dst, size));
  return token;
}

bool DeferredTargets::take(uint64_t token, void** dst, uint64_t* size) {
  std::lock_guard lock(mu_);
  auto it = targets_.find(token);
  if (it == targets_.end()) return false;
  *dst = it->second.first;
  *size = it->second.second;
  targets_.erase(it);
  return true;
}

void DeferredTargets::cancel(uint64_t token) {
  std::lock_guard lock(mu_);
  targets_.erase(token);
}

// ---- Runtime: threads' slots -------------------------------------------------------------------------

// Per (runtime, thread) state: the thread's argument Writer and its reply mailbox. Tag = index + 1.
struct Runtime::ThreadSlot {
  uint32_t tag = 0;
  wire::Writer args;
  bool has_reply = false;
  transport::Message reply;
  bool in_use = false;
};

struct Runtime::SlotPool {
  std::mutex mu;                    // also the Runtime's route_mu_
  std::vector<ThreadSlot*> slots;   // slots[tag - 1]; owned
  ~SlotPool() {
    for (ThreadSlot* s : slots) delete s;
  }
};

namespace {
std::atomic<uint64_t> g_runtime_serial{1};

// A thread's slots, one per Runtime it has called through; returned to their pools when the thread
// exits. Keyed by the Runtime's serial, since a new Runtime may reuse a destroyed one's address.
struct ThreadSlotRef {
  uint64_t serial;
  std::shared_ptr<void> pool;  // keeps the pool alive until this thread is done with it
  void* slot;
  void (*give_back)(void* pool, void* slot);
};
struct ThreadSlots {
  std::vector<ThreadSlotRef> refs;
  ~ThreadSlots() {
    for (auto& r : refs) r.give_back(r.pool.get(), r.slot);
  }
};
thread_local ThreadSlots t_slots;
// The slot this thread used last, looked up on every call. Trivially constructible and destructible,
// so an access is a plain TLS load with no initialisation check (t_slots has a destructor, hence a
// guard on each access); a thread normally calls through one Runtime only.
struct LastSlot {
  uint64_t serial;
  void* slot;
};
thread_local LastSlot t_last_slot{0, nullptr};
}  // namespace

Runtime::ThreadSlot& Runtime::my_slot() {
  if (t_last_slot.serial == serial_) return *static_cast<ThreadSlot*>(t_last_slot.slot);
  for (const auto& r : t_slots.refs)
    if (r.serial == serial_) {
      t_last_slot = LastSlot{serial_, r.slot};
      return *static_cast<ThreadSlot*>(r.slot);
    }
  std::lock_guard lock(pool_->mu);
  ThreadSlot* slot = nullptr;
  for (ThreadSlot* s : pool_->slots)
    if (!s->in_use) {
      slot = s;
      break;
    }
  if (slot == nullptr) {
    slot = new ThreadSlot;
    pool_->slots.push_back(slot);
    slot->tag = static_cast<uint32_t>(pool_->slots.size());
  }
  slot->in_use = true;
  slot->has_reply = false;
  threads_seen_.fetch_add(1, std::memory_order_relaxed);
  t_slots.refs.push_back(ThreadSlotRef{serial_, pool_, slot, [](void* p, void* s) {
                                         auto* pool = static_cast<SlotPool*>(p);
                                         auto* slot = static_cast<ThreadSlot*>(s);
                                         std::lock_guard l(pool->mu);
                                         slot->in_use = false;
                                         slot->has_reply = false;
                                         slot->reply.reset();
                                       }});
  t_last_slot = LastSlot{serial_, slot};
  return *slot;
}

// ---- Runtime: life cycle -----------------------------------------------------------------------------

Runtime::Runtime(const ApiDescriptor& api, void* dispatch)
    : api_(api),
      objects_(dispatch, api.num_handle_types, api.retire_hooks, api.handle_accepts),
      serial_(g_runtime_serial.fetch_add(1)),
      pool_(std::make_shared<SlotPool>()),
      route_mu_(pool_->mu) {

  static std::once_flag atfork_once;
  std::call_once(atfork_once, [] { pthread_atfork(nullptr, nullptr, &note_fork_child); });
}

Runtime::~Runtime() {
  shutdown();
}

void Runtime::shutdown() {
  // Set first: the server closes its end after our goodbye, which the events thread must not take
  // for the server dying.
  const bool was_stopping = stopping_.exchange(true);
  if (was_stopping) return;
  if (state_.load() == State::kConnected && !g_forked_child.load()) {
    (void)flush();
    MessageHeader bye{protocol::kMagic, static_cast<uint16_t>(MessageType::kGoodbye), 0, 0, 0};
    const wire::Segment seg{reinterpret_cast<const uint8_t*>(&bye), sizeof bye};
    std::lock_guard lock(batch_mu_);
    (void)conn_.calls->send({&seg, 1});
  }
  {
    std::lock_guard lock(batch_mu_);
    batch_cv_.notify_all();
  }
  {
    std::lock_guard lock(flusher_mu_);
    flusher_cv_.notify_all();
  }
  if (conn_.calls) conn_.calls->close();
  if (conn_.events) conn_.events->close();
  // exit() may run on one of our own threads (an application callback calling exit): never join self.
  for (std::thread* t : {&events_thread_, &flusher_thread_}) {
    if (!t->joinable()) continue;
    if (t->get_id() == std::this_thread::get_id()) t->detach();
    else t->join();
  }
}

void shut_down_at_exit(Runtime* rt) {
  static std::mutex mu;
  static std::vector<Runtime*>* runtimes = new std::vector<Runtime*>;  // never destroyed, like them
  std::lock_guard lock(mu);
  if (runtimes->empty()) std::atexit([] {
    std::vector<Runtime*> all;
    {
      std::lock_guard inner(mu);
      all.swap(*runtimes);
    }
    for (Runtime* r : all) r->shutdown();
  });
  runtimes->push_back(rt);
}

Status Runtime::ensure_connected() {
  if (stopping_.load(std::memory_order_acquire))
    return Status(Code::kClosed, "remora's guest library has shut down (the process is exiting)");
  if (g_forked_child.load(std::memory_order_relaxed) && state_.load() == State::kConnected)
    return Status(Code::kClosed, "the remora session belongs to the parent process; a forked child cannot use it");
  const State s = state_.load(std::memory_order_acquire);
  if (s == State::kConnected) return Status::Ok();
  std::lock_guard lock(connect_mu_);
  if (state_.load() == State::kConnected) return Status::Ok();
  if (state_.load() == State::kFailed) return failure_;
  state_ = State::kConnecting;
  Status st = connect_locked();
  if (!st.ok()) {
    failure_ = st;
    state_ = State::kFailed;
    log::error("cannot reach the remora server: {}", st.message());
    return st;
  }
  state_ = State::kConnected;
  return st;
}

namespace {

Status send_handshake(transport::Channel& ch, const protocol::Hello& hello) {
  wire::Writer w;
  w.put(MessageHeader{protocol::kMagic, static_cast<uint16_t>(MessageType::kHello), 0, 0, 0});
  protocol::encode(hello, &w);
  std::vector<wire::Segment> segs;
  w.segments(&segs);
  return ch.send(segs);
}

Status receive_welcome(transport::Channel& ch, transport::Deadline deadline, protocol::Welcome* welcome) {
  transport::Message m;
  Status st = ch.receive(&m, deadline);
  if (!st.ok()) return Status(st.code(), "no answer to the handshake: " + st.message());
  wire::Reader r(m.bytes());
  const auto h = r.get<MessageHeader>();
  if (!r.ok() || h.magic != protocol::kMagic) return Status(Code::kMalformed, "the server's answer is not remora's");
  if (h.type == static_cast<uint16_t>(MessageType::kRefuse)) {
    const char* why = r.get_string();
    return Status(Code::kRefused, std::string("the server refused the session: ") + (why ? why : "no reason given"));
  }
  if (h.type != static_cast<uint16_t>(MessageType::kWelcome) || !protocol::decode(&r, welcome))
    return Status(Code::kMalformed, "malformed handshake answer");
  return Status::Ok();
}

}  // namespace

Status Runtime::connect_locked() {
  std::string problems;
  options_ = Options::from_env(&problems);
  if (!problems.empty()) log::warn("ignoring bad settings: {}", problems);
  if (options_.connect.empty())
    return Status(Code::kInvalid, "REMORA_CONNECT is not set; start the program with `remora run -- PROGRAM`");
  transport::Endpoint ep;
  if (Status st = transport::Endpoint::parse(options_.connect, &ep); !st.ok())
    return Status(Code::kInvalid, "REMORA_CONNECT: " + st.message());
  const bool shm = options_.transport == transport::TransportKind::kShm;
  if (shm && ep.kind != transport::Endpoint::Kind::kUnix)
    return Status(Code::kInvalid, "the shm transport needs a unix: endpoint (got " + ep.str() + ")");
  const transport::Deadline deadline = transport::after(options_.connect_timeout);

  protocol::Hello hello;
  hello.api = api_.name;
  hello.opcodes = api_.opcodes.list();
  hello.tenant = options_.tenant;
  hello.token = options_.token;
  hello.pid = static_cast<int32_t>(getpid());
  hello.program = program_name();
  hello.transport = shm ? protocol::kTransportShm : protocol::kTransportStream;

  std::shared_ptr<transport::TlsContext> tls;
  if (ep.kind == transport::Endpoint::Kind::kTls) {
    const transport::TlsClientConfig tc{options_.tls_ca, options_.tls_cert, options_.tls_key};
    if (Status st = transport::TlsContext::client(tc, &tls); !st.ok()) return st;
  }
  protocol::Welcome welcome;
  if (shm) {
    transport::Fd fd;
    if (Status st = transport::dial(ep, &fd, deadline); !st.ok()) return st;
    const char* kind = "unix";
    // Handshake over a duplicate of the socket; the original then carries the shared memory's fd.
    {
      auto hs = transport::make_stream_channel(transport::Fd(::dup(fd.get())), kind);
      if (Status st = send_handshake(*hs, hello); !st.ok()) return st;
      if (Status st = receive_welcome(*hs, deadline, &welcome); !st.ok()) return st;
    }
    if (Status st = transport::shm_attach(std::move(fd), deadline, &conn_); !st.ok()) return st;
  } else {
    // The calls channel spins longer for replies: a call is in flight, so its reply will come.
    if (Status st = transport::dial_channel(ep, tls.get(), deadline, &conn_.calls, options_.tcp_timeout,
                                            transport::kStreamReplySpin);
        !st.ok())
      return st;
    if (Status st = send_handshake(*conn_.calls, hello); !st.ok()) return st;
    if (Status st = receive_welcome(*conn_.calls, deadline, &welcome); !st.ok()) return st;
    if (Status st = transport::dial_channel(ep, tls.get(), deadline, &conn_.events, options_.tcp_timeout); !st.ok()) return st;
    hello.channel = 1;
    hello.session = welcome.session;
    hello.session_key = welcome.session_key;
    protocol::Welcome second;
    if (Status st = send_handshake(*conn_.events, hello); !st.ok()) return st;
    if (Status st = receive_welcome(*conn_.events, deadline, &second); !st.ok()) return st;
  }
  served_ = welcome.served;
  server_pid_.store(welcome.server_pid, std::memory_order_release);
  log::info("connected to {} over {} (session {}, server pid {})", ep.str(),
            transport::transport_kind_name(options_.transport), welcome.session, welcome.server_pid);
  events_thread_ = std::thread([this] { events_loop(); });
  flusher_thread_ = std::thread([this] { flusher_loop(); });
  return Status::Ok();
}

Status Runtime::adopt(transport::Connection conn) {
  std::lock_guard lock(connect_mu_);
  if (state_.load() != State::kIdle) return Status(Code::kInvalid, "runtime already connected");
  std::string problems;
  options_ = Options::from_env(&problems);
  conn_ = std::move(conn);
  served_ = protocol::ServedOpcodes::all(api_.num_opcodes);  // no handshake: the peer is the caller's
  events_thread_ = std::thread([this] { events_loop(); });
  flusher_thread_ = std::thread([this] { flusher_loop(); });
  state_ = State::kConnected;
  return Status::Ok();
}

void Runtime::fail_all(const Status& why) {
  {
    std::lock_guard lock(connect_mu_);
    if (state_.load() != State::kFailed) {
      failure_ = why;
      state_ = State::kFailed;
      if (!stopping_.load()) log::error("lost the remora server: {}", why.message());
    }
  }
  if (conn_.calls) conn_.calls->close();
  {
    std::lock_guard lock(route_mu_);
    route_cv_.notify_all();
  }
  {
    std::lock_guard lock(deferred_mu_);
    deferred_cv_.notify_all();
  }
}

// ---- Runtime: calls ------------------------------------------------------------------------------------

namespace {
thread_local bool t_force_sync = false;
}  // namespace

SyncScope::SyncScope() : previous_(t_force_sync) { t_force_sync = true; }
SyncScope::~SyncScope() { t_force_sync = previous_; }

bool Runtime::async_enabled() const { return !options_.all_sync && !t_force_sync; }

wire::Writer& Runtime::begin_call(bool queue) {
  if (!queue) {
    ThreadSlot& slot = my_slot();
    slot.args.clear();
    return slot.args;
  }
  // Unlocked in end_async. The header's size is known only then: a placeholder goes in now.
  batch_mu_.lock();
  queuing_thread_.store(pthread_self(), std::memory_order_relaxed);
  queued_header_ = batch_.inline_size();
  batch_.put(CallHeader{});
  queued_start_ = batch_.size();
  return batch_;
}

Status Runtime::end_async(uint32_t opcode) {
  std::unique_lock lock(batch_mu_, std::defer_lock);
  const bool was_empty = [&] {
    if (queuing_thread_.load(std::memory_order_relaxed) == pthread_self()) {
      queuing_thread_.store(0, std::memory_order_relaxed);
      lock = std::unique_lock(batch_mu_, std::adopt_lock);  // taken by begin_call(true)
      return batch_count_ == 0;
    }
    ThreadSlot& slot = my_slot();
    lock.lock();
    const bool empty = batch_count_ == 0;
    batch_.put(CallHeader{});
    queued_header_ = batch_.inline_size() - sizeof(CallHeader);
    queued_start_ = batch_.size();
    batch_.append(slot.args);
    return empty;
  }();
  batch_.patch(queued_header_, CallHeader{opcode, 0, batch_.size() - queued_start_});
  ++batch_count_;  // even when the session is gone: the batch stays well-formed
  if (state_.load(std::memory_order_acquire) != State::kConnected) return failure_or_closed();
  if (batch_.size() >= options_.batch_bytes) return send_batch_locked(0);
  if (was_empty) {
    batch_since_ = transport::Clock::now();
    if (flusher_idle_) batch_cv_.notify_one();
  }
  return Status::Ok();
}

Status Runtime::end_sync(uint32_t opcode, Reply* reply) {
  ThreadSlot& slot = my_slot();
  {
    std::unique_lock lock(batch_mu_);
    if (state_.load(std::memory_order_acquire) != State::kConnected) return failure_or_closed();
    uint32_t flags = protocol::kCallSync;
    if (threads_seen_.load(std::memory_order_relaxed) > 1) flags |= protocol::kCallConcurrent;
    // The call goes last in the batch, sent straight from the thread's own Writer: no copy of its
    // arguments into the batch (every synchronous call takes this path).
    const CallHeader ch{opcode, flags, slot.args.size()};
    if (Status st = send_batch_locked(slot.tag, &ch, &slot.args); !st.ok()) return st;
  }
  if (Status st = wait_reply(slot, reply); !st.ok()) return st;
  // Deferred data that completed before this reply must be in place before the caller sees it.
  if (reply->header.deferred_sent > deferred_applied_.load(std::memory_order_acquire)) {
    std::unique_lock lock(deferred_mu_);
    deferred_cv_.wait(lock, [&] {
      return deferred_applied_.load() >= reply->header.deferred_sent || state_.load() == State::kFailed;
    });
    if (state_.load() == State::kFailed) return failure_or_closed();
  }
  if (reply->header.async_error_opcode != 0) note_async_error(reply->header);
  if (reply->header.status != static_cast<uint32_t>(protocol::ReplyStatus::kOk))
    return Status(Code::kMalformed, "the server could not process " + opcode_name(opcode));
  return Status::Ok();
}

namespace {
constexpr size_t kMaxCacheEntries = 4096;

std::string cache_key(uint32_t opcode, const wire::Writer& args) {
  std::string key(reinterpret_cast<const char*>(&opcode), sizeof opcode);
  std::vector<wire::Segment> segs;
  args.segments(&segs);
  for (const auto& s : segs) key.append(reinterpret_cast<const char*>(s.data), s.size);
  return key;
}
}  // namespace

bool Runtime::cache_lookup(uint32_t opcode, Reply* reply) {
  ThreadSlot& slot = my_slot();
  const std::string key = cache_key(opcode, slot.args);
  std::shared_lock lock(cache_mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return false;
  const std::vector<uint8_t>& body = it->second;
  std::memcpy(reply->message.own(body.size()), body.data(), body.size());
  reply->header = protocol::ReplyHeader{};
  reply->body = wire::Reader(reply->message.bytes());
  return true;
}

void Runtime::cache_store(uint32_t opcode, const wire::Reader& body) {
  ThreadSlot& slot = my_slot();
  std::string key = cache_key(opcode, slot.args);
  const uint8_t* start = body.position();
  std::vector<uint8_t> bytes(start, start + body.remaining());
  std::unique_lock lock(cache_mu_);
  if (cache_.size() >= kMaxCacheEntries) return;
  cache_.emplace(std::move(key), std::move(bytes));
}

Status Runtime::flush() {
  std::lock_guard lock(batch_mu_);
  if (batch_count_ == 0) return Status::Ok();
  if (state_.load() != State::kConnected) return failure_or_closed();
  return send_batch_locked(0);
}

void Runtime::announce_pause() {
  std::lock_guard lock(batch_mu_);
  if (state_.load() != State::kConnected) return;
  if (batch_count_ > 0 && !send_batch_locked(0).ok()) return;
  const MessageHeader mh{protocol::kMagic, static_cast<uint16_t>(MessageType::kBatch), protocol::kBatchPauseFollows,
                         0, 0};
  const wire::Segment seg{reinterpret_cast<const uint8_t*>(&mh), sizeof mh};
  (void)conn_.calls->send(std::span<const wire::Segment>(&seg, 1));
}

Status Runtime::send_batch_locked(uint32_t tag, const CallHeader* last, const wire::Writer* last_args) {
  const uint32_t count = batch_count_ + (last != nullptr ? 1 : 0);
  MessageHeader mh{protocol::kMagic, static_cast<uint16_t>(MessageType::kBatch), 0, tag, count};
  segs_.clear();
  segs_.push_back({reinterpret_cast<const uint8_t*>(&mh), sizeof mh});
  batch_.segments(&batch_segs_);
  segs_.insert(segs_.end(), batch_segs_.begin(), batch_segs_.end());
  if (last != nullptr) {
    segs_.push_back({reinterpret_cast<const uint8_t*>(last), sizeof *last});
    last_args->segments(&batch_segs_);
    segs_.insert(segs_.end(), batch_segs_.begin(), batch_segs_.end());
  }
  const Status st = conn_.calls->send(segs_);
  batch_.clear();
  batch_count_ = 0;
  ++batch_serial_;
  if (!st.ok()) {
    const Status lost(Code::kClosed, "sending to the server failed: " + st.message());
    // fail_all takes other locks only; batch_mu_ is held by our caller, which is fine.
    fail_all(lost);
    return lost;
  }
  return Status::Ok();
}

Status Runtime::wait_reply(ThreadSlot& slot, Reply* reply) {
  const transport::Deadline deadline =
      options_.call_timeout.count() > 0 ? transport::after(options_.call_timeout) : transport::no_deadline();
  std::unique_lock lock(route_mu_);
  for (;;) {
    if (slot.has_reply) {
      slot.has_reply = false;
      reply->message = std::move(slot.reply);
      break;
    }
    if (state_.load() == State::kFailed) return failure_or_closed();
    if (reader_active_) {
      // Another thread is receiving; it hands us our reply or the reader role.
      if (route_cv_.wait_until(lock, deadline) == std::cv_status::timeout && !slot.has_reply) {
        lock.unlock();
        const Status t(Code::kTimeout, "no reply within REMORA_CALL_TIMEOUT_MS");
        fail_all(t);
        return t;
      }
      continue;
    }
    reader_active_ = true;
    lock.unlock();
    transport::Message m;
    const Status st = conn_.calls->receive(&m, deadline);
    lock.lock();
    reader_active_ = false;
    if (!st.ok()) {
      lock.unlock();
      const Status lost = st.code() == Code::kTimeout ? Status(Code::kTimeout, "no reply within REMORA_CALL_TIMEOUT_MS")
                                                       : Status(Code::kClosed, "the server went away: " + st.message());
      fail_all(lost);
      return lost;
    }
    MessageHeader h{};
    if (m.size() >= sizeof h) std::memcpy(&h, m.bytes().data(), sizeof h);
    if (h.magic != protocol::kMagic || h.type != static_cast<uint16_t>(MessageType::kReply) || h.tag == 0 ||
        h.tag > pool_->slots.size()) {
      lock.unlock();
      const Status bad(Code::kMalformed, "malformed reply from the server");
      fail_all(bad);
      return bad;
    }
    if (h.tag == slot.tag) {
      reply->message = std::move(m);
      route_cv_.notify_all();  // someone else may take the reader role now
      break;
    }
    ThreadSlot* other = pool_->slots[h.tag - 1];
    other->reply = std::move(m);
    other->has_reply = true;
    route_cv_.notify_all();
  }
  lock.unlock();
  const auto bytes = reply->message.bytes();
  wire::Reader r(bytes);
  (void)r.get<MessageHeader>();
  reply->header = r.get<protocol::ReplyHeader>();
  if (!r.ok()) return Status(Code::kMalformed, "truncated reply");
  reply->body = wire::Reader(bytes.subspan(bytes.size() - r.remaining()));
  return Status::Ok();
}

void Runtime::note_async_error(const protocol::ReplyHeader& h) {
  std::lock_guard lock(async_err_mu_);
  if (async_err_opcode_ == 0) {
    async_err_opcode_ = h.async_error_opcode;
    async_err_value_ = h.async_error_value;
  }
}

bool Runtime::take_async_error(uint32_t* opcode, int64_t* value) {
  std::lock_guard lock(async_err_mu_);
  if (async_err_opcode_ == 0) return false;
  *opcode = async_err_opcode_;
  *value = async_err_value_;
  log::warn("an earlier asynchronous {} failed with {}; reported at this synchronisation point",
            opcode_name(async_err_opcode_), async_err_value_);
  async_err_opcode_ = 0;
  async_err_value_ = 0;
  return true;
}

std::string Runtime::opcode_name(uint32_t opcode) const {
  if (opcode < api_.num_opcodes && api_.opcode_names[opcode] != nullptr && api_.opcode_names[opcode][0] != '\0')
    return api_.opcode_names[opcode];
  return "opcode " + std::to_string(opcode);
}

Status Runtime::failure_or_closed() const {
  if (!failure_.ok()) return failure_;
  return Status(Code::kClosed, "not connected to the remora server");
}

void Runtime::log_error(const std::string& msg) const { log::error("{}", msg); }

void Runtime::unserved(uint32_t opcode) {
  {
    std::lock_guard lock(unserved_mu_);
    if (!unserved_logged_.insert(opcode).second) return;
  }
  log::error("{} (opcode {}) is not served by this {} server (it was built from a spec that lacks it or "
             "declares it differently): the call answers \"not supported\"",
             opcode_name(opcode), opcode, api_.name);
}

// ---- Runtime: background threads -------------------------------------------------------------------------

void Runtime::events_loop() {
  transport::Message m;
  while (!stopping_.load()) {
    const Status st = conn_.events->receive(&m, transport::no_deadline());
    if (!st.ok()) {
      if (!stopping_.load()) fail_all(Status(Code::kClosed, "the server went away: " + st.message()));
      return;
    }
    wire::Reader r(m.bytes());
    const auto h = r.get<MessageHeader>();
    if (!r.ok() || h.magic != protocol::kMagic) {
      fail_all(Status(Code::kMalformed, "malformed event from the server"));
      return;
    }
    if (h.type == static_cast<uint16_t>(MessageType::kCallback)) {
      const uint64_t id = r.get_u64();
      CallbackInvoker invoke = nullptr;
      void* fn = nullptr;
      void* user_data = nullptr;
      if (r.ok() && callbacks_.take(id, &invoke, &fn, &user_data)) invoke(*this, fn, user_data, r);
      else log::warn("callback {} from the server is unknown; ignored", id);
    } else if (h.type == static_cast<uint16_t>(MessageType::kDeferred)) {
      const uint64_t token = r.get_u64();
      const auto status = r.get<int64_t>();
      bool absent = false;
      const auto data = r.get_bytes(&absent);
      void* dst = nullptr;
      uint64_t size = 0;
      if (r.ok() && deferred_.take(token, &dst, &size) && status == 0 && !absent)
        std::memcpy(dst, data.data(), std::min<uint64_t>(size, data.size()));
      deferred_applied_.fetch_add(1, std::memory_order_release);
      std::lock_guard lock(deferred_mu_);
      deferred_cv_.notify_all();
    } else {
      log::warn("unexpected event type {} from the server; ignored", h.type);
    }
    // Let go of the message before waiting for the next: a large one is lent from the transport's
    // bulk area, which the server needs back to send anything else large.
    m.reset();
  }
}

void Runtime::flusher_loop() {
  std::unique_lock lock(batch_mu_);
  while (!stopping_.load()) {
    if (batch_count_ == 0) {
      flusher_idle_ = true;
      batch_cv_.wait(lock, [this] { return stopping_.load() || batch_count_ > 0; });
      flusher_idle_ = false;
      continue;
    }
    // Give the application a moment to add calls or reach a synchronous call, which flushes for
    // free; sleep without batch_mu_, which the calls being queued take every time.
    const uint64_t serial = batch_serial_;
    const transport::Clock::time_point due = batch_since_ + options_.flush_interval;
    lock.unlock();
    {
      std::unique_lock sleep(flusher_mu_);
      flusher_cv_.wait_until(sleep, due, [this] { return stopping_.load(); });
    }
    lock.lock();
    // A batch sent meanwhile was someone else's to send; a newer one has a later due time.
    if (batch_serial_ == serial && batch_count_ > 0 && state_.load() == State::kConnected) (void)send_batch_locked(0);
  }
}

}  // namespace remora::guest
