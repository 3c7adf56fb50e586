"""numbarnn against torch.nn.LSTM / RNN / GRU on this machine, side by side in one run.

    python asv_benchmarks/compare_torch.py            # the full table (a few minutes)
    python asv_benchmarks/compare_torch.py --quick    # tiny sizes, a smoke test

Each cell of the table is the median over repeats taken in alternating blocks
(numbarnn, torch, numbarnn, torch, ...), so that drift on a shared machine hits
both alike.  Ratios are numbarnn time / torch time: below 1 means numbarnn is
faster.  GFLOP/s counts only the matrix products of a training step; "of peak"
relates that to what the machine's multiply-add units do, measured in the same run:
the kernels' own tile product on every usable core at once, on operands that stay in
each core's cache.  (A large SGEMM through SciPy's BLAS is printed too: on the AMD
machines this project runs on its OpenBLAS reaches about half of that.)
Rows "lstm-bi" and "gru-bi" are bidirectional layers.  Then, for each cell, the
cost of ``lengths`` (a padded batch, lengths uniform in [T/2, T]): numbarnn's
time with them over its time without, and torch's ``pack_padded_sequence`` run
over its padded one.  Also printed: the peak memory of a training step against
the bytes it must hold, and the compile and warm start-up times.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from asv_benchmarks.common import (BIDIRECTIONAL, CELLS, SIZES, first_call_seconds,  # noqa: E402
                                   flops, make_layer, padded_lengths, parse_cell)

# Targets for the float32 forward+backward ratio (numbarnn / torch), LSTM and RNN, by size;
# the GRU's is the LSTM's ratio measured in the same run, bidirectional layers' 1.0.
TARGETS = {(1, 100, 8, 32): (0.2, 0.05), (16, 100, 32, 64): (0.6, 0.15),
           (32, 100, 64, 128): (0.8, 0.4), (64, 100, 128, 256): (0.9, 0.8),
           (64, 50, 512, 512): (0.95, 0.9)}
LENGTHS_TARGET = 1.1  # numbarnn with lengths / numbarnn without
QUICK_SIZES = [(2, 5, 3, 4)]


def alternating_medians(funcs, min_seconds, rounds=5, min_repeats=3):
    """Median time of each function, measured in alternating blocks.

    Each round runs every function in turn for about ``min_seconds / rounds``,
    after one untimed call: so slow drift on a shared machine hits all alike,
    while the thread pools of numbarnn's BLAS and of torch (which spin for a
    while after each call) do not fight over the cores inside a timed call.
    """
    times = [[] for _ in funcs]
    for _ in range(rounds):
        for f, ts in zip(funcs, times):
            f()
            start = time.perf_counter()
            n = 0
            while n < min_repeats or time.perf_counter() - start < min_seconds / rounds:
                t = time.perf_counter()
                f()
                ts.append(time.perf_counter() - t)
                n += 1
    return [float(np.median(ts)) for ts in times]


def torch_twin(torch, cell, layer):
    """A torch layer with the numbarnn layer's weights, and its dtype."""
    tdtype = torch.float32 if layer.dtype == np.float32 else torch.float64
    kind, bidirectional = parse_cell(cell)
    cls = {"lstm": torch.nn.LSTM, "rnn": torch.nn.RNN, "gru": torch.nn.GRU}[kind]
    twin = cls(layer.input_size, layer.hidden_size, bidirectional=bidirectional).to(tdtype)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    return twin


def time_size(torch, cell, size, dtype, min_seconds):
    layer, x, dout = make_layer(cell, size, dtype)
    twin = torch_twin(torch, cell, layer)
    xt = torch.from_numpy(x).requires_grad_()
    doutt = torch.from_numpy(dout)

    def nb_train():
        layer.forward(x)
        layer.backward(dout)

    def nb_infer():
        layer.forward(x, train=False)

    def torch_train():
        out, _ = twin(xt)
        out.backward(doutt)

    def torch_infer():
        with torch.no_grad():
            twin(xt)

    nb_t, th_t = alternating_medians([nb_train, torch_train], min_seconds)
    nb_i, th_i = alternating_medians([nb_infer, torch_infer], min_seconds)
    return nb_t, th_t, nb_i, th_i


