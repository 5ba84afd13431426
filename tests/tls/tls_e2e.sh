#!/bin/bash
# tls: endpoints end to end. Makes a CA, a server certificate for 127.0.0.1, client certificates
# (one from the CA, one from a stranger's CA) with the openssl command, then checks against a real
# `remora serve --listen tls:127.0.0.1:0`:
#   - a real OpenCL program over TLS, authenticated by its client certificate (tenant alice, no
#     token), and by a token without a certificate (tenant bob); `remora status` names the credential;
#   - a handshake left half done does not hold up other guests;
#   - refused, with a clear message on both sides: a server CA the guest does not trust, a wrong
#     server name, a client certificate from an unknown CA, no credentials at all, a plain tcp: guest
#     at the TLS port, and (second daemon, --tls-require-client-cert) a guest without a certificate;
#   - no token and no private key in the daemon's log.
# Usage: tls_e2e.sh REMORA KERNEL_ARGS LONG_GUEST
set -u
REMORA=$1
PROG=$2
LONG=$3
dir=$(mktemp -d /tmp/remora-tls-e2e.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  exec 5>&- 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$dir"/serve*.log; do echo "--- $f:"; cat "$f"; done
  exit 1
}

# ---- certificates -------------------------------------------------------------------------------
cd "$dir" || exit 1
ossl() { openssl "$@" 2>>"$dir/openssl.log" || fail "openssl $*: $(tail -3 "$dir/openssl.log")"; }
make_ca() {  # NAME
  ossl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -days 2 -subj "/CN=$1" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
make_cert() {  # NAME SUBJECT CA EXTFILE-LINE
  ossl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
  printf '%s\n' "$4" >"$1.ext"
  ossl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -out "$1.crt" -days 2 -extfile "$1.ext"
}
make_ca ca
make_ca stranger
make_cert server "/CN=remora-test-server" ca "subjectAltName=IP:127.0.0.1"
make_cert alice "/CN=alice" ca "extendedKeyUsage=clientAuth"
make_cert mallory "/CN=alice" stranger "extendedKeyUsage=clientAuth"
make_cert carol "/CN=carol" ca "extendedKeyUsage=clientAuth"

cat >"$dir/remora.toml" <<TOML
[tls]
cert = "$dir/server.crt"
key = "$dir/server.key"
client_ca = "$dir/ca.crt"

[tenants.alice]
client_cert_subjects = ["CN=alice"]

[tenants.bob]
token = "bob-secret-token"
TOML
echo bob-secret-token >"$dir/bob.token"

start_daemon() {  # LOG ARGS...: sets $port
  local log=$1
  shift
  rm -f "$dir/ready"
  "$REMORA" serve "$@" --ready-fd 3 3>"$dir/ready" 2>"$dir/$log" &
  pids+=($!)
  local i=0
  until grep -q '^tls:' "$dir/ready" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 100 ] && fail "the daemon did not start: $(cat "$dir/$log")"
    sleep 0.1
  done
  port=$(sed -n 's/^tls:127.0.0.1:\([0-9]*\)$/\1/p' "$dir/ready")
}
export REMORA_LOG=info
start_daemon serve.log --config "$dir/remora.toml" --listen tls:127.0.0.1:0 --admin "unix:$dir/a.sock"
ep="tls:127.0.0.1:$port"

# ---- what must work -----------------------------------------------------------------------------
# A half-done handshake (one byte of a TLS record, then silence) must not hold up anyone else.
exec 5<>"/dev/tcp/127.0.0.1/$port" || fail "cannot open a raw connection"
printf '\026' >&5

out=$("$REMORA" run --connect "$ep" --tls-ca ca.crt --tls-cert alice.crt --tls-key alice.key -- "$PROG" 2>&1) ||
  fail "alice (client certificate) over TLS: $out"
echo "$out" | grep -q PASS || fail "alice's program did not pass: $out"
grep -q 'tenant "alice" (client certificate CN=alice), transport tls' serve.log ||
  fail "the daemon did not log alice's certificate login"

out=$(REMORA_TLS_CA=$dir/ca.crt "$REMORA" run --connect "$ep" --tenant bob --token-file bob.token -- "$PROG" 2>&1) ||
  fail "bob (token, no certificate) over TLS: $out"
