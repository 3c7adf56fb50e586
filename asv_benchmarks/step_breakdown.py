"""Where an LSTM training step's time goes, at the comparison table's sizes.

    python asv_benchmarks/step_breakdown.py            # B = 1 to 64
    python asv_benchmarks/step_breakdown.py --quick    # tiny sizes, a smoke test

For each size, medians over repeats (float32, the threads the layer picks): inference,
the training forward, the backward (training step minus forward) and, within the
backward, the gradient products after the time loop (``dx``, ``dW``, ``db``:
``kernels._gemm.input_and_weight_grads_part`` alone, its parts on as many threads as
the layer's backward uses, on arrays of the same shapes); the rest of the backward is its
time loop and the layer's Python.  Times, not ratios: run it alone on the machine.
"""
import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from asv_benchmarks.common import SIZES, make_layer  # noqa: E402


def median_seconds(function, calls, repeats=7):
    """Median over ``repeats`` of the mean time of ``calls`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        times.append((time.perf_counter() - start) / calls)
    return float(np.median(times))


def gradient_products(size, threads, pool):
    """A callable running the LSTM's gradient products after the loop at ``size``, split
    in ``threads`` parts (run side by side)."""
    from numbarnn.kernels._gemm import input_and_weight_grads_part

    B, T, D, H = size
    G = 4 * H
    rng = np.random.default_rng(0)

    def normal(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    dgates = normal(T, B, G)
    args = (normal(T, B, D), normal(B, H), normal(T, B, H), normal(G, D), dgates, dgates,
            np.empty((T, B, D), np.float32), np.empty((G, D), np.float32),
            np.empty((G, H), np.float32), np.empty(G, np.float32), np.empty(G, np.float32))

    def run():
        others = [pool.submit(input_and_weight_grads_part, p, threads, *args)
                  for p in range(1, threads)]
        input_and_weight_grads_part(0, threads, *args)
        for other in others:
            other.result()
    return run


def breakdown(size, calls, pool):
    """Seconds of ``(inference, forward, backward, gradient products)`` at ``size``."""
    from numbarnn.kernels._parts import kernel_threads

    layer, x, dout = make_layer("lstm", size, "float32")
    for _ in range(3):  # compile / load, warm up
        layer.forward(x)
        layer.backward(dout)
    B, _, _, H = size
    threads = kernel_threads(B, 4 * H, H)
    inference = median_seconds(lambda: layer.forward(x, train=False), calls)
    forward = median_seconds(lambda: layer.forward(x), calls)

    def step():
        layer.forward(x)
        layer.backward(dout)
    both = median_seconds(step, calls)
    products = gradient_products(size, threads, pool)
    products()
    return inference, forward, both - forward, median_seconds(products, calls)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few repeats")
    args = parser.parse_args(argv)
    sizes = [(2, 5, 3, 4), (4, 6, 5, 8)] if args.quick else SIZES[:4]
    print(f"{'B, T, D, H':>18} | {'infer ms':>9} | {'forward':>9} {'backward':>9} | "
          f"{'dx, dW, db':>10} {'loop, rest':>10}")
    with ThreadPoolExecutor(max(1, (os.cpu_count() or 1) - 1)) as pool:
        for size in sizes:
            calls = 3 if args.quick else 200 if size[0] <= 16 else 20
            inference, forward, backward, products = breakdown(size, calls, pool)
            print(f"{str(size):>18} | {inference * 1e3:9.3f} | {forward * 1e3:9.3f} "
                  f"{backward * 1e3:9.3f} | {products * 1e3:10.3f} "
                  f"{(backward - products) * 1e3:10.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
