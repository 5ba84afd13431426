#!/usr/bin/python3
"""Checks the recording dummy vendor library's log against what dummy_calls printed.

    check_dummy_log.py EXPECTATIONS LOG      (EXPECTATIONS: dummy_calls' stdout)
    check_dummy_log.py --self-test

The log has one line per call (docs/generated-code.md, "The recording dummy vendor library"):

    clGetDeviceInfo device=@3 param_name=4096 param_value_size=8 param_value=<out 8> param_value_size_ret=<out>

Parsing is tolerant of details the format does not pin down (hex or decimal numbers, how arrays of
strings are bracketed, how the CRC is spelled) and strict on values: every expected parameter must
be present and equal. Expectations are matched in order; other calls may come in between (the ICD
loader and remora make calls of their own).
"""
import re
import zlib
import sys


def tokenize(line):
    """'fn a=1 b="x y" c=<in 4 bytes crc32=..>' -> ('fn', {'a': '1', 'b': '"x y"', 'c': '<in ...>'})."""
    line = line.strip()
    m = re.match(r"(\w+)\s*(.*)$", line)
    if not m:
        return None, {}
    fn, rest = m.group(1), m.group(2)
    # TODO(e2e): some recorders wrap arguments in parentheses, "fn(a=1, b=2)"; accept that too.
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1]
    params = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " ,\t":
            i += 1
        m = re.match(r"(\w+)=", rest[i:])
        if not m:
            # Not a key=value token (a return value annotation, "-> 0", ...): skip a word.
            while i < n and rest[i] not in " \t":
                i += 1
            continue
        key = m.group(1)
        i += m.end()
        start = i
        depth, quote = 0, False
        while i < n:
            c = rest[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == '"':
                    quote = False
            elif c == '"':
                quote = True
            elif c in "<[{(":
                depth += 1
            elif c in ">]})":
                depth -= 1
            elif c in " ,\t" and depth <= 0:
                break
            i += 1
        params[key] = rest[start:i]
    return fn, params


def unquote_all(value):
    """Every quoted string in value, unescaped (C-style escapes)."""
    out = []
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"', value):
        s = m.group(1)
        s = re.sub(r"\\x([0-9a-fA-F]{2})", lambda x: chr(int(x.group(1), 16)), s)
        s = s.replace("\\n", "\n").replace("\\t", "\t").replace('\\"', '"').replace("\\\\", "\\")
        out.append(s)
    return out


def first_int(value):
    m = re.match(r"\s*(-?)(0x[0-9a-fA-F]+|\d+)", value)
    if not m:
        return None
    v = int(m.group(2), 0)
    return -v if m.group(1) else v


def is_null(value):
    return value.strip().lower() in ("null", "nullptr", "(nil)", "0", "0x0")


def check_param(kind, expected, value):
    """None when value satisfies the expectation, else a reason."""
    if kind == "int":
        got = first_int(value)
        want = int(expected)
        if got is None:
            return "not a number"
        if got % (1 << 64) != want % (1 << 64):
            return "is %d, want %d" % (got, want)
        return None
    if kind == "str":
        want = bytes.fromhex(expected).decode("latin-1")
        # String arrays are logged as "<strings N crc32=X>", X the crc32 of the strings' bytes in order.
        m = re.match(r"<strings (\d+) crc32=(?:0x)?([0-9a-fA-F]+)>", value.strip())
        if m:
            got = int(m.group(2), 16)
            return None if got == zlib.crc32(bytes.fromhex(expected)) else "strings crc32 %08x, want crc32 of %r" % (got, want)
        strs = unquote_all(value)
        if want in strs:
            return None
        return "strings %r, want %r" % (strs, want)
    if kind == "in":
        nbytes, crc = expected.split(":")
        m = re.search(r"(\d+)\s*bytes?", value) or re.search(r"(\d+)", value)
        if not m or int(m.group(1)) != int(nbytes):
            return "size: want %s bytes" % nbytes
        m = re.search(r"crc(?:32)?\s*[=:]\s*(?:0x)?([0-9a-fA-F]+)", value)
        if not m:
            return "no crc32"
        if int(m.group(1), 16) != int(crc, 16):
            return "crc32 %s, want %s" % (m.group(1), crc)
        return None
    if kind == "handle":
        if is_null(value):
            return "NULL, want a handle"
        # TODO(e2e): handles are "@<serial>" per the doc; anything non-NULL is accepted.
        return None
    if kind == "null":
        return None if is_null(value) else "want NULL"
    return "unknown expectation kind %r" % kind


def parse_expectations(text):
    exps = []
    for line in text.splitlines():
        if not line.startswith("expect "):
            continue
        parts = line.split()
        fn = parts[1]
        params = []
        for p in parts[2:]:
            key, spec = p.split("=", 1)
            kind, _, val = spec.partition(":")
            params.append((key, kind, val))
        exps.append((fn, params))
    return exps


# The loader's platform query may reach the vendor under either name.
ALIASES = {"clGetPlatformIDs": ("clGetPlatformIDs", "clIcdGetPlatformIDsKHR")}


def check(exp_text, log_text):
    """A list of failures (empty when every expectation is met in order)."""
    exps = parse_expectations(exp_text)
    if not exps:
        return ["no expectations (did dummy_calls run?)"]
    calls = [tokenize(l) for l in log_text.splitlines() if l.strip()]
    failures = []
    pos = 0
    for fn, params in exps:
        names = ALIASES.get(fn, (fn,))
        nearest = None
        found = False
        for j in range(pos, len(calls)):
            cfn, cparams = calls[j]
            if cfn not in names:
                continue
            reasons = []
            for key, kind, val in params:
                if key not in cparams:
                    reasons.append("%s missing" % key)
                    continue
                r = check_param(kind, val, cparams[key])
                if r:
                    reasons.append("%s=%s: %s" % (key, cparams[key], r))
            if not reasons:
                pos = j + 1
                found = True
                break
            if nearest is None:
                nearest = (j + 1, reasons)
        if not found:
            desc = " ".join("%s=%s:%s" % p for p in params)
            if nearest:
                failures.append("%s %s: nearest log line %d differs: %s" % (fn, desc, nearest[0], "; ".join(nearest[1])))
            else:
                failures.append("%s %s: no such call in the log after line %d" % (fn, desc, pos))
    return failures


def self_test():
    exp = "\n".join([
        "expect clGetPlatformIDs",
        "expect clCreateBuffer context=handle: flags=int:33 size=int:5 host_ptr=in:5:%08x" % 0x1234ABCD,
        "expect clBuildProgram program=handle: options=str:%s pfn_notify=null:" % b"-DX=1  -DY".hex(),
        "expect clSetKernelArg arg_index=int:2 arg_size=int:256 arg_value=null:",
        "expect clCreateProgramWithSource count=int:1 strings=str:%s" % b'k "q"'.hex(),
    ])
    good = "\n".join([
        "clIcdGetPlatformIDsKHR num_entries=0 platforms=NULL num_platforms=<out 4>",
        "clGetPlatformInfo platform=@1 param_name=0x920 param_value_size=0 param_value=NULL",
        'clCreateBuffer context=@2 flags=0x21 size=5 host_ptr=<in 5 bytes crc32=1234abcd> errcode_ret=<out>',
        'clBuildProgram program=@4 num_devices=1 device_list=<in 8 bytes crc32=0> options="-DX=1  -DY" pfn_notify=NULL user_data=NULL',
        "clSetKernelArg kernel=@5 arg_index=2 arg_size=256 arg_value=NULL",
        'clCreateProgramWithSource context=@2 count=1 strings=["k \\"q\\""] lengths=NULL errcode_ret=<out>',
    ])
    assert check(exp, good) == [], check(exp, good)
    # Each of these must be caught.
    bad_cases = [
        good.replace("crc32=1234abcd", "crc32=1234abce"),
        good.replace("<in 5 bytes", "<in 6 bytes"),
        good.replace('"-DX=1  -DY"', '"-DX=1 -DY"'),
        good.replace("arg_value=NULL", "arg_value=<in 256 bytes crc32=0>"),
        good.replace("flags=0x21", "flags=0x20"),
        good.replace(" size=5", ""),
        good.replace("clSetKernelArg", "clSetKernelArgX"),
        # Out of order: the buffer after the program build.
        "\n".join(good.splitlines()[i] for i in (0, 1, 3, 2, 4, 5)),
    ]
    for i, bad in enumerate(bad_cases):
        assert check(exp, bad), "bad case %d was accepted" % i
    print("self-test: ok (%d bad logs rejected)" % len(bad_cases))


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    with open(sys.argv[1]) as f:
        exp_text = f.read()
    with open(sys.argv[2], errors="replace") as f:
        log_text = f.read()
    failures = check(exp_text, log_text)
    n = len(parse_expectations(exp_text))
    if failures:
        for f in failures:
            print("FAIL: " + f)
        print("%d of %d expected calls not found as expected in the dummy's log" % (len(failures), n))
        return 1
    print("all %d expected calls found in the dummy's log with the arguments passed" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
