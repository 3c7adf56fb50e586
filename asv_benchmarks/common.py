"""Sizes and setup shared by the benchmark suites and the torch comparison script."""
import numpy as np

from numbarnn.layers import LAYERS

# (B, T, D, H): batch, sequence length, input size, hidden size.
SIZES = [(1, 100, 8, 32), (16, 100, 32, 64), (32, 100, 64, 128), (64, 100, 128, 256),
         (64, 50, 512, 512)]
CELLS = ["lstm", "rnn", "gru"]
# a cell name with "-bi": its bidirectional layer
BIDIRECTIONAL = ["lstm-bi", "gru-bi"]
DTYPES = ["float32", "float64"]


def parse_cell(cell):
    """'gru-bi' -> ('gru', True): the cell and whether the layer is bidirectional."""
    kind, _, bi = cell.partition("-")
    return kind, bi == "bi"


def make_layer(cell, size, dtype, seed=0):
    """A one-layer numbarnn layer and matching input/output-gradient arrays."""
    B, T, D, H = size
    kind, bidirectional = parse_cell(cell)
    layer = LAYERS[kind](D, H, bidirectional=bidirectional, dtype=np.dtype(dtype), seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    dout = rng.standard_normal((T, B, H * (2 if bidirectional else 1))).astype(dtype)
    return layer, x, dout


def padded_lengths(size, seed=0):
    """Lengths of a padded batch for ``lengths`` benchmarks: uniform in [T/2, T], one T."""
    B, T = size[:2]
    lengths = np.random.default_rng(seed).integers((T + 1) // 2, T + 1, B)
    lengths[0] = T
    return lengths


def flops(cell, size, backward=True):
    """Floating-point operations of the matrix products (the element-wise part is left out)."""
    B, T, D, H = size
    kind, bidirectional = parse_cell(cell)
    forward = 2 * T * B * LAYERS[kind]._gates * H * (D + H) * (2 if bidirectional else 1)
    return 3 * forward if backward else forward  # backward: dx + dW_ih, dh + dW_hh


_FIRST_CALLS = """
import time
t0 = time.perf_counter()
import numpy as np
import numbarnn
for cls in (numbarnn.LSTM, numbarnn.RNN):
    layer = cls(3, 4, dtype=np.{dtype})
    out, _ = layer.forward(np.ones((2, 1, 3), np.{dtype}))
    layer.backward(np.ones_like(out))
print(time.perf_counter() - t0)
"""


_TEXT_RUN = """
from numbarnn.text import TextTrainer
print(TextTrainer("the cat sat on the mat. " * 400, val_frac=0.2).train(steps=1)["compile_seconds"])
"""


def text_compile_seconds(cache_dir):
    """The compile seconds a fresh process's first ``train-text`` run of the defaults
    reports (its layer's two kernels compiled side by side: ``numbarnn.precompile``)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    result = subprocess.run([sys.executable, "-c", _TEXT_RUN], env=env, capture_output=True,
                            text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def first_call_seconds(cache_dir, dtype="float32"):
    """Seconds for a fresh process to import numbarnn and run the LSTM's and the RNN's four
    kernels once (the compile-time measure of the CPU-kernel issue).

    With an empty ``cache_dir`` this is the compile time; run again with the same
    directory it is the start-up time with a warm cache.
    """
    import os
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    result = subprocess.run([sys.executable, "-c", _FIRST_CALLS.format(dtype=dtype)],
                            env=env, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])
