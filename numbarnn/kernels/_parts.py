"""How a CPU time loop is shared between threads: each owns a slice of the hidden units.

Part ``p`` of ``P`` owns units ``u0:u1`` (``unit_range``) and, for a cell with G
gate blocks, the G·n rows of every weight that produce them (``gate_rows``).
It packs those rows once per call (``_tile`` layout: transposed, padded to whole
tiles), so that its slice of the weights stays in its own core's cache for the
whole sequence; it projects its own rows of the inputs (``project_part``), runs
its share of every step, and meets the other parts at a barrier once per step,
when the step's result is complete.  Every sum is a ``_tile`` product in a
fixed order, so any number of parts gives the same bits.

Inside a time loop the parts touch the arrays they share only through scalar
indexing of flat views made once per call, at unsigned offsets: a view made per
step or row would update the shared array's reference count, an atomic whose
cache line then bounces between the cores (at B = 16 that cost more than the
step's arithmetic), and an unsigned index needs no wraparound test, which would
stop LLVM from vectorising the loop.

``run_parts`` runs the parts of one call on a shared thread pool (the kernels
release the GIL); ``kernel_threads`` chooses how many.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit, uint64
from numba.extending import overload

from ._gemm import is_tokens
from ._jit import JIT_OPTIONS
from ._sync import COUNTER_STRIDE
from ._tile import packed_product


@njit(**JIT_OPTIONS)
def unit_range(part, parts, H, itemsize):
    """The hidden units ``u0:u1`` that part ``part`` of ``parts`` owns.

    The parts split H in whole cache lines of units (64 bytes), as evenly as
    that allows, so that two cores never write to one line of a row (a line
    that two cores write moves between them on every write).
    """
    line = 64 // itemsize
    lines = (H + line - 1) // line
    return (min(H, part * lines // parts * line),
            min(H, (part + 1) * lines // parts * line))


@njit(**JIT_OPTIONS)
def gate_rows(G, H, u0, u1):
    """The weight rows of units ``u0:u1`` in every one of G gate blocks, block by block."""
    n = u1 - u0
    rows = np.empty(G * n, np.int64)
    for g in range(G):
        for j in range(n):
            rows[g * n + j] = g * H + u0 + j
    return rows


@njit(**JIT_OPTIONS)
def own_projection(xproj, G, u0, u1):
    """This part's share of the projection work space, as (K B, G n): the parts'
    shares tile ``xproj`` (K, B, G H) exactly, one after the other."""
    K, B = xproj.shape[0], xproj.shape[1]
    flat = xproj.reshape(xproj.size)
    return flat[K * B * G * u0:K * B * G * u1].reshape(K * B, G * (u1 - u0))


@njit(**JIT_OPTIONS)
def flat(a):
    """A 1-D view of a C-contiguous array (made once per call; see the module docstring)."""
    return a.reshape(a.size)


@njit(**JIT_OPTIONS)
def copy_block(src, at, dst):
    """``dst[:] = src[at:at + dst.size]`` for flat ``src`` and a contiguous ``dst``."""
    d = flat(dst)
    at = uint64(at)
    for q in range(uint64(d.size)):
        d[q] = src[at + q]


def project_part(x, t0, n, w_in, xp):
    """``xp[:n B] = x[t0:t0+n] @ w_in`` for this part's packed rows; compiled use only."""
    raise NotImplementedError  # numba compiles the overload below


@overload(project_part, jit_options=JIT_OPTIONS)
def _project_part(x, t0, n, w_in, xp):
    if is_tokens(x):  # one-hot inputs: the projection is a row of W_ih^T
        def lookup(x, t0, n, w_in, xp):
            B, R, R_pad = x.shape[1], uint64(xp.shape[1]), uint64(w_in.shape[1])
            w, out = flat(w_in), flat(xp)
            for t in range(n):
                for b in range(B):
                    src, dst = uint64(x[t0 + t, b]) * R_pad, uint64(t * B + b) * R
                    for j in range(R):
                        out[dst + j] = w[src + j]
        return lookup

    def product(x, t0, n, w_in, xp):
        T, B, D = x.shape
        packed_product(x[t0:t0 + n].reshape(n * B, D), w_in, xp[:n * B])
    return product


# ---------------------------------------------------------------------- threads
_pool = []
_pool_lock = threading.Lock()


def usable_cores():
    """Cores this process may run on (its affinity mask, where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# A step must hold this many multiply-adds of recurrent product per extra thread
# to pay for a barrier (measured: below it, one thread is as fast).
MIN_WORK_PER_THREAD = 1 << 14


def kernel_threads(B, GH, H):
    """How many threads share a time loop of batch ``B`` and a (GH, H) recurrent weight.

    ``NUMBARNN_THREADS`` (a positive integer) sets it.  Otherwise: as many as
    the usable cores, at most two (the design point), fewer when a step is too
    small to share, never more than H; and one outside the main thread, where
    the caller is already running work side by side (the trainer's workers, a
    Dask worker) and spinning threads would fight for the cores.
    """
    forced = os.environ.get("NUMBARNN_THREADS", "")
    if forced:
        if not forced.isdigit() or int(forced) < 1:
            raise ValueError(f"NUMBARNN_THREADS: got {forced!r}, expected a positive integer")
        return max(1, min(int(forced), H))
    if threading.current_thread() is not threading.main_thread():
        return 1
    threads = min(2, usable_cores(), H)
    while threads > 1 and B * GH * H < MIN_WORK_PER_THREAD * threads:
        threads -= 1
    return threads


def run_parts(function, parts, *args):
    """``function(part, parts, counters, *args)`` in ``parts`` threads at once (part 0
    in this one); each call gets fresh barrier counters."""
    counters = np.zeros(parts * COUNTER_STRIDE, np.int64)
    if parts == 1:
        function(0, 1, counters, *args)
        return
    with _pool_lock:
        if not _pool or _pool[0]._max_workers < parts - 1:
            _pool[:] = [ThreadPoolExecutor(parts - 1, "numbarnn-kernel")]
        pool = _pool[0]
    others = [pool.submit(function, p, parts, counters, *args) for p in range(1, parts)]
    try:
        function(0, parts, counters, *args)
    finally:
        for other in others:
            other.result()
