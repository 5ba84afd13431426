// Server-side glue for the daemon's tenant policies that need OpenCL knowledge: fair sharing of
// device time (measuring each kernel's device time, gating launches) and per-tenant device visibility.
// The policy itself is the session's server::Policy (the daemon's TenantPolicy, server/tenant_usage.h);
// without one (a session outside the daemon) every hook here behaves like the vendor call.
//
// Measuring. Every queue is created with CL_QUEUE_PROFILING_ENABLE added; a queue whose guest did not
// ask for profiling is remembered, and for it clGetEventProfilingInfo answers
// CL_PROFILING_INFO_NOT_AVAILABLE and clGetCommandQueueInfo masks the flag, as the vendor would have.
// Each kernel launch (clEnqueueNDRangeKernel, clEnqueueTask) gets a completion callback that adds
// CL_PROFILING_COMMAND_END - CL_PROFILING_COMMAND_START to the tenant (Policy::launch_done). Where the
// vendor gives no profiling data (a queue that refused the flag), the callback uses wall time since
// the later of the enqueue and the previous completion in this process: an overestimate while the
// command waited behind others of the same session, never an underestimate.
//
// Not measured: transfers, fills and copies (clEnqueueRead/Write/Copy/Fill*, maps): they pass neither
// the gate nor the accounting. TODO(perf): gate large copies too, as docs/daemon.md plans.
//
// Device list. Index i of the server's device list is the i-th device of CL_DEVICE_TYPE_ALL over the
// platforms in clGetPlatformIDs order; a tenant's `devices = [...]` names such indices. Only
// clGetDeviceIDs and clCreateContextFromType produce devices from nothing; every other query returns
// devices of objects made from them (contexts, queues, programs) or sub-devices of them. A guest names
// objects only by the ids its session gave it (server/session.h, HandleTable), so a device this
// filter hid can never be named: any id for it is unknown, which the generated code answers with
// CL_INVALID_DEVICE.
//
// Process-wide state: one session runs per process (daemon/daemon.h), so the glue's few tables are per
// process, reached through process_state(); the session and its policy come with each hook's Call.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "opencl_server.h"  // generated
#include "server/session.h"

using remora::opencl::vendor;

namespace {

int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

struct ProcessState {
  // Queues remora turned profiling on for (the guest did not ask). An entry outlives its queue (no
  // destructor callback exists for queues) until a new queue at the same address replaces it.
  // TODO(perf): a guest creating and releasing queues at ever new addresses grows this set.
  std::mutex mu;
  std::unordered_set<cl_command_queue> profiling_hidden;
  // The last kernel completion in this process (CLOCK_MONOTONIC ns): the wall-time fallback.
  std::atomic<int64_t> last_completion{0};
};

ProcessState& process_state() {
  static ProcessState state;
  return state;
}

remora::server::Policy* session_policy(remora::server::Call& c) { return c.session.options().policy; }

void queue_created(cl_command_queue queue, bool guest_asked_profiling) {
  if (queue == nullptr) return;
  ProcessState& st = process_state();
  std::lock_guard lock(st.mu);
  if (guest_asked_profiling) {
    st.profiling_hidden.erase(queue);
  } else {
    st.profiling_hidden.insert(queue);
  }
}

bool profiling_hidden(cl_command_queue queue) {
  ProcessState& st = process_state();
  std::lock_guard lock(st.mu);
  return st.profiling_hidden.count(queue) != 0;
}

// ---- Launches ------------------------------------------------------------------------------------

struct LaunchTiming {
  remora::server::Policy* policy;
  int64_t enqueued_ns;
};

uint64_t device_time(cl_event event, cl_int status, int64_t enqueued_ns) {
  cl_ulong start = 0, end = 0;
  if (vendor().clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_START, sizeof start, &start, nullptr) ==
          CL_SUCCESS &&
      vendor().clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_END, sizeof end, &end, nullptr) ==
          CL_SUCCESS &&
      end >= start && start != 0) {
    return end - start;
  }
  if (status != CL_COMPLETE) return 0;
  const int64_t now = monotonic_ns();
  const int64_t since = std::max(enqueued_ns, process_state().last_completion.load());
  return now > since ? static_cast<uint64_t>(now - since) : 0;
}

