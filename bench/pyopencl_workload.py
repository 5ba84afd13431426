"""A small PyOpenCL application, timed: what a Python user of remora sees end to end.

Run with Debian's interpreter (/usr/bin/python3, which has python3-pyopencl). Prints one JSON object:
the wall time of each phase in seconds and a checksum (so that a wrong answer is not a fast one).
Phases: setup (platform, context, queue), build (kernels from source: elementwise, reduction, a raw
kernel), a loop of many small calls (array arithmetic on 64 Ki floats: call-bound), and a few large
transfers plus a reduction on 16 Mi floats (bandwidth-bound).
"""
import json
import os
import sys
import time

# PyOpenCL's binary cache would make every run after the first skip compilation; the build phase is
# meant to include it. (PoCL keeps its own cache: bench/run.py warms it with an untimed native run.)
os.environ["PYOPENCL_NO_CACHE"] = "1"

import numpy as np
import pyopencl as cl
import pyopencl.array as cla
from pyopencl.elementwise import ElementwiseKernel
from pyopencl.reduction import ReductionKernel

SMALL = 1 << 16
LARGE = 1 << 24
SMALL_STEPS = 200
LARGE_STEPS = 4


def main():
    phases = {}
    t = time.perf_counter()
    platform = cl.get_platforms()[0]
    device = platform.get_devices()[0]
    ctx = cl.Context([device])
    queue = cl.CommandQueue(ctx)
    phases["setup"] = time.perf_counter() - t

    t = time.perf_counter()
    axpy = ElementwiseKernel(ctx, "float a, float *x, float *y", "y[i] = a * x[i] + y[i]", "axpy")
    dot = ReductionKernel(ctx, np.float64, neutral="0", reduce_expr="a+b",
                          map_expr="(double)x[i] * (double)y[i]", arguments="float *x, float *y")
    prog = cl.Program(ctx, """
        __kernel void scale(__global float *v, float s) { v[get_global_id(0)] *= s; }
    """).build()
    scale = prog.scale
    # Compile the generated kernels now, so that "build" holds every compilation.
    warm_x = cla.zeros(queue, 16, np.float32)
    axpy(np.float32(1), warm_x, warm_x)
    dot(warm_x, warm_x).get()
    queue.finish()
    phases["build"] = time.perf_counter() - t

    rng = np.random.default_rng(1)
    t = time.perf_counter()
    x = cla.to_device(queue, rng.random(SMALL, dtype=np.float32))
    y = cla.to_device(queue, np.zeros(SMALL, dtype=np.float32))
    for step in range(SMALL_STEPS):
        axpy(np.float32(0.5), x, y)
        scale(queue, (SMALL,), None, y.data, np.float32(0.999))
    small_sum = float(dot(x, y).get())
    phases["small_calls"] = time.perf_counter() - t

    t = time.perf_counter()
    host = rng.random(LARGE, dtype=np.float32)
    large_sum = 0.0
    for step in range(LARGE_STEPS):
        big = cla.to_device(queue, host)
        large_sum += float(dot(big, big).get())
        back = big.get()
        large_sum += float(back[::4096].sum())
    phases["large_transfers"] = time.perf_counter() - t

    phases["total"] = sum(phases.values())
    json.dump({"phases": phases, "checksum": [round(small_sum, 1), round(large_sum, 1)],
               "device": device.name}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
