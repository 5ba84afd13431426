// The `remora` command: run, serve, status and top. One guest's server process is remora-session
// (server/main.cpp), which the daemon starts.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/run.h"
#include "cli/status.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "transport/endpoint.h"

namespace {

using remora::Status;

struct ServeArgs {
  std::vector<std::string> listen;
  std::string admin, vendor, metrics, config;
  std::string tls_cert, tls_key, tls_client_ca;
  bool tls_require_client_cert = false;
  int ready_fd = -1;
  int handshake_timeout_ms = 0;
  uint64_t message_timeout_ms = 0, tcp_timeout_ms = 0;
  std::string max_session_host_memory;
};

int serve_command(ServeArgs args) {
  remora::log::set_side("daemon");
  remora::daemon::DaemonOptions options;
  if (!args.config.empty()) {
    if (Status st = remora::daemon::DaemonConfig::load(args.config, &options.config); !st.ok()) {
      std::fprintf(stderr, "remora serve: %s\n", st.message().c_str());
      return 2;
    }
    options.config_path = args.config;
    // The command line adds endpoints and overrides single settings of the file.
    args.listen.insert(args.listen.begin(), options.config.listen.begin(), options.config.listen.end());
    if (args.admin.empty()) args.admin = options.config.admin;
    if (args.metrics.empty()) args.metrics = options.config.metrics;
    if (args.vendor.empty()) args.vendor = options.config.vendor_library;
  }
  if (args.listen.empty()) {
    std::fprintf(stderr, "remora serve: nothing to listen on: pass --listen unix:PATH or tcp:HOST:PORT, or a --config "
                         "with server.listen\n");
    return 2;
  }
  const std::vector<std::string>& listen = args.listen;
  const std::string& admin = args.admin;
  const std::string& vendor = args.vendor;
  const int ready_fd = args.ready_fd;
  const int handshake_timeout_ms = args.handshake_timeout_ms;
  for (const std::string& text : listen) {
    remora::transport::Endpoint ep;
    if (Status st = remora::transport::Endpoint::parse(text, &ep); !st.ok()) {
      std::fprintf(stderr, "remora serve: invalid --listen \"%s\": %s\n", text.c_str(), st.message().c_str());
      return 2;
    }
    options.listen.push_back(ep);
  }
  // TLS: the file's [tls] table, each flag overriding its key.
  const remora::daemon::TlsSettings& file_tls = options.config.tls;
  options.tls.cert = args.tls_cert.empty() ? file_tls.cert : args.tls_cert;
  options.tls.key = args.tls_key.empty() ? file_tls.key : args.tls_key;
  options.tls.client_ca = args.tls_client_ca.empty() ? file_tls.client_ca : args.tls_client_ca;
  options.tls.require_client_cert = args.tls_require_client_cert || file_tls.require_client_cert;
  options.admin = admin;
  options.metrics = args.metrics;
  options.vendor_library = vendor;
  options.ready_fd = ready_fd;
  if (handshake_timeout_ms > 0) options.handshake_timeout = std::chrono::milliseconds(handshake_timeout_ms);
  options.session = options.config.session;
  if (args.message_timeout_ms > 0) options.session.message_timeout_ms = args.message_timeout_ms;
  if (args.tcp_timeout_ms > 0) options.session.tcp_timeout_ms = args.tcp_timeout_ms;
  if (!args.max_session_host_memory.empty() &&
      !remora::daemon::parse_byte_size(args.max_session_host_memory, &options.session.max_host_memory)) {
    std::fprintf(stderr, "remora serve: --max-session-host-memory \"%s\" is not a size (examples: \"8GiB\", \"512MiB\")\n",
                 args.max_session_host_memory.c_str());
    return 2;
  }
  // The session executable: remora-session beside this binary, unless REMORA_SESSION_EXE names
  // another (tests; an installation that keeps it elsewhere).
  if (const char* exe = std::getenv("REMORA_SESSION_EXE"); exe != nullptr && *exe != '\0') options.session_exe = exe;
  // Writes to a guest that went away must fail with EPIPE, not kill the daemon (or, inherited, a session).
  ::signal(SIGPIPE, SIG_IGN);
  remora::daemon::Daemon daemon(std::move(options));
  if (Status st = daemon.start(); !st.ok()) {
    std::fprintf(stderr, "remora serve: %s\n", st.message().c_str());
    return 1;
  }
  if (Status st = daemon.run(); !st.ok()) {
    std::fprintf(stderr, "remora serve: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  remora::log::set_side("cli");

  CLI::App app{"remora: API remoting for accelerators. Runs OpenCL programs with their calls served by a\n"
               "remora server process that owns the real device."};
  app.set_version_flag("--version", "remora " REMORA_VERSION);
  app.require_subcommand(1);

  // remora run
  remora::cli::RunOptions run_opts;
  CLI::App* run = app.add_subcommand("run", "Run a program with its OpenCL and CUDA driver API calls forwarded through remora");
  run->add_option("--connect", run_opts.connect,
                  "Server endpoint (unix:PATH, tcp:HOST:PORT or tls:HOST:PORT); default: $REMORA_CONNECT, else a "
                  "private server "
                  "for this run");
  run->add_option("--transport", run_opts.transport,
                  "shm (default for unix endpoints), unix or tcp (default for tcp: and tls: endpoints)")
      ->check(CLI::IsMember({"shm", "unix", "tcp"}));
  run->add_option("--tenant", run_opts.tenant, "Tenant name the server accounts this program to");
  run->add_option("--token-file", run_opts.token_file, "File whose first line is the credential for the server");
  run->add_option("--tls-ca", run_opts.tls_ca,
                  "tls: endpoints: PEM file of the CA(s) that signed the server's certificate (default: "
                  "$REMORA_TLS_CA, else the system's CAs)");
  run->add_option("--tls-cert", run_opts.tls_cert,
                  "tls: endpoints: client certificate (PEM) to present; with --tls-key (default: $REMORA_TLS_CERT)");
  run->add_option("--tls-key", run_opts.tls_key, "tls: endpoints: the client certificate's key (default: $REMORA_TLS_KEY)");
  run->add_option("--vendor-library", run_opts.vendor_library,
                  "Vendor library for the private server's sessions (default: each API's own, libOpenCL.so.1 "
                  "or libcuda.so.1)");
  run->add_option("command", run_opts.command, "The program and its arguments (after --)")->required();
  run->positionals_at_end();
  run->footer("Example: remora run -- ./vecadd\n         remora run --transport tcp -- ./vecadd");

  // remora serve
  ServeArgs serve_args;
  CLI::App* serve = app.add_subcommand("serve", "Run the remora daemon: one server process per guest");
  serve->add_option("--listen", serve_args.listen,
                    "Endpoint to listen on (unix:PATH, tcp:HOST:PORT or tls:HOST:PORT); repeatable; added to the "
                    "config's");
  serve->add_option("--config", serve_args.config,
                    "TOML file: endpoints, tenants, tokens and limits (config/remora.example.toml); SIGHUP "
                    "reloads tenants and limits");
  serve->add_option("--tls-cert", serve_args.tls_cert, "Server certificate chain (PEM) for tls: endpoints; overrides [tls] cert");
  serve->add_option("--tls-key", serve_args.tls_key, "Its private key (PEM); overrides [tls] key");
  serve->add_option("--tls-client-ca", serve_args.tls_client_ca,
                    "Ask tls: guests for a client certificate signed by these CA(s) (PEM); overrides [tls] client_ca");
  serve->add_flag("--tls-require-client-cert", serve_args.tls_require_client_cert,
                  "Refuse a TLS handshake without a valid client certificate");
  serve->add_option("--vendor-library", serve_args.vendor, "OpenCL vendor library sessions load (default: libOpenCL.so.1)");
  serve->add_option("--admin", serve_args.admin, "unix:PATH socket answering `remora status`; default: none");
  serve->add_option("--metrics", serve_args.metrics, "tcp:HOST:PORT serving Prometheus metrics at /metrics; default: none");
  // Internal: used by `remora run` and the tests.
  serve->add_option("--ready-fd", serve_args.ready_fd, "Write the bound endpoints to this fd, then close it")->group("");
  serve->add_option("--handshake-timeout-ms", serve_args.handshake_timeout_ms,
                    "How long a client may take to send its Hello")
      ->group("");
  serve->add_option("--message-timeout-ms", serve_args.message_timeout_ms,
                    "A guest that has begun a message must finish it with progress at least this often, or its "
                    "session ends (default 30000; idle time between messages is not limited)");
  serve->add_option("--tcp-timeout-ms", serve_args.tcp_timeout_ms,
                    "A TCP guest unreachable this long is dropped (keepalive, TCP_USER_TIMEOUT; default 25000)");
  serve->add_option("--max-session-host-memory", serve_args.max_session_host_memory,
                    "Host memory a session process may add after setup (\"4GiB\"); a transfer beyond it fails with "
                    "CL_OUT_OF_HOST_MEMORY. Default: unlimited");

  // remora status
  std::string status_ep;
  bool status_json = false;
  CLI::App* status = app.add_subcommand("status", "Show a daemon's sessions (through its --admin socket)");
  status->add_option("--connect", status_ep, "The daemon's admin endpoint (unix:PATH); default: $REMORA_ADMIN")
      ->envname("REMORA_ADMIN");
  status->add_flag("--json", status_json, "Print the daemon's JSON document");

  // remora top
  std::string top_ep;
  CLI::App* top = app.add_subcommand("top", "Show a daemon's tenants and sessions, refreshed every second (q quits)");
  top->add_option("--connect", top_ep, "The daemon's admin endpoint (unix:PATH); default: $REMORA_ADMIN")
      ->envname("REMORA_ADMIN");

  CLI11_PARSE(app, argc, argv);

  if (run->parsed()) return remora::cli::run_command(run_opts);
  if (serve->parsed()) return serve_command(std::move(serve_args));
  if (status->parsed()) return remora::cli::status_command(status_ep, status_json);
  if (top->parsed()) return remora::cli::top_command(top_ep);
  return 2;
}
