#!/usr/bin/env python3
"""Turns sessions recorded with REMORA_RECORD_DIR into seeds of opencl_session_fuzz.

    make_session_seeds.py RECORD_DIR OUT_DIR [NAME_PREFIX]

A recording is [u32 length][message]... (server/session.h, SessionOptions::record_dir). A seed is a
0 byte (the target's "recorded session" mode) then as many whole messages as fit in 60 KiB (the
fuzzer's -max_len is 64 KiB), so a long session gives its beginning: the calls that create objects.
"""
import os
import struct
import sys

LIMIT = 60 * 1024


def main():
    src, out = sys.argv[1], sys.argv[2]
    prefix = sys.argv[3] if len(sys.argv) > 3 else ""
    os.makedirs(out, exist_ok=True)
    for name in sorted(os.listdir(src)):
        data = open(os.path.join(src, name), "rb").read()
        seed = bytearray(b"\0")
        at = 0
        while at + 4 <= len(data):
            (n,) = struct.unpack_from("<I", data, at)
            record = data[at:at + 4 + n]
            if len(seed) + len(record) > LIMIT:
                break
            seed += record
            at += 4 + n
        with open(os.path.join(out, prefix + os.path.splitext(name)[0].split("-")[0]), "wb") as f:
            f.write(seed)


if __name__ == "__main__":
    main()
