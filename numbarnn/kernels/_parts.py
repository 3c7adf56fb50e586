"""How a CPU time loop is shared between threads: each owns a slice of the hidden units
(or, in small layers, of the batch's rows).

Part ``p`` of ``P`` owns units ``u0:u1`` (``unit_range``) and, for a cell with G
gate blocks, the G·n rows of every weight that produce them (``gate_rows``).
It packs those rows once per call (``_tile``'s layout: transposed, in panels of
whole tiles), so that its slice of the weights stays in its own core's cache for the
whole sequence; it projects its own rows of the inputs (``project_part``), runs
its share of every step, and meets the other parts at a barrier once per step,
when the step's result is complete.  A small layer's forward and backward loops
(``step_share``, ``loop_share``: weights every part can keep whole) are split by
rows instead: each part runs every unit of its own rows, and no part waits for
another until the loop ends.  Every sum is a
``_tile`` product in a fixed order, so any number of parts gives the same bits.

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
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
from numba import njit, types, uint64
from numba.extending import overload

from ._jit import HELPER_OPTIONS, is_tokens
from ._sync import COUNTER_STRIDE
from ._tile import (ROWS, empty_packed, pack_transposed_rows, packed_product, panels,
                    tile_columns)
from ._views import as_matrix, flat


@njit(**HELPER_OPTIONS)
def unit_range(part, parts, H, itemsize):
    """The hidden units ``u0:u1`` that part ``part`` of ``parts`` owns.

    The parts split H in whole cache lines of units (64 bytes), as evenly as
    that allows, so that two cores never write to one line of a row (a line
    that two cores write moves between them on every write) of an array that
    starts on a line (the CPU device aligns every array of 16 KiB or more:
    ``devices.SMALL_BYTES``).
    """
    line = 64 // itemsize
    lines = (H + line - 1) // line
    return (min(H, part * lines // parts * line),
            min(H, (part + 1) * lines // parts * line))


@njit(**HELPER_OPTIONS)
def loop_parts(parts, H, itemsize):
    """How many of ``parts`` split a backward time loop over H units between them.  A
    part's units are the columns of its packed slice of W_hh in the step's product:
    with fewer than a panel of them (``_tile``) some vector lanes idle.  Measured (LSTM,
    float32, the loop alone, B = 16): H = 64, two parts of 32 units 0.45 against 0.36
    ms on one; H = 128, 0.73 against 1.10.  (``loop_share`` splits rows where it can.)"""
    return parts if H // parts >= tile_columns(itemsize) else 1


@njit(**HELPER_OPTIONS)
def loop_share(part, parts, B, GH, H, itemsize):
    """This part's share of a backward time loop over B rows, with a (GH, H) recurrent
    weight: ``(u0, u1, b0, b1, meet)``, its units and rows and how many parts meet at
    each step's barrier.

    Rows where every part can keep the whole weight (at most ``FUSE_BYTES``) and gets a
    whole tile of them, or where the units are too few to split (``loop_parts``): each
    part runs all units of a block of rows, whole tiles of ``ROWS`` where B allows, and
    since a row's step needs nothing from the other rows, the parts never wait for each
    other (alternating, LSTM at (16, 100, 32, 64): a training step 1.18-1.21 -> 1.06-1.10
    ms; the backward at (32, 100, 64, 128) 3.61-5.81 -> 3.38-3.60 ms; training steps at
    (64, 100, 128, 256): LSTM 41-44 -> 38-41 ms, GRU 36-40 -> 32-35, RNN 10.9-11.4 ->
    9.7-10.7).  Otherwise units, as the forward splits them, every part all rows; every
    step's product then needs the gradients of all the parts' units.  A row's sums are
    the same whichever part runs it: the same bits for any number of parts.
    """
    shared = loop_parts(parts, H, itemsize)
    if parts > 1 and B >= parts * ROWS and GH * H * itemsize <= FUSE_BYTES:
        shared = 1
    if shared > 1 or parts == 1:
        u0, u1 = unit_range(part, shared, H, itemsize) if part < shared else (H, H)
        return u0, u1, 0, B, shared
    b0, b1 = row_block(part, parts, B)
    return 0, H, b0, b1, 1


@njit(**HELPER_OPTIONS)
def row_block(part, parts, B):
    """The rows ``b0:b1`` of part ``part`` of ``parts``: whole tiles of ``ROWS`` rows, as
    evenly as that allows (a part may get none)."""
    tiles = (B + ROWS - 1) // ROWS
    return min(B, part * tiles // parts * ROWS), min(B, (part + 1) * tiles // parts * ROWS)


@njit(**HELPER_OPTIONS)
def step_share(part, parts, x, G, H, itemsize):
    """This part's share of a forward time loop over the rows of ``x`` and H units (G
    gate blocks): ``(u0, u1, b0, b1, meet)``, as ``loop_share``.

    Rows where every part can keep all the weights of its step (``rows_fit``: [W_ih;
    W_hh] multiplied with float inputs in the step, or W_hh beside token ids' lookups,
    within ``FUSE_BYTES``; small layers) and each gets a whole tile of rows: each part
    then runs all units of its own rows and never waits for another (the units' split
    meets at a barrier every step, and each step reads h_{t-1} rows that the other
    cores wrote).  Otherwise units (``unit_range``), every part all rows.
    """
    B = x.shape[1]
    if parts > 1 and B >= parts * ROWS and rows_fit(x, H, G * H, itemsize):
        b0, b1 = row_block(part, parts, B)
        return 0, H, b0, b1, 1
    u0, u1 = unit_range(part, parts, H, itemsize)
    return u0, u1, 0, B, parts


@njit(**HELPER_OPTIONS)
def gate_rows(G, H, u0, u1):
    """The weight rows of units ``u0:u1`` in every one of G gate blocks, block by block."""
    n = u1 - u0
    rows = np.empty(G * n, np.int64)
    for g in range(G):
        for j in range(n):
            rows[g * n + j] = g * H + u0 + j
    return rows


@njit(**HELPER_OPTIONS)
def own_projection(xproj, G, u0, u1):
    """This part's share of the projection work space, as (K B, G n): the parts'
    shares tile ``xproj`` (K, B, G H) exactly, one after the other."""
    K, B = xproj.shape[0], xproj.shape[1]
    return as_matrix(flat(xproj)[K * B * G * u0:], K * B, G * (u1 - u0))


@njit(**HELPER_OPTIONS)
def copy_block(src, at, dst):
    """``dst[:] = src[at:at + dst.size]`` for flat ``src`` and a contiguous ``dst``."""
    d = flat(dst)
    at = uint64(at)
    for q in range(uint64(d.size)):
        d[q] = src[at + q]


def sequence_lengths(lengths, T, B):
    """``lengths`` itself, or every row T long where it is None (or omitted); compiled
    use only."""
    raise NotImplementedError


@overload(sequence_lengths, jit_options=HELPER_OPTIONS)
def _sequence_lengths(lengths, T, B):
    if lengths is None or isinstance(lengths, (types.NoneType, types.Omitted)):
        return lambda lengths, T, B: np.full(B, T, np.int64)
    return lambda lengths, T, B: lengths


def full_lengths(lengths, T, B):
    """The Python side of ``sequence_lengths``, as the int64 array the parts are compiled for."""
    if lengths is None:
        return np.full(B, T, np.int64)
    return np.ascontiguousarray(lengths, np.int64)


@njit(**HELPER_OPTIONS)
def take_final(t, lengths, state, at, H, u0, u1, b0, b1, final):
    """``final[b, u0:u1]`` = row b of the (B, H) block of flat ``state`` at ``at``, for
    every row ``b0 <= b < b1`` whose last step is t."""
    for b in range(b0, b1):
        if lengths[b] == t + 1:
            src = uint64(at + b * H)
            for j in range(u0, u1):
                final[b, j] = state[src + uint64(j)]


@njit(**HELPER_OPTIONS)
def zero_past_ends(t, lengths, out, at, H, u0, u1, b0, b1):
    """Zero units ``u0:u1`` of the rows ``b0 <= b < b1`` of the (B, H) block of flat
    ``out`` at ``at`` whose sequence ended before step t."""
    zero = out.dtype.type(0)
    for b in range(b0, b1):
        if t >= lengths[b]:
            dst = uint64(at + b * H)
            for j in range(uint64(u0), uint64(u1)):
                out[dst + j] = zero


@njit(**HELPER_OPTIONS)
def carried_gradient(t, lengths, final, carried, b0, u0):
    """The gradient (m, n) carried into step t from step t + 1 for rows ``b0:b0+m``:
    ``final[b0:b0+m, u0:u0+n]`` (dh_n, dc_n) where t is a row's last step, zero after
    it, else ``carried`` as is."""
    m, n = carried.shape
    zero = carried.dtype.type(0)
    for b in range(m):
        if lengths[b0 + b] == t + 1:
            for j in range(n):
                carried[b, j] = final[b0 + b, u0 + j]
        elif t >= lengths[b0 + b]:
            for j in range(n):
                carried[b, j] = zero


@njit(**HELPER_OPTIONS)
def step_gradient(t, lengths, dout, at, H, final, carried, dh, b0, u0):
    """``dh`` (m, n): the gradient reaching h_t of this part's rows ``b0:b0+m`` and units,
    ``dout_t`` (flat ``dout``, this part's first row of step t at ``at``) plus the
    gradient carried from step t + 1 (see ``carried_gradient``), and zero past each
    row's last step (a padded output is a constant zero)."""
    carried_gradient(t, lengths, final, carried, b0, u0)
    m, n = dh.shape
    dout_f, dh_f, next_f = dout, flat(dh), flat(carried)
    zero = dh.dtype.type(0)
    for b in range(m):
        src, r = uint64(at + b * H), uint64(b * n)
        if t < lengths[b0 + b]:
            for j in range(uint64(n)):
                dh_f[r + j] = dout_f[src + j] + next_f[r + j]
        else:
            for j in range(uint64(n)):
                dh_f[r + j] = zero


# Packed weights a part may keep per step: half of this machine class's 2 MiB L2 (one
# core's).  Every part keeps all of [W_ih; W_hh] where a forward loop splits rows
# (``step_share``), and all of W_hh where a backward loop does (``loop_share``).
FUSE_BYTES = 1 << 20
# The whole packed [W_ih; W_hh] that a layer multiplies with its inputs inside each step
# (a part of two keeps half of it, FUSE_BYTES), else the inputs are projected K steps
# at a time.  Decided on the whole weight, not a part's share, so that every number of
# threads takes the same path and rounds the same way (the same bits).
FUSED_WEIGHT_BYTES = 2 * FUSE_BYTES


@njit(**HELPER_OPTIONS)
def packed_bytes(K, GH, itemsize):
    """Bytes of a weight of K rows of GH columns packed by ``_tile`` (whole panels)."""
    return K * panels(GH, itemsize) * tile_columns(itemsize) * itemsize


def fused_inputs(x, H, GH, limit):
    """D if each step multiplies [x_t, h_{t-1}] by the packed [W_ih; W_hh] at once (its
    D + H rows of GH columns, padded to whole panels, at most ``limit`` bytes), else 0
    (inputs projected ``K`` steps at a time); compiled use only."""
    raise NotImplementedError


@overload(fused_inputs, jit_options=HELPER_OPTIONS)
def _fused_inputs(x, H, GH, limit):
    if is_tokens(x):  # a lookup is cheaper than a product with a one-hot row
        return lambda x, H, GH, limit: np.int64(0)

    def by_size(x, H, GH, limit):
        D = x.shape[2]
        return D if packed_bytes(D + H, GH, x.itemsize) <= limit else 0
    return by_size


def rows_fit(x, H, GH, itemsize):
    """Whether every part of a forward loop can keep all the weights it multiplies in the
    step (``FUSE_BYTES``): [W_ih; W_hh] with float inputs (fused), W_hh alone with token
    ids (their projection is a lookup, ``project_part``); compiled use only."""
    raise NotImplementedError


@overload(rows_fit, jit_options=HELPER_OPTIONS)
def _rows_fit(x, H, GH, itemsize):
    if is_tokens(x):
        return lambda x, H, GH, itemsize: packed_bytes(H, GH, itemsize) <= FUSE_BYTES
    return lambda x, H, GH, itemsize: fused_inputs(x, H, GH, FUSE_BYTES) > 0


def step_inputs(x_flat, D, x_at, h, h_at, a):
    """``a[b] = [x_t[b], h_{t-1}[b]]`` for an ``a`` of D + H columns (D = 0: h_{t-1}
    alone) and its rows' blocks in flat ``x_flat`` (at ``x_at``) and ``h`` (at ``h_at``).
    Compiled use only."""
    raise NotImplementedError


@overload(step_inputs, jit_options=HELPER_OPTIONS)
def _step_inputs(x_flat, D, x_at, h, h_at, a):
    if isinstance(x_flat.dtype, types.Integer):  # token ids are never fused
        return lambda x_flat, D, x_at, h, h_at, a: copy_block(h, h_at, a)

    def rows_of_x_and_h(x_flat, D, x_at, h, h_at, a):
        B, W = a.shape
        H = W - D
        dst = flat(a)
        for b in range(B):
            row, xs, hs = uint64(b * W), uint64(x_at + b * D), uint64(h_at + b * H)
            for j in range(uint64(D)):
                dst[row + j] = x_flat[xs + j]
            row += uint64(D)
            for j in range(uint64(H)):
                dst[row + j] = h[hs + j]
    return rows_of_x_and_h


@njit(**HELPER_OPTIONS)
def pack_part(x, w_ih, w_hh, G, u0, u1, fuse):
    """This part's packed weights: its G gate blocks of rows of ``W_ih`` and ``W_hh``.

    Returns ``(rows, D, w_step, w_in)``: the natural row numbers; D > 0 when each
    step multiplies [x_t, h_{t-1}] by ``w_step`` = [W_ih; W_hh] (packed; only if
    ``fuse`` and ``fused_inputs`` allows), else 0, ``w_step`` = W_hh and
    ``w_in`` = W_ih for ``project_part``.
    """
    H = w_hh.shape[1]
    rows = gate_rows(G, H, u0, u1)
    D = fused_inputs(x, H, G * H, FUSED_WEIGHT_BYTES) if fuse else np.int64(0)
    w_step = empty_packed(D + H, rows.size, w_hh)
    pack_transposed_rows(w_hh, rows, w_step, D)
    w_in = empty_packed(0 if D else w_ih.shape[1], rows.size, w_hh)
    pack_transposed_rows(w_ih, rows, w_step if D else w_in, np.int64(0))
    return rows, D, w_step, w_in


@njit(**HELPER_OPTIONS)
def step_product(x_flat, D, x_at, h, h_at, inputs, w_step, result):
    """``result = [x_t, h_{t-1}] @ w_step`` (or ``h_{t-1} @ w_step`` when D = 0) for the
    part's rows, whose blocks start at ``x_at`` in flat x and at ``h_at`` in flat ``h``
    (h0, or the output): one streaming copy of the inputs, most of which the other
    parts may have written (the product's scattered reads of them would each wait for a
    line from another core), then the tile product."""
    step_inputs(x_flat, D, x_at, h, h_at, inputs)
    packed_product(inputs, w_step, result, False)


def project_part(x, t0, n, w_in, xp, b0, b1):
    """``xp[:n B] = x[t0:t0+n] @ w_in`` for this part's packed rows (of token ids: only
    batch rows ``b0:b1``, the part's own where its loop splits rows; float inputs: all);
    compiled use only."""
    raise NotImplementedError  # numba compiles the overload below


@overload(project_part, jit_options=HELPER_OPTIONS)
def _project_part(x, t0, n, w_in, xp, b0, b1):
    if is_tokens(x):  # one-hot inputs: the projection is a row of W_ih^T
        def lookup(x, t0, n, w_in, xp, b0, b1):
            B, R = x.shape[1], xp.shape[1]
            panels, V, step = w_in.shape
            w, out = flat(w_in), flat(xp)
            for t in range(n):
                for b in range(b0, b1):
                    dst = uint64((t * B + b) * R)
                    for p in range(panels):  # the token's row, panel by panel
                        src, at = uint64((p * V + x[t0 + t, b]) * step), uint64(p * step)
                        for j in range(uint64(min(step, R - p * step))):
                            out[dst + at + j] = w[src + j]
        return lookup

    def product(x, t0, n, w_in, xp, b0, b1):  # (never split by rows: not fused)
        T, B, D = x.shape
        packed_product(as_matrix(x[t0:], n * B, D), w_in, xp[:n * B], False)
    return product


@njit(**HELPER_OPTIONS)
def project_block(x, t, K, w_in, xp, b0, b1):
    """``project_part`` for the block of up to K steps that starts at step t, where t
    starts one (a multiple of K, before T): the forward loops call it for t = 0 before
    their first step and for t + 1 after each step t, between the barrier's halves."""
    T = x.shape[0]
    if t % K == 0 and t < T:
        project_part(x, t, min(K, T - t), w_in, xp, b0, b1)


# ---------------------------------------------------------------------- threads
_pool = []
_side_pool = []
_pool_lock = threading.Lock()


def usable_cores():
    """Cores this process may run on (its affinity mask, where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# A step must hold this many multiply-adds of recurrent product per thread to pay
# for a barrier and the copy of h_{t-1} from the other core.  Measured beside
# torch: the RNN at B = 16, H = 64 (65,536) ran 1.3 to 1.5 times faster on one
# thread; the LSTM there (262,144) infers 1.2 times faster on two.
MIN_WORK_PER_THREAD = 1 << 16


def _forced_threads():
    """``NUMBARNN_THREADS`` as a positive integer, or 0 where it is not set."""
    forced = os.environ.get("NUMBARNN_THREADS", "")
    if forced and (not forced.isdigit() or int(forced) < 1):
        raise ValueError(f"NUMBARNN_THREADS: got {forced!r}, expected a positive integer")
    return int(forced) if forced else 0


def _free_threads():
    """Threads a call may use: the usable cores, at most two (the design point); one
    outside the main thread, where the caller is already running work side by side (the
    trainer's workers, a Dask worker) and spinning threads would fight for the cores."""
    if threading.current_thread() is not threading.main_thread():
        return 1
    return min(2, usable_cores())


def kernel_threads(B, GH, H):
    """How many threads share a time loop of batch ``B`` and a (GH, H) recurrent weight.

    ``NUMBARNN_THREADS`` (a positive integer) sets it.  Otherwise: as many as
    ``_free_threads`` allows, fewer when a step is too small to share, never more
    than H.
    """
    forced = _forced_threads()
    if forced:
        return max(1, min(forced, H))
    if B * GH * H < 2 * MIN_WORK_PER_THREAD:  # (too small to share: asks nothing of the OS)
        return 1
    threads = min(_free_threads(), H)
    while threads > 1 and B * GH * H < MIN_WORK_PER_THREAD * threads:
        threads -= 1
    return threads


# A pass over memory (a check, a copy) that reads and writes this many bytes pays for
# waking a second thread (about 50 microseconds).  Measured, a reversed copy of a
# cold array on one thread and on two: 1 MiB 60 against 84 us, 2 MiB 142 against 104,
# 8 MiB 549 against 293.
SHARED_PASS_BYTES = 4 << 20


def pass_threads(nbytes):
    """How many threads share a pass over memory that reads and writes ``nbytes``: one
    below ``SHARED_PASS_BYTES``, else as ``kernel_threads`` for a time loop (at most two:
    ``NUMBARNN_THREADS`` caps it)."""
    if nbytes < SHARED_PASS_BYTES:
        return 1
    forced = _forced_threads()
    return min(forced, 2) if forced else _free_threads()


def _kernel_pool(workers):
    """The shared pool of kernel threads, with at least ``workers`` of them."""
    with _pool_lock:
        if not _pool or _pool[0]._max_workers < workers:
            _pool[:] = [ThreadPoolExecutor(workers, "numbarnn-kernel")]
        return _pool[0]


def in_parts(task, parts):
    """``[task(0), ..., task(parts - 1)]``, run at once: part 0 in this thread, the
    others on the kernel pool."""
    if parts == 1:
        return [task(0)]
    others = [_kernel_pool(parts - 1).submit(task, p) for p in range(1, parts)]
    try:
        first = task(0)
    finally:
        rest = [other.result() for other in others]
    return [first] + rest


def run_parts(function, parts, *args):
    """``function(part, parts, counters, *args)`` in ``parts`` threads at once (part 0
    in this one), with fresh barrier counters."""
    counters = np.zeros(parts * COUNTER_STRIDE, np.int64)
    in_parts(lambda part: function(part, parts, counters, *args), parts)


# A direction's recurrent weight up to this size runs on a core of its own beside the
# other; above it the two directions go one after the other, each shared by both cores
# (each core then streams half a weight every step instead of a whole one).  Measured
# with the LSTM in float32 (median step times, alternating): side by side was faster
# at H = 64 to 256 (1 MiB: inference 27 against 31 ms, training 93 against 104 at
# B = 64), even at H = 384 (2.25 MiB) in inference but 6 % slower in training, and
# 7 % slower in both at H = 512 (4 MiB: 74 against 69 ms, 266 against 248).
SIDE_BY_SIDE_BYTES = 2 << 20


def side_by_side(calls, B, GH, H, itemsize):
    """Run the independent ``calls`` (the two directions of a bidirectional layer of
    batch ``B`` and (GH, H) recurrent weights of ``itemsize`` bytes) at once, each on a
    thread of its own, so that each direction's time loop runs on one core
    (``kernel_threads`` gives a call outside the main thread one thread) instead of
    each being shared by two cores, one direction after the other: no barriers, no
    hidden state crossing between the cores.  One after the other where there is one
    core, outside the main thread, when ``NUMBARNN_THREADS`` sets the threads, when a
    step holds too little work to pay for waking a thread (at B = 1, H = 32 that took
    longer than the LSTM's time loop), or when a direction's recurrent weight is
    larger than ``SIDE_BY_SIDE_BYTES``.
    """
    if (len(calls) < 2 or _forced_threads() or _free_threads() < 2
            or B * GH * H < MIN_WORK_PER_THREAD or GH * H * itemsize > SIDE_BY_SIDE_BYTES):
        for call in calls:
            call()
        return
    with _pool_lock:
        if not _side_pool:
            _side_pool.append(ThreadPoolExecutor(2, "numbarnn-direction"))
        pool = _side_pool[0]
    futures = [pool.submit(call) for call in calls]
    wait(futures)  # all of them, even when one fails
    for future in futures:
        future.result()
