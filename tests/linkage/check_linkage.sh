#!/bin/sh
# Checks what a binary links. The session process and the fuzz targets must hold no TOML (toml++),
# JSON (nlohmann) or OpenSSL code: not as a shared library it needs (readelf -d), nor as symbols
# linked in from a static library or instantiated from a header (nm).
#
#   check_linkage.sh BINARY...                 fails if any of them has any of the three
#   check_linkage.sh --expect-found BINARY     fails unless BINARY has all three (the `remora`
#                                              command, which links the daemon: the check can see them)
set -u
expect_found=0
if [ "${1:-}" = "--expect-found" ]; then
  expect_found=1
  shift
fi
[ $# -gt 0 ] || { echo "usage: $0 [--expect-found] BINARY..."; exit 2; }

status=0
for bin in "$@"; do
  name=$(basename "$bin")
  if [ ! -f "$bin" ]; then
    echo "FAIL: $bin is missing"
    status=1
    continue
  fi
  needed=$(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')
  # Mangled names for OpenSSL's C symbols (one field, no spaces); demangled for C++ namespaces.
  mangled=$(nm "$bin" 2>/dev/null | awk 'NF >= 2 { print $NF }')
  if [ -z "$mangled" ]; then
    echo "FAIL: $name has no symbol table to check (stripped?)"
    status=1
    continue
  fi
  demangled=$(nm -C "$bin" 2>/dev/null)
  found=""
  libs=$(printf '%s\n' $needed | grep -E '^lib(ssl|crypto|tomlplusplus)\.so' | tr '\n' ' ')
  [ -n "$libs" ] && found="$found needs: $libs;"
  n=$(printf '%s\n' "$demangled" | grep -c 'toml::')
  [ "$n" -gt 0 ] && found="$found $n toml:: symbols;"
  n=$(printf '%s\n' "$demangled" | grep -c 'nlohmann::')
  [ "$n" -gt 0 ] && found="$found $n nlohmann:: symbols;"
  n=$(printf '%s\n' "$mangled" | grep -cE '^(SSL_|TLS_|EVP_|CRYPTO_|OPENSSL_|X509_|BIO_)')
  [ "$n" -gt 0 ] && found="$found $n OpenSSL symbols;"
  if [ "$expect_found" = 1 ]; then
    missing=""
    case "$found" in *toml::*) ;; *) missing="$missing toml::" ;; esac
    case "$found" in *nlohmann::*) ;; *) missing="$missing nlohmann::" ;; esac
    case "$found" in *OpenSSL*) ;; *) missing="$missing OpenSSL" ;; esac
    if [ -n "$missing" ]; then
      echo "FAIL: $name should show$missing, which the check did not find (is it still looking right?)"
      status=1
    else
      echo "PASS: $name shows what the check looks for:$found"
    fi
  elif [ -n "$found" ]; then
    echo "FAIL: $name links code it must not:$found"
    printf '%s\n' "$demangled" | grep -E 'toml::|nlohmann::' | head -n 5
    printf '%s\n' "$mangled" | grep -E '^(SSL_|TLS_|EVP_|CRYPTO_|OPENSSL_|X509_|BIO_)' | head -n 5
    status=1
  else
    echo "PASS: $name needs only: $needed(no toml::, nlohmann:: or OpenSSL symbols)"
  fi
done
exit $status
