# Shared by the end-to-end shell tests that start their own `remora serve` (source it after `set -u`).
#
#   . "$(dirname "$0")/lib.sh"
#   E2E_KILL="guest_pid serve_pid"   # variables holding pids to kill at exit ("arr[@]" for an array)
#   e2e_workdir NAME                 # $work, removed at exit after the kills and e2e_extra_cleanup
#   e2e_endpoint KIND || usage       # $endpoint: unix:$work/s.sock, or tcp:127.0.0.1:<free port>
#   fail "reason"                    # prints the reason and the tail of $work/*.log and *.out, exits 1

E2E_KILL="${E2E_KILL:-}"

e2e_cleanup() {
  local v p
  for v in $E2E_KILL; do
    for p in ${!v}; do kill -9 "$p" 2>/dev/null; done
  done
  wait 2>/dev/null
  if declare -F e2e_extra_cleanup >/dev/null; then e2e_extra_cleanup; fi
  rm -rf "$work"
}

e2e_workdir() {  # NAME
  work="$(mktemp -d "${TMPDIR:-/tmp}/remora-$1.XXXXXX")"
  trap e2e_cleanup EXIT
}

fail() {
  echo "FAIL: $*"
  local f
  for f in "$work"/*.log "$work"/*.out; do
    [ -f "$f" ] && { echo "--- $(basename "$f") (last 30 lines)"; tail -n 30 "$f"; }
  done
  exit 1
}

e2e_endpoint() {  # KIND: unix or tcp; returns 1 for anything else
  case "$1" in
    unix) endpoint="unix:$work/s.sock" ;;
    tcp)
      # A free port from the kernel; the small race until the server binds it is acceptable here.
      port="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
      endpoint="tcp:127.0.0.1:$port" ;;
    *) return 1 ;;
  esac
}
