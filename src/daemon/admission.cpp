// Admission: which tenant a new session is accounted to. With tenants in the config, a verified
// client certificate that a tenant lists, or the Hello's tenant and token (credentials.h), and the
// tenant's max_sessions; without, the Hello's tenant name, unauthenticated. Also the tenants' state
// as the config (and SIGHUP's reload of it) sets it: their usage blocks and limits.
#include "common/log.h"
#include "daemon/daemon_impl.h"

namespace remora::daemon {

namespace {

// Without authentication, tenant names are the guests' choice: past this many, new names share one
// usage block, so a guest cannot make the daemon create blocks without bound.
constexpr size_t kMaxOpenTenants = 256;
constexpr const char* kOverflowTenant = "(other)";

}  // namespace

TenantState* Daemon::Impl::admit(const protocol::Hello& h, const Pending& p, std::string* key, std::string* auth,
                                 std::string* why) {
  const std::string& peer = p.peer;
  TenantState* t = nullptr;
  *auth = "none";
  if (opt.config.authenticates()) {
    // A verified client certificate that a tenant lists is a credential of its own; otherwise the
    // Hello's tenant and token must match.
    const TenantConfig* tc = opt.config.authenticate_cert(p.cert_subject);
    if (tc != nullptr && !h.tenant.empty() && h.tenant != tc->name) {
      ++auth_failures;
      *why = "the client certificate (" + p.cert_subject + ") is tenant '" + tc->name + "''s, but the guest names tenant '" +
             h.tenant + "'";
      log::warn("refusing {} (pid {}, program \"{}\"): {}", peer, h.pid, h.program, *why);
      return nullptr;
    }
    if (tc != nullptr) {
      *auth = "client certificate " + p.cert_subject;
    } else {
      tc = opt.config.authenticate(h.tenant, h.token);
      *auth = "token";
    }
    if (tc == nullptr) {
      ++auth_failures;
      // The same answer for an unknown tenant, a wrong token and none: it must not tell which names
      // exist. The token itself is never logged.
      const bool certs = p.tls && !opt.tls.client_ca.empty();
      if (!p.cert_subject.empty() && h.tenant.empty()) {
        *why = "the client certificate (" + p.cert_subject + ") is not listed for any tenant, and no tenant and token "
               "were given";
      } else if (h.tenant.empty()) {
        *why = certs ? "this server requires a tenant and its token (remora run --tenant NAME --token-file FILE) or a "
                       "client certificate it knows (--tls-cert/--tls-key)"
                     : "this server requires a tenant and its token (remora run --tenant NAME --token-file FILE)";
      } else {
        *why = "tenant '" + h.tenant + "': wrong or missing token";
      }
      log::warn("refusing {} (pid {}, program \"{}\"): {}", peer, h.pid, h.program, *why);
      return nullptr;
    }
    *key = tc->name;
    t = &tenants.at(tc->name);
  } else {
    *key = h.tenant.empty() ? "default" : h.tenant;
    auto it = tenants.find(*key);
    if (it == tenants.end() && tenants.size() >= kMaxOpenTenants) {
      *key = kOverflowTenant;
      it = tenants.find(*key);
    }
    if (it == tenants.end()) {
      TenantState fresh;
      if (Status st = new_usage(*key, &fresh.usage); !st.ok()) {
        log::error("tenant '{}': creating its usage block: {}", *key, st.str());
        *why = "the server is out of resources";
        return nullptr;
      }
      it = tenants.emplace(*key, std::move(fresh)).first;
    }
    t = &it->second;
  }
  if (t->limits.max_sessions != 0 && t->sessions >= t->limits.max_sessions) {
    ++session_refusals;
    *why = fmt::format("tenant '{}': at its limit of {} session(s)", *key, t->limits.max_sessions);
    log::warn("refusing {} (pid {}, program \"{}\"): {}", peer, h.pid, h.program, *why);
    return nullptr;
  }
  return t;
}

Status Daemon::Impl::apply_config(const DaemonConfig& config) {
  // Blocks for new tenants first: nothing changes unless all of them could be made.
  std::map<std::string, TenantUsage> fresh;
  for (const auto& [name, tc] : config.tenants) {
    if (tenants.count(name) != 0) continue;
    TenantUsage u;
    if (Status st = new_usage(name, &u); !st.ok()) return Status(st.code(), "tenant '" + name + "': " + st.message());
    fresh.emplace(name, std::move(u));
  }
  for (auto& [name, u] : fresh) tenants[name].usage = std::move(u);
  for (auto& [name, t] : tenants) {
    auto it = config.tenants.find(name);
    t.configured = it != config.tenants.end();
    // A tenant dropped from the config keeps running sessions (SIGHUP drops no session) but gets no
    // new ones: authenticate() no longer knows it.
    t.limits = t.configured ? it->second.limits : TenantLimits{};
    if (t.limits.max_sessions > server::kUsageSlots || t.limits.max_sessions == 0) {
      if (t.limits.max_sessions > server::kUsageSlots) {
        log::warn("tenant '{}': max_sessions {} is above the daemon's {} slots per tenant; using {}", name,
                  t.limits.max_sessions, server::kUsageSlots, server::kUsageSlots);
      }
      t.limits.max_sessions = server::kUsageSlots;
    }
    t.usage.set_limits(t.limits);
  }
  opt.config = config;
  return Status::Ok();
}

Status Daemon::Impl::new_usage(const std::string& tenant, TenantUsage* out) {
  if (Status st = TenantUsage::create(tenant, out); !st.ok()) return st;
  const int entry = scheduler.valid() ? scheduler.add_tenant() : -1;
  if (entry < 0) log::warn("tenant '{}': no scheduler entry left; its device time is not fair-shared", tenant);
  out->set_scheduler_entry(entry);
  return Status::Ok();
}

void Daemon::Impl::reload_config() {
  if (opt.config_path.empty()) {
    log::warn("reload asked for, but the daemon was started without --config: nothing to re-read");
    return;
  }
  DaemonConfig fresh;
  if (Status st = DaemonConfig::load(opt.config_path, &fresh); !st.ok()) {
    log::error("reloading {}: {}; keeping the configuration in force", opt.config_path, st.message());
    return;
  }
  if (fresh.listen != opt.config.listen || fresh.admin != opt.config.admin || fresh.metrics != opt.config.metrics) {
    log::warn("reloading {}: endpoints changed in the file, but only tenants and limits are reloaded; restart the "
              "daemon to move its endpoints", opt.config_path);
  }
  const bool was_authenticating = opt.config.authenticates();
  if (Status st = apply_config(fresh); !st.ok()) {
    log::error("reloading {}: {}; keeping the configuration in force", opt.config_path, st.message());
    return;
  }
  if (was_authenticating != opt.config.authenticates()) {
    log::warn("reloading {}: authentication is now {}", opt.config_path, opt.config.authenticates() ? "on" : "OFF");
  }
  log::info("reloaded {}: {} tenant(s)", opt.config_path, opt.config.tenants.size());
}

}  // namespace remora::daemon
