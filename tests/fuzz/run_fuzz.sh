#!/usr/bin/env bash
# Runs one libFuzzer target for $FUZZ_SECONDS (default 20) over its committed seed corpus.
#
#   run_fuzz.sh TARGET_BIN SEED_CORPUS_DIR
#
# New inputs go to a scratch corpus (the committed seeds are never modified); a crash, leak or
# sanitizer report fails the run and leaves the reproducer under $FUZZ_ARTIFACTS (default
# build-fuzz/fuzz-artifacts/<target>/). Reproduce with: TARGET_BIN ARTIFACT_FILE
set -u
bin="$1"
seeds="$2"
seconds="${FUZZ_SECONDS:-20}"
name="$(basename "$bin")"
here="$(cd "$(dirname "$0")" && pwd)"
artifacts="${FUZZ_ARTIFACTS:-$(dirname "$(dirname "$(dirname "$bin")")")/fuzz-artifacts}/$name"
mkdir -p "$artifacts" "$seeds"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/remora-fuzz-$name.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
"$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$scratch" "$seeds" 2>&1 | tail -n 60
rc="${PIPESTATUS[0]}"
if [ "$rc" != 0 ]; then
  echo "FAIL: $name found a problem (exit $rc); reproducer(s) in $artifacts:"
  ls -l "$artifacts"
  exit 1
fi
echo "PASS: $name ran ${seconds} s without findings"
