#include "daemon/daemon_config.h"

#include <cctype>
#include <fstream>
#include <limits>
#include <sstream>
#include <toml++/toml.h>

namespace remora::daemon {

namespace {

std::string where(const toml::node& n, const std::string& origin) {
  const auto& src = n.source();
  if (src.begin.line == 0) return origin;
  return origin + ":" + std::to_string(src.begin.line);
}

Status bad(const toml::node& n, const std::string& origin, const std::string& what) {
  return Status(Code::kInvalid, where(n, origin) + ": " + what);
}

// A non-negative integer (or, for sizes, a size string) no larger than `max`.
Status read_count(const toml::node& n, const std::string& origin, const std::string& key, bool size_strings,
                  uint64_t max, uint64_t* out) {
  if (const auto* i = n.as_integer()) {
    if (i->get() < 0 || static_cast<uint64_t>(i->get()) > max) {
      return bad(n, origin, key + " = " + std::to_string(i->get()) + " is out of range (0.." + std::to_string(max) + ")");
    }
    *out = static_cast<uint64_t>(i->get());
    return Status::Ok();
  }
  if (const auto* s = n.as_string(); s != nullptr && size_strings) {
    if (!parse_byte_size(s->get(), out) || *out > max) {
      return bad(n, origin, key + " = \"" + s->get() + "\" is not a size (examples: 1073741824, \"8GiB\", \"512MiB\")");
    }
    return Status::Ok();
  }
  return bad(n, origin, key + " must be " + (size_strings ? "a number of bytes or a size string" : "an integer"));
}

Status parse_tenant(const std::string& name, const toml::table& t, const std::string& origin, TenantConfig* out) {
  out->name = name;
  const std::string pre = "tenant '" + name + "': ";
  bool have_token = false;
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    if (key == "token_sha256") {
      const auto* s = v.as_string();
      if (s == nullptr || !parse_hex_digest(s->get(), &out->token)) {
        return bad(v, origin, pre + "token_sha256 must be 64 hex digits (e.g. from `printf %s TOKEN | sha256sum`)");
      }
      have_token = true;
    } else if (key == "token") {
      const auto* s = v.as_string();
      if (s == nullptr || s->get().empty()) return bad(v, origin, pre + "token must be a non-empty string");
      out->token = sha256(s->get());
      have_token = true;
    } else if (key == "device_memory") {
      if (Status st = read_count(v, origin, pre + key, true, std::numeric_limits<uint64_t>::max(), &out->limits.device_memory); !st.ok()) return st;
    } else if (key == "max_sessions") {
      uint64_t n = 0;
      if (Status st = read_count(v, origin, pre + key, false, 1 << 20, &n); !st.ok()) return st;
      out->limits.max_sessions = static_cast<uint32_t>(n);
    } else if (key == "calls_per_second") {
      if (Status st = read_count(v, origin, pre + key, false, uint64_t{1} << 40, &out->limits.calls_per_second); !st.ok()) return st;
    } else if (key == "weight") {
      uint64_t n = 0;
      if (Status st = read_count(v, origin, pre + key, false, 1 << 20, &n); !st.ok()) return st;
      if (n == 0) return bad(v, origin, pre + "weight must be at least 1");
      out->limits.weight = static_cast<uint32_t>(n);
    } else if (key == "client_cert_subjects") {
      // TLS: a client certificate that verifies against [tls] client_ca and whose subject is one of
      // these authenticates as this tenant, without a token.
      const auto* arr = v.as_array();
      if (arr == nullptr) return bad(v, origin, pre + "client_cert_subjects must be an array of subject strings");
      for (const auto& e : *arr) {
        const auto* s = e.as_string();
        if (s == nullptr || s->get().empty()) {
          return bad(e, origin, pre + "client_cert_subjects entries must be non-empty strings like \"CN=alice\"");
        }
        out->client_cert_subjects.push_back(s->get());
      }
    } else if (key == "devices") {
      // Indices only: device names are not unique (two identical GPUs) and the daemon does not load
      // the vendor library, so it could not check a name here.
      const auto* list = v.as_array();
      if (list == nullptr) return bad(v, origin, pre + "devices must be an array of device indices, e.g. [0, 1]");
      out->limits.restrict_devices = true;
      out->limits.visible_devices = 0;
      for (const toml::node& e : *list) {
        const auto* i = e.as_integer();
        if (i == nullptr || i->get() < 0 || i->get() > server::kMaxDeviceIndex) {
          return bad(e, origin, pre + "devices: each entry must be a device index from 0 to " +
                                    std::to_string(server::kMaxDeviceIndex) + " (names are not accepted)");
        }
        out->limits.visible_devices |= uint64_t{1} << i->get();
      }
    } else {
      return bad(v, origin, pre + "unknown key \"" + key +
                                "\" (known: token_sha256, token, client_cert_subjects, device_memory, max_sessions, "
                                "calls_per_second, weight, devices)");
    }
  }
  if (!have_token && out->client_cert_subjects.empty()) {
    return bad(t, origin, pre + "needs token_sha256 (or token), or client_cert_subjects");
  }
  // A tenant without a token keeps the all-zero digest, which no offered token can match.
  if (have_token && out->token == TokenDigest{}) return bad(t, origin, pre + "a token digest of all zeros is not accepted");
  return Status::Ok();
}

Status read_string(const toml::node& n, const std::string& origin, const std::string& key, std::string* out) {
  const auto* s = n.as_string();
  if (s == nullptr) return bad(n, origin, key + " must be a string");
  *out = s->get();
  return Status::Ok();
}

// [tls]: the server's certificate for tls: endpoints, and the CA for client certificates.
Status parse_tls(const toml::node& v, const std::string& origin, TlsSettings* out) {
  const auto* t = v.as_table();
  if (t == nullptr) return bad(v, origin, "[tls] must be a table");
  for (const auto& [k, n] : *t) {
    const std::string key(k.str());
    if (key == "cert") {
      if (Status st = read_string(n, origin, "tls.cert", &out->cert); !st.ok()) return st;
    } else if (key == "key") {
      if (Status st = read_string(n, origin, "tls.key", &out->key); !st.ok()) return st;
    } else if (key == "client_ca") {
      if (Status st = read_string(n, origin, "tls.client_ca", &out->client_ca); !st.ok()) return st;
    } else if (key == "require_client_cert") {
      const auto* b = n.as_boolean();
      if (b == nullptr) return bad(n, origin, "tls.require_client_cert must be true or false");
      out->require_client_cert = b->get();
    } else {
      return bad(n, origin, "unknown key tls." + key + " (known: cert, key, client_ca, require_client_cert)");
    }
  }
  return Status::Ok();
}

}  // namespace

