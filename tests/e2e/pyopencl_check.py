# A real client: PyOpenCL (Debian's python3-pyopencl, run with /usr/bin/python3). Array operations,
# a custom elementwise kernel, a raw kernel from source, and a reduction; prints deterministic
# results and "PASS", or "FAIL: ..." with exit status 1.
import sys

import numpy as np
import pyopencl as cl
import pyopencl.array as cla
from pyopencl.elementwise import ElementwiseKernel
from pyopencl.reduction import ReductionKernel


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def main():
    platforms = cl.get_platforms()
    if not platforms:
        fail("no platform")
    dev = None
    for p in platforms:
        devs = p.get_devices()
        if devs:
            dev = devs[0]
            break
    if dev is None:
        fail("no device")
    print("device:", dev.name)
    ctx = cl.Context([dev])
    queue = cl.CommandQueue(ctx)

    # Array operations.
    n = 10000
    a_host = np.arange(n, dtype=np.float32)
    b_host = (np.arange(n, dtype=np.float32) % 7) - 3.0
    a = cla.to_device(queue, a_host)
    b = cla.to_device(queue, b_host)
    c = (2 * a + b * b - 1).get()
    want = 2 * a_host + b_host * b_host - 1
    if not np.array_equal(c, want):
        fail("array arithmetic")
    print("array arithmetic: sum=%.1f first=%s" % (float(c.sum(dtype=np.float64)), c[:5].tolist()))
    m = cla.maximum(a, b * 1000).get()
    if not np.array_equal(m, np.maximum(a_host, b_host * 1000)):
        fail("array maximum")
    print("array maximum: ok")
    ints = cla.arange(queue, 0, 1000, 1, dtype=np.int32)
    print("int sum: %d, dot: %d" % (int(cla.sum(ints).get()), int(cla.dot(ints, ints).get())))
    if int(cla.sum(ints).get()) != 499500 or int(cla.dot(ints, ints).get()) != 332833500:
        fail("int sum/dot")

    # A custom elementwise kernel.
    lin = ElementwiseKernel(ctx, "float k, float *x, float *y, float *z", "z[i] = k * x[i] + y[i]", "lin")
    z = cla.empty_like(a)
    lin(np.float32(0.5), a, b, z)
    if not np.array_equal(z.get(), np.float32(0.5) * a_host + b_host):
        fail("elementwise kernel")
    print("elementwise kernel: ok")

    # A raw kernel from source with a __local buffer.
    src = """
    __kernel void rev(__global const int* in, __global int* out, __local int* tile) {
      size_t l = get_local_id(0), n = get_local_size(0), g = get_group_id(0);
      tile[l] = in[g * n + l];
      barrier(CLK_LOCAL_MEM_FENCE);
      out[g * n + l] = tile[n - 1 - l] * 3;
    }"""
    prg = cl.Program(ctx, src).build()
    host_in = np.arange(1024, dtype=np.int32)
    d_in = cl.Buffer(ctx, cl.mem_flags.READ_ONLY | cl.mem_flags.COPY_HOST_PTR, hostbuf=host_in)
    d_out = cl.Buffer(ctx, cl.mem_flags.WRITE_ONLY, host_in.nbytes)
    prg.rev(queue, (1024,), (64,), d_in, d_out, cl.LocalMemory(64 * 4))
    host_out = np.empty_like(host_in)
    cl.enqueue_copy(queue, host_out, d_out)
    want = (host_in.reshape(16, 64)[:, ::-1].reshape(-1)) * 3
    if not np.array_equal(host_out, want):
        fail("raw kernel")
    print("raw kernel: first=%s" % host_out[:4].tolist())

    # A reduction: sum of squares, and a max.
    sumsq = ReductionKernel(ctx, np.int64, neutral="0", reduce_expr="a+b", map_expr="(long)x[i]*x[i]",
                            arguments="__global const int *x")
    big = cla.arange(queue, 0, 100000, 1, dtype=np.int32)
    got = int(sumsq(big).get())
    if got != sum(i * i for i in range(100000)):
        fail("reduction sum of squares: %d" % got)
    print("reduction sum of squares: %d" % got)
    mx = float(cla.max(b).get())
    if mx != 3.0:
        fail("max: %s" % mx)
    print("reduction max: %.1f" % mx)
    queue.finish()
    print("PASS")


if __name__ == "__main__":
    main()
