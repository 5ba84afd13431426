// `remora status`: asks a daemon's admin socket for its sessions and prints them.
#pragma once

#include <string>

namespace remora::cli {

// `admin` is the daemon's --admin endpoint. Prints a table, or the daemon's JSON document as is.
int status_command(const std::string& admin, bool json);
// `remora top`: the status report, redrawn every second until q, ^C or ^D.
int top_command(const std::string& admin);

}  // namespace remora::cli
