"""The CUDA time loop the twins share: the warp and tiled designs, their plan, launch.

The warp design gives each hidden unit one warp (``LANES`` threads share its dot
products, ``ROWS`` batch rows at once); the tiled design gives each block a slice of
the hidden units with its rows of ``W_hh`` in shared memory (``SliceGeometry``).
``plan_time_loop`` picks one (``NUMBARNN_CUDA_LOOP`` overrides), and
``run_time_loop`` runs it as one persistent cooperative launch, or one launch per
step where that cannot be.
"""
import functools
import math
import os
import typing
import warnings

import numpy as np
from numba import cuda, uint64

from ._cuda_arrays import THREADS
from ._cuda_sim import SIMULATOR

LANES = 32  # threads (one warp) that share the dot products of one hidden unit
UNITS_PER_BLOCK = THREADS // LANES
ROWS = 4  # batch rows a warp serves at once: each weight it loads is used ROWS times
LOOP_DESIGNS = ("auto", "warp", "tiled")


class SliceGeometry(typing.NamedTuple):
    """Shapes of the tiled time loop (see ``tiled_units``); compile-time constants."""

    threads: int = 256  # threads per block
    batch_tile: int = 64  # batch rows a block computes at once
    slice_bytes: int = 32768  # shared memory for the block's slice of W_hh
    # shared memory for one staged tile of the vectors it multiplies, which then
    # also holds the threads' partial sums where they split the columns
    tile_bytes: int = 8192
    pairs: int = 2  # (unit, row) pairs one thread may own

    def slice_elements(self, dtype):
        return self.slice_bytes // np.dtype(dtype).itemsize

    def tile_elements(self, dtype):
        return self.tile_bytes // np.dtype(dtype).itemsize
GEOMETRY = SliceGeometry()


# ptxas (sm_90) gives the tiled kernels 90 to 156 registers a thread unbounded: one
# block of 256 threads a multiprocessor.  At 128 two fit (float64 LSTM forward: 56
# bytes of spills).  (The simulator's cuda.jit takes no such option.)
TILED_KERNEL_OPTIONS = {} if SIMULATOR else {"max_registers": 128}


@functools.lru_cache(maxsize=None)
def activations(dtype):
    """Device functions ``sigmoid`` and ``tanh`` computing in ``dtype``."""
    one = np.dtype(dtype).type(1)

    @cuda.jit(device=True)
    def sigmoid(x):
        return one / (one + math.exp(-x))

    @cuda.jit(device=True)
    def tanh(x):
        return math.tanh(x)

    return sigmoid, tanh


def work_units(B, H):
    """Warps' worth of work in one time step: hidden unit j for a group of ROWS batch rows."""
    return (B + ROWS - 1) // ROWS * H
unit_count = cuda.jit(device=True)(work_units)


@cuda.jit(device=True)
def work_unit(u, B, H):
    """Work unit u -> (its first batch row b0, its hidden unit j, its rows; 0 rows past the end).

    (Plain arithmetic: device functions here must not touch ``numba.cuda``, see ``lane_sum``.)
    """
    b0 = u // H * ROWS
    return b0, u % H, (min(ROWS, B - b0) if u < unit_count(B, H) else 0)