echo "$out" | grep -q PASS || fail "bob's program did not pass: $out"
grep -q 'tenant "bob" (token), transport tls' serve.log || fail "the daemon did not log bob's token login"
exec 5>&-

# remora status while alice's program runs: the session, its transport and its credential.
"$REMORA" run --connect "$ep" --tls-ca ca.crt --tls-cert alice.crt --tls-key alice.key -- "$LONG" 4 "$dir/long.pid" \
  >"$dir/long.out" 2>&1 &
long=$!
pids+=($long)
i=0
until [ -s "$dir/long.pid" ]; do
  i=$((i + 1))
  [ $i -gt 100 ] && fail "the long guest did not start: $(cat "$dir/long.out")"
  sleep 0.1
done
st=$("$REMORA" status --connect "unix:$dir/a.sock" --json) || fail "remora status failed"
echo "$st" | grep -q '"auth": "client certificate CN=alice"' || fail "status does not show the certificate login: $st"
echo "$st" | grep -q '"transport": "tls"' || fail "status does not show the tls transport: $st"
human=$("$REMORA" status --connect "unix:$dir/a.sock") || fail "remora status failed"
echo "$human" | grep -q 'CN=alice' || fail "status (text) does not show the certificate login: $human"
wait $long || fail "the long guest over TLS failed: $(cat "$dir/long.out")"
grep -q PASS "$dir/long.out" || fail "the long guest over TLS: $(cat "$dir/long.out")"

# ---- what must be refused, and say why ----------------------------------------------------------
expect_refusal() {  # WHAT PATTERN ARGS...
  local what=$1 pattern=$2
  shift 2
  if out=$("$REMORA" run --connect "$@" -- "$PROG" 2>&1); then fail "$what was accepted: $out"; fi
  echo "$out" | grep -q -- "$pattern" || fail "$what: the guest's message does not say '$pattern': $out"
}
expect_refusal "a server CA the guest does not trust" "certificate did not verify" "$ep" --tls-ca stranger.crt \
  --tls-cert alice.crt --tls-key alice.key
expect_refusal "a wrong server name" "certificate did not verify: .*mismatch" "tls:localhost:$port" --tls-ca ca.crt \
  --tls-cert alice.crt --tls-key alice.key
expect_refusal "a client certificate from an unknown CA" "refused .*client certificate" "$ep" --tls-ca ca.crt \
  --tls-cert mallory.crt --tls-key mallory.key
grep -q "client's certificate did not verify" serve.log || fail "the daemon did not log the bad client certificate"
expect_refusal "a guest without credentials" "requires a tenant and its token .* or a client certificate" "$ep" \
  --tls-ca ca.crt
expect_refusal "a certificate no tenant lists" "(CN=carol) is not listed for any tenant" "$ep" --tls-ca ca.crt \
  --tls-cert carol.crt --tls-key carol.key
expect_refusal "a certificate used with another tenant's name" "is tenant 'alice''s, but the guest names tenant 'bob'" \
  "$ep" --tls-ca ca.crt --tls-cert alice.crt --tls-key alice.key --tenant bob --token-file bob.token
expect_refusal "a plain tcp: guest at the TLS port" "this endpoint speaks TLS" "tcp:127.0.0.1:$port"

start_daemon serve-required.log --config "$dir/remora.toml" --listen tls:127.0.0.1:0 --tls-require-client-cert
expect_refusal "a guest without a certificate where one is required" "client certificate" "tls:127.0.0.1:$port" \
  --tls-ca ca.crt --tenant bob --token-file bob.token
out=$("$REMORA" run --connect "tls:127.0.0.1:$port" --tls-ca ca.crt --tls-cert alice.crt --tls-key alice.key \
  -- "$PROG" 2>&1) || fail "alice with the certificate required: $out"

if out=$("$REMORA" serve --listen tls:127.0.0.1:0 2>&1); then fail "a tls: endpoint without a certificate started"; fi
echo "$out" | grep -q "needs a certificate and its key" || fail "no-certificate refusal unclear: $out"

if grep -q -e bob-secret-token -e "PRIVATE KEY" "$dir"/serve*.log; then fail "a secret reached the log"; fi
echo PASS