bool parse_byte_size(std::string_view text, uint64_t* out) {
  size_t i = 0;
  uint64_t value = 0;
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return false;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    value = value * 10 + digit;
  }
  std::string_view unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  uint64_t mult = 1;
  static const struct {
    const char* name;
    uint64_t mult;
  } kUnits[] = {{"", 1},
                {"B", 1},
                {"k", 1000},
                {"K", 1000},
                {"KB", 1000},
                {"KiB", uint64_t{1} << 10},
                {"M", 1000 * 1000},
                {"MB", 1000 * 1000},
                {"MiB", uint64_t{1} << 20},
                {"G", uint64_t{1000} * 1000 * 1000},
                {"GB", uint64_t{1000} * 1000 * 1000},
                {"GiB", uint64_t{1} << 30},
                {"T", uint64_t{1000} * 1000 * 1000 * 1000},
                {"TB", uint64_t{1000} * 1000 * 1000 * 1000},
                {"TiB", uint64_t{1} << 40}};
  bool found = false;
  for (const auto& u : kUnits) {
    if (unit == u.name) {
      mult = u.mult;
      found = true;
      break;
    }
  }
  if (!found || value > std::numeric_limits<uint64_t>::max() / mult) return false;
  *out = value * mult;
  return true;
}

Status DaemonConfig::parse(std::string_view text, const std::string& origin, DaemonConfig* out) {
  *out = DaemonConfig{};
  toml::table doc;
  try {
    doc = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return Status(Code::kInvalid, origin + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  for (const auto& [k, v] : doc) {
    const std::string key(k.str());
    if (key == "server") {
      const auto* server = v.as_table();
      if (server == nullptr) return bad(v, origin, "[server] must be a table");
      for (const auto& [sk, sv] : *server) {
        const std::string skey(sk.str());
        if (skey == "listen") {
          const auto* arr = sv.as_array();
          if (arr == nullptr) return bad(sv, origin, "server.listen must be an array of endpoint strings");
          for (const auto& e : *arr) {
            std::string ep;
            if (Status st = read_string(e, origin, "server.listen entries", &ep); !st.ok()) return st;
            out->listen.push_back(ep);
          }
        } else if (skey == "admin") {
          if (Status st = read_string(sv, origin, "server.admin", &out->admin); !st.ok()) return st;
        } else if (skey == "metrics") {
          if (Status st = read_string(sv, origin, "server.metrics", &out->metrics); !st.ok()) return st;
        } else if (skey == "vendor_library") {
          if (Status st = read_string(sv, origin, "server.vendor_library", &out->vendor_library); !st.ok()) return st;
        } else if (skey == "message_timeout_ms") {
          if (Status st = read_count(sv, origin, "server." + skey, false, uint64_t{1} << 31, &out->session.message_timeout_ms); !st.ok()) return st;
        } else if (skey == "tcp_timeout_ms") {
          if (Status st = read_count(sv, origin, "server." + skey, false, uint64_t{1} << 31, &out->session.tcp_timeout_ms); !st.ok()) return st;
        } else if (skey == "max_session_host_memory") {
          if (Status st = read_count(sv, origin, "server." + skey, true, std::numeric_limits<uint64_t>::max(), &out->session.max_host_memory); !st.ok()) return st;
        } else {
          return bad(sv, origin, "unknown key server." + skey + " (known: listen, admin, metrics, vendor_library, "
                                 "message_timeout_ms, tcp_timeout_ms, max_session_host_memory)");
        }
      }
    } else if (key == "tenants") {
      const auto* tenants = v.as_table();
      if (tenants == nullptr) return bad(v, origin, "[tenants] must be a table of [tenants.NAME] tables");
      for (const auto& [tk, tv] : *tenants) {
        const std::string name(tk.str());
        const auto* t = tv.as_table();
        if (t == nullptr) return bad(tv, origin, "tenants." + name + " must be a table");
        if (name.empty()) return bad(tv, origin, "a tenant's name must not be empty");
        TenantConfig tc;
        if (Status st = parse_tenant(name, *t, origin, &tc); !st.ok()) return st;
        out->tenants.emplace(name, std::move(tc));
      }
    } else if (key == "tls") {
      if (Status st = parse_tls(v, origin, &out->tls); !st.ok()) return st;
    } else {
      return bad(v, origin, "unknown table or key \"" + key + "\" (known: [server], [tls], [tenants.NAME])");
    }
  }
  return Status::Ok();
}

Status DaemonConfig::load(const std::string& path, DaemonConfig* out) {
  std::ifstream in(path);
  if (!in) return Status(Code::kInvalid, "cannot read the config file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path, out);
}

const TenantConfig* DaemonConfig::authenticate_cert(const std::string& subject) const {
  // Subjects are public (they travel in the certificate); what makes this a credential is that the
  // TLS layer verified the certificate against client_ca before the subject got here.
  if (subject.empty()) return nullptr;
  for (const auto& [name, t] : tenants) {
    for (const std::string& s : t.client_cert_subjects) {
      if (s == subject) return &t;
    }
  }
  return nullptr;
}

const TenantConfig* DaemonConfig::authenticate(const std::string& tenant, std::string_view token) const {
  // The digest of the offered token is computed whatever the name, and compared against a real or a
  // dummy digest, so timing tells neither which names exist nor how much of a token matched.
  static const TokenDigest kDummy = [] {
    TokenDigest d;
    d.fill(0xa5);
    return d;
  }();
  const TokenDigest offered = sha256(token);
  auto it = tenants.find(tenant);
  const TokenDigest& expected = it != tenants.end() ? it->second.token : kDummy;
  const bool match = digests_equal(offered, expected);
  if (it == tenants.end() || !match || token.empty()) return nullptr;
  return &it->second;
}

}  // namespace remora::daemon