def unit_blocks(units):
    """Blocks that give every work unit its own warp, UNITS_PER_BLOCK to a block."""
    return max(1, (units + UNITS_PER_BLOCK - 1) // UNITS_PER_BLOCK)
_resident_blocks = {}


def resident_blocks(kernel, args, threads=THREADS):
    """How many blocks of ``kernel`` (of ``threads`` threads) can be resident at once: the
    cap of a cooperative launch.

    From the occupancy calculator (else two blocks a multiprocessor, which always
    fit); the simulator runs cooperative grids of one block.
    """
    if SIMULATOR:  # its cooperative grids are one block
        return 1
    # each kernel is built for one dtype and always called with the same argument
    # types, so the kernel alone is the key: no argument typing on every call
    if kernel not in _resident_blocks:
        try:
            types = tuple(kernel.typeof_pyval(a) for a in args)
            _resident_blocks[kernel] = kernel.compile(types).max_cooperative_grid_blocks(threads)
        except Exception:  # an API that differs between numba versions: stay safe
            _resident_blocks[kernel] = 2 * cuda.get_current_device().MULTIPROCESSOR_COUNT
    return _resident_blocks[kernel]


@cuda.jit(device=True)
def rows_dot(vectors, b0, rows, weights, j, lane, acc, sh, w):
    """One lane's share of ``sum_k vectors[b0 + r, k] * weights[j, k]`` for the rows r < rows.

    The lane takes k = lane, lane + LANES, ... and leaves its partial sums in
    ``sh[w, r, lane]`` (zeros for r >= rows); ``acc`` is its local scratch of ROWS
    values.  The caller synchronises the block before summing the lanes.
    """
    for r in range(ROWS):
        acc[r] = 0
    for k in range(lane, vectors.shape[1] if rows > 0 else 0, LANES):
        wk = weights[j, k]
        for r in range(ROWS):
            if r < rows:
                acc[r] += vectors[b0 + r, k] * wk
    for r in range(ROWS):
        sh[w, r, lane] = acc[r]


@functools.lru_cache(maxsize=None)
def lane_sum(dtype):
    """Device function ``lane_sum(sh, w, q)``: the sum of ``sh[w, q, :]``.

    The time-loop kernels keep a shared array ``sh`` of shape
    (UNITS_PER_BLOCK, sums, LANES): each warp writes its lanes' partial dot
    products into ``sh[w, q, lane]`` (w: the warp's slot in the block, q: which
    sum), and after a barrier the lanes that finish a row add them up with this.  (The shared array itself
    is declared in each kernel module: the simulator swaps ``numba.cuda`` in a
    device function's module while it runs, which races across modules.)
    """
    zero = np.dtype(dtype).type(0)

    @cuda.jit(device=True)
    def lane_sum_(sh, w, g):
        s = zero
        for lane in range(LANES):
            s += sh[w, g, lane]
        return s

    return lane_sum_


def loop_design():
    """The time-loop design in use: NUMBARNN_CUDA_LOOP = 'warp', 'tiled' or 'auto' (the default).

    'auto' is 'warp', the design measured on a GPU so far; the tiled design is
    checked against the CPU (simulator tests) but not yet timed, and
    ``asv_benchmarks/gpu_check.py`` times both side by side.
    """
    choice = os.environ.get("NUMBARNN_CUDA_LOOP", "auto")
    if choice not in LOOP_DESIGNS:
        raise ValueError(f"NUMBARNN_CUDA_LOOP: got {choice!r}, expected one of {LOOP_DESIGNS}")
    return "warp" if choice == "auto" else choice


def tiled_units(G, B, H, dtype, geometry):
    """Hidden units per block of the tiled time loop for a cell of G gates; 0 if none fit.

    A block keeps the rows of W_hh of its J units (G J rows of H forward, J rows
    of W_hh^T of G H backward: G J H values either way) in shared memory for the
    whole sequence, and owns the J x min(B, batch_tile) (unit, row) pairs of a
    batch tile, at most ``pairs`` to a thread.
    """
    if B == 0 or H == 0:
        return 0  # nothing to tile: the warp kernels' empty grid does nothing
    rows = min(B, geometry.batch_tile)
    return min(H, geometry.pairs * geometry.threads // rows,
               geometry.slice_elements(dtype) // (G * H))


class LoopPlan(typing.NamedTuple):
    """How a time loop runs: its design, blocks, threads, and the arguments the tiled
    kernels take first (``(J,)``, units per block; none for the warp kernels)."""

    design: str
    blocks: int
    threads: int
    head: tuple
    max_waves: int  # how many unit groups a resident block may stride over


def plan_time_loop(G, B, H, dtype):
    """The plan for a time loop of a G-gate cell over (B, H) states."""
    J = tiled_units(G, B, H, dtype, GEOMETRY) if loop_design() == "tiled" else 0
    if J:
        return LoopPlan("tiled", (H + J - 1) // J, GEOMETRY.threads, (J,), 1)
    return LoopPlan("warp", unit_blocks(work_units(B, H)), THREADS, (), MAX_WAVES)


def column_splits(J, B, threads, batch_tile):
    """Threads of the tiled loop that share each (unit, row) pair's columns (1: a thread
    owns whole pairs): a block's threads over the J min(B, batch_tile) pairs of a tile."""
    return max(1, threads // (J * min(B, batch_tile)))
_column_splits = cuda.jit(device=True)(column_splits)


class SliceFunctions(typing.NamedTuple):
    """The device functions of the tiled time loop (``slice_functions``)."""

    load_slice: object
    slice_dot: object
    summed_unit: object


@functools.lru_cache(maxsize=None)
def slice_functions(dtype, geometry, G, barrier):
    """Device functions of the tiled time loop, for products with G rows of weights per unit.

    A block's (unit, row) pairs of a batch tile go to its threads, up to
    ``pairs`` to a thread.  Where a tile has few pairs (small batches: 32 at
    B = 4 with 8 units), the idle threads take a share instead: the ``splits``
    threads of a pair take every splits-th column of each staged chunk, and their
    partial sums are added up through the tile's shared memory afterwards.  Where
    the batch is small the tile is narrow, so a chunk holds more columns: at
    B = 4 all of h_{t-1} (H = 256) is staged at once, one trip to memory a step.

    ``barrier`` is a device function of the calling kernels' module that runs
    ``cuda.syncthreads()``; nothing here touches ``numba.cuda`` (see ``lane_sum``),
    so these run under the simulator too.
    """
    zero = np.dtype(dtype).type(0)
    THREADS_, BT, PAIRS = geometry.threads, geometry.batch_tile, geometry.pairs
    ACC = PAIRS * G  # a thread's sums: G per pair
    TILE_ELEMS = geometry.tile_elements(dtype)
    if TILE_ELEMS < max(THREADS_, BT + 1):
        raise ValueError(f"{geometry}: the tile must hold a column of a batch tile and a "
                         f"value per thread ({max(THREADS_, BT + 1)} {np.dtype(dtype)})")
    ROUND = min(G, TILE_ELEMS // THREADS_)  # partial sums (of one thread) the tile holds at once

    @cuda.jit(device=True)
    def load_slice(w, j0, J, ws, tid):
        """``ws[(r J + u) K + k] = w[r U + j0 + u, k]`` for w (G U, K): the block's rows of w.

        Rows of units past U (a last, partial block) are zeros.
        """
        K = w.shape[1]
        units = w.shape[0] // G
        for e in range(tid, G * J * K, THREADS_):
            q, k = e // K, e % K
            r, u = q // J, q % J
            ws[e] = w[r * units + j0 + u, k] if j0 + u < units else zero

    @cuda.jit(device=True)
    def tile_layout(B, K):
        """A batch tile's rows, its column stride in the tile (odd: the stores down a
        column hit distinct banks) and the columns staged at once."""
        bt = min(B, BT)
        stride = bt | 1
        return bt, stride, min(K, TILE_ELEMS // stride)

    @cuda.jit(device=True)
    def stage_tile(vectors, b0, k0, hs, tid):
        """``hs[kk stride + bb] = vectors[b0 + bb, k0 + kk]`` for a chunk of columns,
        zero outside."""
        B, K = vectors.shape
        bt, stride, mc = tile_layout(B, K)
        for e in range(tid, mc * bt, THREADS_):
            bb, kk = e // mc, e % mc  # neighbouring threads read along a row: coalesced
            b, k = b0 + bb, k0 + kk
            hs[kk * stride + bb] = vectors[b, k] if b < B and k < K else zero

    @cuda.jit(device=True)
    def splits(J, B):
        return _column_splits(J, B, THREADS_, BT)

    @cuda.jit(device=True)
    def pair(i, tid, J, B):
        """This thread's pair i: (unit u of the block, row bb of the tile, the thread's
        share q of its columns, whether it exists)."""
        bt, s = min(B, BT), splits(J, B)
        p = tid // s + i * (THREADS_ // s)
        return p // bt, p % bt, tid % s, p < J * bt

    @cuda.jit(device=True)
    def summed_unit(i, tid, block, J, b0, B, H):
        """The (unit j, batch row b) of pair i, whose G products this thread holds in
        ``acc[i G:]`` after ``slice_dot`` for the batch tile at b0, and whether it holds
        them (not for pairs past H or B)."""
        u, bb, q, exists = pair(i, tid, J, B)
        j, b = block * J + u, b0 + bb
        return j, b, exists and q == 0 and j < H and b < B

    @cuda.jit(device=True)
    def accumulate_tile(hs, ws, k0, K, J, B, tid, acc):
        """``acc[i G + r] += sum_kk hs[kk, bb] ws[(r J + u) K + k0 + kk]`` for this thread's
        pairs i = (u, bb) over its share of the columns kk of one staged chunk."""
        _, stride, mc = tile_layout(B, K)
        kn, s = min(mc, K - k0), splits(J, B)
        for i in range(PAIRS):  # the pair's indices once, outside the inner loop: PTX
            u, bb, q, exists = pair(i, tid, J, B)  # showed a division per FMA otherwise
            if exists:
                # columns kk = q, q + s, ... < kn, walked by unsigned offsets: the PTX
                # then holds no multiplications and no wrap-around code for negative indices
                hk, wk = uint64(q * stride + bb), uint64(u * K + k0 + q)
                h_step, w_step, gate_stride = uint64(s * stride), uint64(s), uint64(J * K)
                for _ in range((kn - q + s - 1) // s):
                    hv = hs[hk]
                    for r in range(G):
                        acc[i * G + r] += ws[wk + uint64(r) * gate_stride] * hv
                    hk += h_step
                    wk += w_step

    @cuda.jit(device=True)
    def sum_rounds(J, B):
        """How many rounds of ``share_partials``/``sum_partials`` add up the shares (0: none)."""
        return (G + ROUND - 1) // ROUND if splits(J, B) > 1 else 0

    # (both loop over all G gates and skip those of other rounds: indices of ``acc``
    # known at compile time keep it in registers; PTX showed it in local memory else)
    @cuda.jit(device=True)
    def share_partials(acc, n, hs, tid):
        """Round n: ``hs[r' THREADS + tid]`` = this thread's partial sum of gate n ROUND + r'."""
        for r in range(G):
            if r // ROUND == n:
                hs[(r % ROUND) * THREADS_ + tid] = acc[r]

    @cuda.jit(device=True)
    def sum_partials(acc, n, hs, tid, J, B):
        """Round n: the first thread of each pair adds up its pair's shares (held in ``hs``)."""
        s = splits(J, B)
        u, bb, q, exists = pair(0, tid, J, B)
        if exists and q == 0:  # so the shares tid .. tid + s - 1 all exist
            for r in range(G):
                if r // ROUND == n:
                    total = zero
                    for share in range(s):
                        total += hs[(r % ROUND) * THREADS_ + tid + share]
                    acc[r] = total

    @cuda.jit(device=True)
    def slice_dot(vectors, b0, ws, J, hs, acc, tid):
        """The G products of this thread's pairs (unit u, row b0 + bb) with the block's
        weight slice ``ws``, staged through ``hs`` a chunk at a time: ``acc[i G + r]``
        for its pair i, where ``summed_unit`` says it holds one."""
        for q in range(ACC):
            acc[q] = zero
        B, K = vectors.shape
        for k0 in range(0, K, tile_layout(B, K)[2]):
            barrier()  # the last chunk's readers are done with hs
            stage_tile(vectors, b0, k0, hs, tid)
            barrier()
            accumulate_tile(hs, ws, k0, K, J, B, tid, acc)
        for n in range(sum_rounds(J, B)):  # threads that split a pair's columns add up
            barrier()
            share_partials(acc, n, hs, tid)
            barrier()
            sum_partials(acc, n, hs, tid, J, B)

    return SliceFunctions(load_slice, slice_dot, summed_unit)
_cooperative = {"available": True}  # False: every time loop runs per step (tests use it)
_cooperative_failed = set()  # loop kernels whose cooperative launch failed once
MAX_WAVES = 4


def runs_persistent(plan, resident, loop):
    """Whether ``loop`` of ``plan`` runs as one persistent launch, ``resident`` blocks fitting."""
    if not _cooperative["available"] or loop in _cooperative_failed:
        return False
    strides = plan.max_waves > 1  # the warp kernels; the simulator's grids are one block
    return (SIMULATOR and strides) or plan.blocks <= plan.max_waves * resident


def run_time_loop(loop, loop_args, step, step_args, plan):
    """Run a time loop as one persistent launch of ``loop``, or one ``step`` launch per step.

    ``loop`` synchronises the grid between steps (a cooperative launch, which
    needs numba's link to cudadevrt; if that fails once for a kernel, its
    per-step twin runs from then on).  The warp kernels stride their blocks over the work
    units, and run persistent unless each resident block would have to stride
    over more than MAX_WAVES unit groups; the tiled kernels need every block of
    ``plan`` resident (a block holds its units' weights).  Measured on an H200
    (warp design, float32 inference forward, T = 100; persistent loop against
    per-step launches): LSTM B, H = 4, 256: 1.2-1.3 against 6-10 ms (1 wave);
    64, 512: 8.0-8.3 against 6.3-12.9 ms (3.1 waves); 64, 1024: 24 against 16.5
    ms (6.2 waves); RNN 64, 512: 3.5-3.7 against 4.6-7.2 ms (2.2 waves); 64,
    1024: 9.6-9.8 against 6.8-7.0 ms (4.4 waves).  Per-step launches cost host
    time, so their figures vary more from machine to machine.  The simulator
    takes the persistent path whenever it can (its cooperative grids are one
    block).
    """
    resident = resident_blocks(loop, loop_args, plan.threads)
    if runs_persistent(plan, resident, loop):
        try:
            loop[min(resident, plan.blocks), plan.threads](*loop_args)
            return
        except Exception as exc:  # e.g. cudadevrt not found when linking, or too many blocks
            if not _cooperative_failed:
                warnings.warn(f"numbarnn: cooperative launch failed ({exc}); running that "
                              "kernel with one launch per time step from now on",
                              RuntimeWarning, stacklevel=3)
            _cooperative_failed.add(loop)  # only this kernel: another may still fit
    for args in step_args:
        step[plan.blocks, plan.threads](*args)


@cuda.jit(device=True)
def step_gradient(t, length, dout, dh_n, recurrent, zero):
    """The gradient reaching h_t of one (row, unit): ``dout`` plus ``recurrent`` (what
    step t + 1 sends back), ``dh_n`` in its place at the row's last step, and
    ``zero`` (of the kernel's dtype) past it: a padded output is a constant.
    (Plain arithmetic, see ``lane_sum``.)"""
    if t >= length:
        return zero
    return dout + (dh_n if t == length - 1 else recurrent)
