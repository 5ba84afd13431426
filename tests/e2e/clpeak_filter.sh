#!/usr/bin/env bash
# Filters clpeak output (stdin -> stdout) to its structure: measured figures ("39.99 us",
# "11.38") differ from run to run, so each is replaced by <figure>; labels, device information and
# the number of figures are kept. Ends with "figures: N" and fails (status 1) when there are none,
# so a run that printed only its header cannot compare equal to another such run and pass.
set -euo pipefail
out="$(sed -E 's/: [0-9]+\.[0-9]+( [A-Za-z]+)?$/: <figure>\1/')"
printf '%s\n' "$out"
n="$(printf '%s\n' "$out" | grep -c '<figure>' || true)"
echo "figures: $n"
[ "$n" -gt 0 ]
