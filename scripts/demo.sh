#!/usr/bin/env bash
# `make demo`: runs examples/vecadd natively, then through remora over shared memory and over TCP,
# and shows the three outputs side by side with their timings. Exits non-zero if any run fails or
# the outputs differ.
set -uo pipefail

build="${1:-build}"
remora="$build/bin/remora"
vecadd="$build/bin/vecadd"
for f in "$remora" "$vecadd"; do
  if [[ ! -x "$f" ]]; then
    echo "demo: $f is missing; run \`make build\` first" >&2
    exit 2
  fi
done

out="$(mktemp -d "${TMPDIR:-/tmp}/remora-demo-XXXXXX")"
trap 'rm -rf "$out"' EXIT

# run NAME CMD...: runs CMD, keeping stdout, stderr, exit status and wall time in $out/NAME.*
run() {
  local name="$1"
  shift
  local start end
  start=$(date +%s.%N)
  "$@" >"$out/$name.out" 2>"$out/$name.err"
  echo $? >"$out/$name.rc"
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f s", e - s }' >"$out/$name.time"
}

names=(native shm tcp)
titles=("native" "remora run (shm)" "remora run --transport tcp")
run native "$vecadd"
run shm "$remora" run -- "$vecadd"
run tcp "$remora" run --transport tcp -- "$vecadd"

width=50
printf '%-*s | %-*s | %s\n' $width "${titles[0]} [$(cat "$out/native.time")]" $width \
  "${titles[1]} [$(cat "$out/shm.time")]" "${titles[2]} [$(cat "$out/tcp.time")]"
printf '%*s\n' $((width * 3 + 6)) '' | tr ' ' '-'
paste -d '\t' "$out/native.out" "$out/shm.out" "$out/tcp.out" |
  awk -F '\t' -v w=$width '{ printf "%-*.*s | %-*.*s | %s\n", w, w, $1, w, w, $2, $3 }'
echo

status=0
for name in "${names[@]}"; do
  rc=$(cat "$out/$name.rc")
  if [[ "$rc" != 0 ]]; then
    echo "demo: the $name run failed (exit status $rc):" >&2
    sed 's/^/  /' "$out/$name.err" >&2
    status=1
  fi
done
for name in shm tcp; do
  if ! cmp -s "$out/native.out" "$out/$name.out"; then
    echo "demo: the $name output differs from the native one:" >&2
    diff "$out/native.out" "$out/$name.out" | sed 's/^/  /' >&2
    status=1
  fi
done
if [[ $status == 0 ]]; then
  echo "demo: all three runs agree (PASS)"
fi
exit $status