def time_lengths(torch, cell, size, dtype, min_seconds):
    """Training step times (forward + backward) of a padded batch with and without
    ``lengths``: (numbarnn with, numbarnn without, torch packed, torch padded)."""
    layer, x, dout = make_layer(cell, size, dtype)
    twin = torch_twin(torch, cell, layer)
    lengths = padded_lengths(size)
    rnn_utils = torch.nn.utils.rnn
    xt = torch.from_numpy(x).requires_grad_()
    doutt = torch.from_numpy(dout)
    lengths_t = torch.from_numpy(lengths)

    def nb(lengths):
        def step():
            layer.forward(x, lengths=lengths)
            layer.backward(dout)
        return step

    def torch_packed():
        packed = rnn_utils.pack_padded_sequence(xt, lengths_t, enforce_sorted=False)
        out, _ = twin(packed)
        out, _ = rnn_utils.pad_packed_sequence(out, total_length=x.shape[0])
        out.backward(doutt)

    def torch_padded():
        out, _ = twin(xt)
        out.backward(doutt)

    return tuple(alternating_medians([nb(lengths), nb(None), torch_packed, torch_padded],
                                     min_seconds))


def tile_peak(dtype="float32", seconds=0.3):
    """GFLOP/s of the kernels' tile product (``numbarnn.kernels._tile``) on every usable
    core at once, each thread on its own cache-resident (64, 256) by (256, 512) operands:
    the multiply-add rate the time loops could reach at best (best of 3)."""
    from concurrent.futures import ThreadPoolExecutor

    from numbarnn.kernels._parts import usable_cores
    from numbarnn.kernels._tile import empty_packed, pack_columns, packed_product

    B, K, R = 64, 256, 512
    cores = usable_cores()
    rng = np.random.default_rng(0)
    operands = []
    for _ in range(cores):
        a = rng.standard_normal((B, K)).astype(dtype)
        w = empty_packed(K, R, a)
        pack_columns(rng.standard_normal((K, R)).astype(dtype), 0, R, w)
        operands.append((a, w, np.empty((B, R), dtype)))
    packed_product(*operands[0], False)  # compile / load
    per_call = 2 * B * K * R
    calls = max(1, int(seconds * 2e11 / per_call))

    def run(a, w, out):
        for _ in range(calls):
            packed_product(a, w, out, False)  # (releases the GIL: the threads run at once)

    best = float("inf")
    with ThreadPoolExecutor(cores) as pool:
        for _ in range(3):
            t = time.perf_counter()
            list(pool.map(lambda ops: run(*ops), operands))
            best = min(best, time.perf_counter() - t)
    return cores * calls * per_call / best / 1e9


def sgemm_peak(n=3072):
    """GFLOP/s of a large SGEMM through SciPy's BLAS, the one numba's np.dot calls (best of 3)."""
    from scipy.linalg import blas

    a = np.ones((n, n), np.float32, order="F")  # Fortran order: no copy inside sgemm
    blas.sgemm(1.0, a, a)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        blas.sgemm(1.0, a, a)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


_MEMORY_SCRIPT = """
import sys
import numpy as np
sys.path.insert(0, {root!r})
from asv_benchmarks.common import make_layer

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

small, x, dout = make_layer("lstm", (2, 3, 4, 5), "float32")   # compile / load first
small.forward(x); small.backward(dout)
layer, x, dout = make_layer("lstm", {size!r}, "float32")
base = status("VmRSS:")
with open("/proc/self/clear_refs", "w") as f:   # reset the peak (VmHWM) to the current size
    f.write("5")
layer.forward(x); layer.backward(dout)
layer.forward(x); layer.backward(dout)
print(status("VmHWM:") - base)
"""


def training_memory(size=(64, 100, 128, 256)):
    """(peak extra bytes of an LSTM training step, bytes it must hold), float32.

    The peak is the growth of the peak resident set size (Linux VmHWM, reset
    just before) of a fresh process over two forward+backward calls, after x
    and dout exist.  What it must hold:
    the stored activations (copy of x, outputs, gates, cells), the gradients (dx
    and the parameter gradients) and the parameters; x and dout themselves were
    allocated before the baseline and are not counted on either side.
    """
    B, T, D, H = size
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT.format(root=root, size=size)],
                         capture_output=True, text=True, check=True)
    peak = int(out.stdout.strip().splitlines()[-1])
    params = 4 * H * (D + H + 2)
    needed = 4 * (T * B * D + T * B * H + T * B * 4 * H + T * B * H  # activations
                  + T * B * D + 2 * params)                          # dx, grads, params
    return peak, needed


