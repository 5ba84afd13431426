#!/usr/bin/env python3
"""Every file a comment or a document names must exist (ctest docs.references).

Scans the tracked sources and documents for path-like references (a token with a '/' that ends in a
source or document suffix, e.g. `guest/runtime.cpp`, `docs/daemon.md`) and resolves each the way a
reader would: from the repository root, from the referencing file's folder and each folder above it,
and from src/ and every apis/<api>/. A reference that resolves nowhere is printed as file:line and the
script fails. Generated files (build/...), system paths, other projects' files and templates with
placeholders (<api>_guest.cpp) are not references to this tree and are skipped; so is a line that
says `not a file in the tree` (a made-up spec path in a test) or names a file a program writes.

  scripts/check_references.py [REPO]
"""
import os
import re
import subprocess
import sys

SUFFIXES = ("cpp", "h", "c", "cu", "md", "sh", "py", "toml", "cmake", "txt", "map", "json", "supp")
TOKEN = re.compile(r"(?<![\w./<>{}$*-])((?:\.\./|\./)?[A-Za-z0-9_][A-Za-z0-9_.+-]*(?:/[A-Za-z0-9_.+-]+)+\.(?:%s))(?![\w/])"
                   % "|".join(SUFFIXES))
# Not references to this tree: generated output, the system, the machine's folders, other projects.
SKIP_PREFIXES = ("build", "BUILD", "gen/", "crt/", "clang-c/", "include/stddef.h", "usr/", "tmp/", "proc/", "dev/", "etc/", "sys/", "opt/", "lib/", "lib64/",
                 "bin/", "include/CL/", "CL/", "nvidia/", "zluda/", "cuda/", "torch/", "third_party/",
                 "github.com/", "www.", "KhronosGroup/", "NVIDIA/", "vosen/", "test_conformance/")
SCANNED = re.compile(r"\.(cpp|h|c|cu|md|sh|py|txt|cmake|toml)$|CMakeLists\.txt$|Makefile$")


def tracked_files(repo):
    out = subprocess.run(["git", "-C", repo, "ls-files", "-co", "--exclude-standard"], check=True,
                         capture_output=True, text=True).stdout.split("\n")
    return [f for f in out if f and SCANNED.search(f) and not f.startswith("tests/gen/golden/")
            and os.path.isfile(os.path.join(repo, f))]


def candidates(repo, referrer, ref, files):
    yield os.path.join(repo, ref)
    d = os.path.dirname(referrer)
    while True:
        yield os.path.join(repo, d, ref)
        if not d:
            break
        d = os.path.dirname(d)
    yield os.path.join(repo, "src", ref)
    apis = os.path.join(repo, "apis")
    if os.path.isdir(apis):
        for api in sorted(os.listdir(apis)):
            yield os.path.join(apis, api, ref)
    # A path a reader finds by its tail (`mini/mini.h` for tests/gen/mini/mini.h).
    for f in files:
        if f.endswith("/" + ref):
            yield os.path.join(repo, f)


def main():
    repo = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    missing = []
    everything = subprocess.run(["git", "-C", repo, "ls-files", "-co", "--exclude-standard"], check=True,
                                capture_output=True, text=True).stdout.split("\n")
    for f in tracked_files(repo):
        with open(os.path.join(repo, f), encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                if "not a file in the tree" in line or re.search(r"\b[Ww]rites\b|\bwritten to\b", line):
                    continue
                for m in TOKEN.finditer(line):
                    ref = m.group(1)
                    if "://" in line[max(0, m.start() - 12):m.start()] or ref.startswith(SKIP_PREFIXES):
                        continue
                    if any(os.path.exists(c) for c in candidates(repo, f, ref, everything)):
                        continue
                    missing.append(f"{f}:{n}: {ref}")
    for m in missing:
        print(m)
    if missing:
        print(f"FAIL: {len(missing)} reference(s) to files that do not exist")
        return 1
    print("PASS: every referenced file exists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