void CL_CALLBACK launch_complete(cl_event event, cl_int status, void* user_data) {
  std::unique_ptr<LaunchTiming> timing(static_cast<LaunchTiming*>(user_data));
  const uint64_t ns = device_time(event, status, timing->enqueued_ns);
  process_state().last_completion.store(monotonic_ns());
  // The reference launch() took (or the local event's only one).
  vendor().clReleaseEvent(event);
  timing->policy->launch_done(ns);
}

// Runs `enqueue(event_out)` through the tenant's fair-share gate and arranges for its device time to
// be counted. `event` is the guest's out-parameter (nullptr when it asked for none).
template <typename Enqueue>
cl_int launch(remora::server::Call& c, cl_command_queue queue, cl_event* event, Enqueue enqueue) {
  remora::server::Policy* policy = session_policy(c);
  if (policy == nullptr) return enqueue(event);
  policy->before_launch();
  cl_event local = nullptr;
  const int64_t enqueued = monotonic_ns();
  const cl_int err = enqueue(event != nullptr ? event : &local);
  cl_event ev = event != nullptr ? *event : local;
  if (err != CL_SUCCESS || ev == nullptr) {
    policy->launch_done(0);
    return err;
  }
  // One reference for the callback: the guest's event may be released before the command completes.
  // Submitted now: the gate may wait for this command to complete, which a vendor that holds
  // commands until a flush would never do.
  vendor().clFlush(queue);
  if (event != nullptr) vendor().clRetainEvent(ev);
  auto timing = std::make_unique<LaunchTiming>(LaunchTiming{policy, enqueued});
  if (vendor().clSetEventCallback(ev, CL_COMPLETE, launch_complete, timing.get()) == CL_SUCCESS) {
    timing.release();
  } else {
    vendor().clReleaseEvent(ev);
    policy->launch_done(0);
  }
  return err;
}

// ---- Devices -------------------------------------------------------------------------------------

std::vector<cl_device_id> devices_of(cl_platform_id platform, cl_device_type type, cl_int* err) {
  cl_uint n = 0;
  *err = vendor().clGetDeviceIDs(platform, type, 0, nullptr, &n);
  if (*err != CL_SUCCESS) return {};
  std::vector<cl_device_id> out(n);
  *err = vendor().clGetDeviceIDs(platform, type, n, out.data(), &n);
  out.resize(*err == CL_SUCCESS ? std::min<size_t>(n, out.size()) : 0);
  return out;
}

// The index of `device` in the server's device list, or UINT32_MAX (which no tenant list names).
uint32_t device_index(cl_device_id device) {
  cl_uint np = 0;
  if (vendor().clGetPlatformIDs(0, nullptr, &np) != CL_SUCCESS || np == 0) return UINT32_MAX;
  std::vector<cl_platform_id> platforms(np);
  if (vendor().clGetPlatformIDs(np, platforms.data(), nullptr) != CL_SUCCESS) return UINT32_MAX;
  uint32_t index = 0;
  for (cl_platform_id p : platforms) {
    cl_int err = CL_SUCCESS;
    for (cl_device_id d : devices_of(p, CL_DEVICE_TYPE_ALL, &err)) {
      if (d == device) return index;
      ++index;
    }
  }
  return UINT32_MAX;
}

// The devices of `type` on `platform` that the session's tenant may see (`*all`: none was hidden).
std::vector<cl_device_id> visible_devices(remora::server::Policy& policy, cl_platform_id platform,
                                          cl_device_type type, bool* all, cl_int* err) {
  std::vector<cl_device_id> shown = devices_of(platform, type, err);
  const size_t before = shown.size();
  std::erase_if(shown, [&](cl_device_id d) { return !policy.device_visible(device_index(d)); });
  *all = shown.size() == before;
  return shown;
}

}  // namespace

// REMORA_SERVER hooks (declared by the generated opencl_server.h; the vendor functions they call are
// their REMORA_REQUIRES in opencl.spec.c).