def row_target(cell, size, ratios):
    """The target ratio of a row: the issue's for the LSTM and the RNN, the LSTM's
    measured ratio for the GRU, 1.0 for a bidirectional layer (nan: none)."""
    kind, bidirectional = parse_cell(cell)
    if bidirectional:
        return 1.0
    if kind == "gru":
        return ratios.get("lstm", float("nan"))
    return TARGETS.get(size, (float("nan"),) * 2)[0 if kind == "lstm" else 1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, short timings")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--seconds", type=float, default=1.5,
                        help="minimum seconds per timed pair (default 1.5)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch intra-op threads (default: all cores)")
    parser.add_argument("--cells", default=",".join(CELLS + BIDIRECTIONAL),
                        help="rows to time, comma-separated (default: %(default)s)")
    parser.add_argument("--no-lengths", action="store_true",
                        help="skip the table of what lengths cost")
    parser.add_argument("--no-compile", action="store_true",
                        help="skip the cold-compile measurement (about 20 s)")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("torch is not installed: pip install torch==2.13.0 (the CPU build)")
        return 1
    torch.set_num_threads(args.threads)
    sizes = QUICK_SIZES if args.quick else SIZES
    seconds = 0.05 if args.quick else args.seconds
    peak = tile_peak(args.dtype, 0.02 if args.quick else 0.3)
    sgemm = sgemm_peak(256 if args.quick else 3072)
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
          f"{os.cpu_count()} cores, dtype {args.dtype}; peak (the tile product on every core) "
          f"{peak:.0f} GFLOP/s, SciPy SGEMM {sgemm:.0f} GFLOP/s")
    print("ratio = numbarnn time / torch time (medians, alternating blocks); < 1: numbarnn faster")
    header = (f"{'B, T, D, H':>18} | {'cell':7} | {'train ms':>9} {'torch ms':>9} {'ratio':>6} "
              f"{'target':>6} | {'infer ms':>9} {'torch ms':>9} {'ratio':>6} | {'GFLOP/s':>7} "
              f"{'of peak':>7}")
    print(header)
    print("-" * len(header))
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    for size in sizes:
        ratios = {}
        for cell in cells:
            nb_t, th_t, nb_i, th_i = time_size(torch, cell, size, args.dtype, seconds)
            ratios[cell] = nb_t / th_t
            gflops = flops(cell, size) / nb_t / 1e9
            target = row_target(cell, size, ratios)
            print(f"{str(size):>18} | {cell:7} | {nb_t * 1e3:9.3f} {th_t * 1e3:9.3f} "
                  f"{nb_t / th_t:6.2f} {target:6.2f} | {nb_i * 1e3:9.3f} {th_i * 1e3:9.3f} "
                  f"{nb_i / th_i:6.2f} | {gflops:7.1f} {gflops / peak:7.1%}", flush=True)
    if not args.no_lengths:
        print(f"\nlengths (a padded batch, lengths in [T/2, T]), training step; target: "
              f"with / without <= {LENGTHS_TARGET}")
        print(f"{'B, T, D, H':>18} | {'cell':7} | {'with ms':>8} {'without':>8} {'ratio':>6} | "
              f"{'torch packed':>12} {'padded':>8} {'ratio':>6}")
        for size in sizes:
            for cell in [c for c in cells if not parse_cell(c)[1]]:
                w, wo, tp, tu = time_lengths(torch, cell, size, args.dtype, seconds)
                print(f"{str(size):>18} | {cell:7} | {w * 1e3:8.3f} {wo * 1e3:8.3f} "
                      f"{w / wo:6.2f} | {tp * 1e3:12.3f} {tu * 1e3:8.3f} {tp / tu:6.2f}",
                      flush=True)
    mem_size = (2, 5, 3, 4) if args.quick else (64, 100, 128, 256)
    used, needed = training_memory(mem_size)
    print(f"\nLSTM training peak memory at (B, T, D, H) = {mem_size}: {used / 2**20:.1f} MiB over "
          f"{needed / 2**20:.1f} MiB that activations, gradients and parameters need "
          f"= {used / needed:.2f}x")
    if args.no_compile:
        return 0
    with tempfile.TemporaryDirectory() as cache:
        cold = first_call_seconds(cache)
        warm = first_call_seconds(cache)
    print(f"import + first calls of the four kernels (float32): {cold:.1f} s with an empty "
          f"compile cache, {warm:.2f} s with a warm one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
