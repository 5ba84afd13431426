#!/bin/sh
# The real `remora serve --config` with real OpenCL guests (`remora run`): the tenant's device memory
# quota (quota_probe), a wrong token refused on both sides and never logged, status with tenants, and
# a tls: endpoint without a certificate refused (tests/tls covers TLS).  Usage: quota_e2e.sh REMORA QUOTA_PROBE
set -u
REMORA=$1
PROBE=$2
dir=$(mktemp -d /tmp/remora-quota-e2e.XXXXXX)
dp=
cleanup() {
  [ -n "$dp" ] && kill "$dp" 2>/dev/null && wait "$dp" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  echo "--- daemon log:"
  cat "$dir/serve.log"
  exit 1
}

cat >"$dir/remora.toml" <<TOML
[tenants.alice]
token = "alice-secret-token"
device_memory = "1MiB"
TOML
echo alice-secret-token >"$dir/token"
echo not-the-token >"$dir/wrong"

"$REMORA" serve --config "$dir/remora.toml" --listen "unix:$dir/d.sock" --admin "unix:$dir/a.sock" \
  2>"$dir/serve.log" &
dp=$!
i=0
while [ ! -S "$dir/a.sock" ]; do
  i=$((i + 1))
  [ $i -gt 100 ] && fail "the daemon did not start"
  sleep 0.1
done

for t in shm unix; do
  out=$("$REMORA" run --connect "unix:$dir/d.sock" --transport $t --tenant alice --token-file "$dir/token" -- "$PROBE" 2>&1)
  echo "$out" | grep -q '^PASS' || fail "quota probe over $t: $out"
done

if out=$("$REMORA" run --connect "unix:$dir/d.sock" --tenant alice --token-file "$dir/wrong" -- "$PROBE" 2>&1); then
  fail "a wrong token was accepted: $out"
fi
echo "$out" | grep -q "tenant 'alice': wrong or missing token" || fail "the guest did not say why: $out"
grep -q "tenant 'alice': wrong or missing token" "$dir/serve.log" || fail "the daemon did not log the refusal"
if grep -q -e alice-secret-token -e not-the-token "$dir/serve.log"; then fail "a token reached the log"; fi

st=$("$REMORA" status --connect "unix:$dir/a.sock") || fail "remora status failed"
echo "$st" | grep -q '^alice .*0B/1.0MiB' || fail "status shows no tenant usage: $st"

if out=$("$REMORA" serve --listen tls:127.0.0.1:1 2>&1); then fail "a tls: endpoint was accepted"; fi
echo "$out" | grep -q "needs a certificate and its key" || fail "tls: refusal unclear: $out"
echo PASS
