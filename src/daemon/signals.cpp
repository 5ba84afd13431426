// The daemon's signals: SIGCHLD (reap), SIGHUP (reload), SIGINT/SIGTERM (shut down), taken
// synchronously through a signalfd in the poll loop, so no handler runs at an arbitrary point of it.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

#include "common/log.h"
#include "daemon/daemon_impl.h"

namespace remora::daemon {

Status Daemon::Impl::take_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  // Blocked (in this thread, before any other starts) so that they wait for the signalfd instead of
  // taking their default actions.
  if (::pthread_sigmask(SIG_BLOCK, &set, &old_mask) != 0) return Status(Code::kIo, "pthread_sigmask failed");
  mask_changed = true;
  signal_fd.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd.valid()) return io_error("signalfd", errno);
  return Status::Ok();
}

void Daemon::Impl::restore_signals() {
  if (mask_changed) ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  mask_changed = false;
}

void Daemon::Impl::read_signals() {
  signalfd_siginfo info{};
  while (::read(signal_fd.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    if (info.ssi_signo == SIGCHLD) {
      reap(false);
    } else if (info.ssi_signo == SIGHUP) {
      reload_config();
    } else {
      log::info("signal {}: shutting down", info.ssi_signo);
      stopping = true;
    }
  }
}

}  // namespace remora::daemon
