#!/usr/bin/env bash
# The TCP link between guest and server is cut mid-call: the daemon runs in one network namespace,
# the guest in another, joined by a veth pair; while the guest waits in clFinish the daemon's end of
# the link goes down (no FIN, no RST: what a pulled cable or a dead host looks like). Then
#   - the guest's pending call and its later ones fail with CL_DEVICE_NOT_AVAILABLE within the
#     guest's TCP timeout (REMORA_TCP_TIMEOUT_MS) plus slack, and the program ends normally;
#   - the server notices too (its --tcp-timeout-ms): the session process exits and the tenant's
#     device memory returns to 0; the daemon keeps running.
# Needs root and `ip netns`; exits 77 (ctest: skipped) without them.
#
#   tcp_link_fault.sh REMORA_BIN FAULT_GUEST_BIN
set -u
remora="$1"
guest="$2"
timeout_ms=4000
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
command -v ip >/dev/null || skip "no ip command (iproute2)"

tag=$(( $$ % 50000 ))
ns_d="remora-lf-d-$tag"
ns_g="remora-lf-g-$tag"
vd="rlfd$tag"
vg="rlfg$tag"
subnet="10.232.$(( tag % 250 ))"
. "$(dirname "$0")/lib.sh"
serve_pid=""
guest_pid=""
E2E_KILL="guest_pid serve_pid"
e2e_extra_cleanup() {
  ip link del "$vd" 2>/dev/null
  ip netns del "$ns_d" 2>/dev/null
  ip netns del "$ns_g" 2>/dev/null
}
e2e_workdir linkfault
for c in "ip netns add $ns_d" "ip netns add $ns_g" "ip link add $vd type veth peer name $vg" \
         "ip link set $vd netns $ns_d" "ip link set $vg netns $ns_g" \
         "ip -n $ns_d addr add $subnet.1/24 dev $vd" "ip -n $ns_g addr add $subnet.2/24 dev $vg" \
         "ip -n $ns_d link set $vd up" "ip -n $ns_g link set $vg up" \
         "ip -n $ns_d link set lo up" "ip -n $ns_g link set lo up"; do
  $c 2>/dev/null || skip "network namespaces unavailable here (\`$c\` failed)"
done

port=7411
endpoint="tcp:$subnet.1:$port"
admin="unix:$work/admin.sock"
REMORA_LOG=info ip netns exec "$ns_d" "$remora" serve --listen "$endpoint" --admin "$admin" \
  --tcp-timeout-ms "$timeout_ms" >"$work/server.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do [ -S "$work/admin.sock" ] && break; sleep 0.1; done
[ -S "$work/admin.sock" ] || fail "remora serve did not start in $ns_d"

# ~1e8 iterations per work-item: a clFinish of a few seconds, so that the session process returns
# from the vendor and then finds its link dead.
ip netns exec "$ns_g" timeout --kill-after=5 120 env REMORA_TCP_TIMEOUT_MS=$timeout_ms \
  "$remora" run --connect "$endpoint" --transport tcp -- "$guest" "$work/ready" 100000000 \
  >"$work/guest.out" 2>"$work/guest.log" </dev/null &
guest_pid=$!
for _ in $(seq 600); do
  [ -s "$work/ready" ] && break
  kill -0 "$guest_pid" 2>/dev/null || fail "the guest exited before its clFinish"
  sleep 0.1
done
[ -s "$work/ready" ] || fail "the guest did not reach its clFinish within 60 s"
sleep 0.3
session_pid="$(pgrep -P "$serve_pid" | head -n 1)"
[ -n "$session_pid" ] || fail "no session process under the daemon"
ip -n "$ns_d" link set "$vd" down || fail "could not take the link down"
cut_at=$(date +%s%N)
echo "cut the link mid-call (session process $session_pid)"

wait "$guest_pid"
rc=$?
guest_pid=""
elapsed_ms=$(( ($(date +%s%N) - cut_at) / 1000000 ))
[ "$rc" = 0 ] || fail "the guest exited with status $rc after the link was cut"
[ "$(tail -n 1 "$work/guest.out")" = PASS ] || fail "the guest did not print PASS"
[ "$elapsed_ms" -lt $(( timeout_ms * 3 + 5000 )) ] || fail "the guest took ${elapsed_ms} ms to notice"
echo "guest: calls failed with CL_DEVICE_NOT_AVAILABLE ${elapsed_ms} ms after the cut"

# The server side: the session process ends once its clFinish returns and the link is found dead.
for _ in $(seq 600); do kill -0 "$session_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$session_pid" 2>/dev/null && fail "the session process still runs 60 s after the cut"
elapsed_ms=$(( ($(date +%s%N) - cut_at) / 1000000 ))
echo "server: the session process exited ${elapsed_ms} ms after the cut"
sleep 0.6
mem="$("$remora" status --connect "$admin" --json | /usr/bin/python3 -c \
  'import json,sys; d=json.load(sys.stdin); print(sum(t["device_memory"] for t in d["tenants"]), len(d["sessions"]))')"
[ "$mem" = "0 0" ] || fail "after the session ended: device memory and sessions are '$mem', want '0 0'"
kill -0 "$serve_pid" 2>/dev/null || fail "the daemon died"
grep -q "timed out" "$work/server.log" || fail "the server did not log that the link timed out"
grep "session ended" "$work/server.log" | head -n 1
echo "PASS"