cl_int remora_cl_server_get_device_ids(remora::server::Call& c, cl_platform_id platform, cl_device_type device_type,
                                       cl_uint num_entries, cl_device_id* devices, cl_uint* num_devices) {
  remora::server::Policy* policy = session_policy(c);
  if (policy == nullptr) return vendor().clGetDeviceIDs(platform, device_type, num_entries, devices, num_devices);
  if ((num_entries == 0 && devices != nullptr) || (devices == nullptr && num_devices == nullptr))
    return CL_INVALID_VALUE;
  cl_int err = CL_SUCCESS;
  bool all = false;
  const std::vector<cl_device_id> shown = visible_devices(*policy, platform, device_type, &all, &err);
  if (err != CL_SUCCESS) return err;
  if (shown.empty()) return CL_DEVICE_NOT_FOUND;
  if (devices != nullptr) std::copy_n(shown.begin(), std::min<size_t>(num_entries, shown.size()), devices);
  if (num_devices != nullptr) *num_devices = static_cast<cl_uint>(shown.size());
  return CL_SUCCESS;
}

cl_context remora_cl_server_create_context_from_type(remora::server::Call& c, const cl_context_properties* properties,
                                                     cl_device_type device_type,
                                                     void(CL_CALLBACK* pfn_notify)(const char*, const void*, size_t,
                                                                                   void*),
                                                     void* user_data, cl_int* errcode_ret) {
  remora::server::Policy* policy = session_policy(c);
  auto pass = [&] {
    return vendor().clCreateContextFromType(properties, device_type, pfn_notify, user_data, errcode_ret);
  };
  if (policy == nullptr) return pass();
  // The platform the vendor would use: CL_CONTEXT_PLATFORM, else the first one.
  cl_platform_id platform = nullptr;
  for (const cl_context_properties* p = properties; p != nullptr && p[0] != 0; p += 2) {
    if (p[0] == CL_CONTEXT_PLATFORM) platform = reinterpret_cast<cl_platform_id>(p[1]);
  }
  if (platform == nullptr && vendor().clGetPlatformIDs(1, &platform, nullptr) != CL_SUCCESS) return pass();
  cl_int err = CL_SUCCESS;
  bool all = false;
  const std::vector<cl_device_id> shown = visible_devices(*policy, platform, device_type, &all, &err);
  if (err != CL_SUCCESS || all) return pass();  // the vendor's own answer (and error)
  if (shown.empty()) {
    if (errcode_ret != nullptr) *errcode_ret = CL_DEVICE_NOT_FOUND;
    return nullptr;
  }
  return vendor().clCreateContext(properties, static_cast<cl_uint>(shown.size()), shown.data(), pfn_notify, user_data,
                                  errcode_ret);
}

cl_command_queue remora_cl_server_create_command_queue(remora::server::Call&, cl_context context, cl_device_id device,
                                                       cl_command_queue_properties properties, cl_int* errcode_ret) {
  const bool asked = (properties & CL_QUEUE_PROFILING_ENABLE) != 0;
  cl_command_queue q = nullptr;
  if (!asked) {
    q = vendor().clCreateCommandQueue(context, device, properties | CL_QUEUE_PROFILING_ENABLE, errcode_ret);
    if (q != nullptr) queue_created(q, false);
  }
  // Asked for, or the vendor refused the flag: exactly what the guest asked (measured by wall time).
  if (q == nullptr) {
    q = vendor().clCreateCommandQueue(context, device, properties, errcode_ret);
    queue_created(q, true);
  }
  return q;
}

