// `remora run`: runs a program with its OpenCL calls forwarded through remora.
#pragma once

#include <string>
#include <vector>

namespace remora::cli {

struct RunOptions {
  std::string connect;         // --connect, else REMORA_CONNECT; empty: start a private server
  std::string transport;       // --transport shm|unix|tcp; empty: shm for a unix endpoint, else tcp
  std::string tenant;          // --tenant
  std::string token_file;      // --token-file
  std::string vendor_library;  // --vendor-library, for the private server only
  // tls: endpoints: --tls-ca, --tls-cert, --tls-key (else REMORA_TLS_CA/CERT/KEY, read by the guest).
  std::string tls_ca, tls_cert, tls_key;
  std::vector<std::string> command;
};

// Returns the exit status for the `remora` process: the command's (128 + signal if it was killed),
// or 1-2 with a one-line message on stderr when remora itself could not run it.
int run_command(const RunOptions& options);

}  // namespace remora::cli
