#!/usr/bin/env bash
# Filters `clinfo` output (stdin -> stdout) for comparing a native run with a run through remora.
# Only lines that legitimately differ are touched; each rule says why. Keep this list minimal: every
# rule here is a place where remora is allowed to look different from the platform it forwards.
#
# 1. The ICD function suffix (CL_PLATFORM_ICD_SUFFIX_KHR) names the ICD library that answers, and
#    remora's guest library is an ICD of its own, so it may report its own suffix. clinfo prints it
#    on the "function suffix" line and as "[SUFFIX]" after the NULL-platform probes.
# 2. Shared virtual memory: the application and remora's server are different processes, so host
#    virtual addresses cannot be shared. remora forwards coarse-grained buffer SVM (through a guest
#    mirror, see apis/opencl/guest/guest_svm.cpp) but reports fine-grained buffer sharing and SVM atomics
#    as absent even where the platform has them: those two sub-lines are dropped. The header, the
#    coarse-grained and the fine-grained system lines must match. (svm.c covers SVM itself.)
set -euo pipefail
sed -E \
  -e 's/^(  Platform Extensions function suffix +).*/\1<icd suffix>/' \
  -e 's/(Success) \[[A-Za-z0-9_]+\]$/\1 [<icd suffix>]/' \
  -e '/^    (Fine-grained buffer sharing|Atomics) +(Yes|No)$/d'