cl_command_queue remora_cl_server_create_command_queue_with_properties(remora::server::Call&, cl_context context,
                                                                       cl_device_id device,
                                                                       const cl_queue_properties* properties,
                                                                       cl_int* errcode_ret) {
  // The guest's list with CL_QUEUE_PROFILING_ENABLE in its CL_QUEUE_PROPERTIES (added if absent).
  std::vector<cl_queue_properties> with;
  bool asked = false, has_key = false;
  for (const cl_queue_properties* p = properties; p != nullptr && p[0] != 0; p += 2) {
    with.push_back(p[0]);
    with.push_back(p[1]);
    if (p[0] == CL_QUEUE_PROPERTIES) {
      has_key = true;
      asked = (p[1] & CL_QUEUE_PROFILING_ENABLE) != 0;
      with.back() |= CL_QUEUE_PROFILING_ENABLE;
    }
  }
  if (!has_key) {
    with.push_back(CL_QUEUE_PROPERTIES);
    with.push_back(CL_QUEUE_PROFILING_ENABLE);
  }
  with.push_back(0);
  cl_command_queue q = nullptr;
  if (!asked) {
    q = vendor().clCreateCommandQueueWithProperties(context, device, with.data(), errcode_ret);
    if (q != nullptr) queue_created(q, false);
  }
  if (q == nullptr) {
    q = vendor().clCreateCommandQueueWithProperties(context, device, properties, errcode_ret);
    queue_created(q, true);
  }
  return q;
}

cl_int remora_cl_server_get_command_queue_info(remora::server::Call&, cl_command_queue queue, cl_command_queue_info param_name,
                                               size_t param_value_size, void* param_value,
                                               size_t* param_value_size_ret) {
  size_t size = 0;
  const cl_int err = vendor().clGetCommandQueueInfo(queue, param_name, param_value_size, param_value, &size);
  if (param_value_size_ret != nullptr) *param_value_size_ret = size;
  if (err != CL_SUCCESS || param_value == nullptr || !profiling_hidden(queue)) return err;
  if (param_name == CL_QUEUE_PROPERTIES && param_value_size >= sizeof(cl_command_queue_properties)) {
    *static_cast<cl_command_queue_properties*>(param_value) &= ~cl_command_queue_properties{CL_QUEUE_PROFILING_ENABLE};
  } else if (param_name == CL_QUEUE_PROPERTIES_ARRAY) {
    // The list remora created the queue with: clear the flag it added (a key it appended stays, as
    // CL_QUEUE_PROPERTIES 0, which means the same as its absence).
    auto* list = static_cast<cl_queue_properties*>(param_value);
    const size_t n = std::min(param_value_size, size) / sizeof(cl_queue_properties);
    for (size_t i = 0; i + 1 < n && list[i] != 0; i += 2) {
      if (list[i] == CL_QUEUE_PROPERTIES) list[i + 1] &= ~cl_queue_properties{CL_QUEUE_PROFILING_ENABLE};
    }
  }
  return err;
}

cl_int remora_cl_server_get_event_profiling_info(remora::server::Call&, cl_event event, cl_profiling_info param_name,
                                                 size_t param_value_size, void* param_value,
                                                 size_t* param_value_size_ret) {
  cl_command_queue queue = nullptr;
  if (vendor().clGetEventInfo(event, CL_EVENT_COMMAND_QUEUE, sizeof queue, &queue, nullptr) == CL_SUCCESS &&
      queue != nullptr && profiling_hidden(queue))
    return CL_PROFILING_INFO_NOT_AVAILABLE;
  return vendor().clGetEventProfilingInfo(event, param_name, param_value_size, param_value, param_value_size_ret);
}

cl_int remora_cl_server_enqueue_nd_range_kernel(remora::server::Call& c, cl_command_queue queue, cl_kernel kernel,
                                                cl_uint work_dim, const size_t* global_work_offset,
                                                const size_t* global_work_size, const size_t* local_work_size,
                                                cl_uint num_events_in_wait_list, const cl_event* event_wait_list,
                                                cl_event* event) {
  return launch(c, queue, event, [&](cl_event* ev) {
    return vendor().clEnqueueNDRangeKernel(queue, kernel, work_dim, global_work_offset, global_work_size,
                                           local_work_size, num_events_in_wait_list, event_wait_list, ev);
  });
}

cl_int remora_cl_server_enqueue_task(remora::server::Call& c, cl_command_queue queue, cl_kernel kernel,
                                     cl_uint num_events_in_wait_list, const cl_event* event_wait_list,
                                     cl_event* event) {
  return launch(c, queue, event, [&](cl_event* ev) {
    return vendor().clEnqueueTask(queue, kernel, num_events_in_wait_list, event_wait_list, ev);
  });
}
