"""LSTM time loop on NVIDIA GPUs: the CUDA twin of ``cpu_lstm``, same maths, same arguments.

Design
------
* Outside the time loop, the input projection of K steps at a time and, after
  the backward loop, the input and weight gradients are matrix products on
  ``_cuda_gemm.gemm`` (cuBLAS through CuPy where CuPy is installed, else a
  tiled shared-memory kernel of our own: numba kernels cannot call cuBLAS).
* Inside the time loop the recurrent product, bias and gate non-linearities
  are one fused step with no intermediate array.  A numba launch costs several
  microseconds plus a few per array argument, which at small sizes dwarfs a
  step's work, so the whole loop is one *persistent* launch: a grid-wide
  barrier (``cuda.cg.this_grid().sync()``, a cooperative launch) separates the
  steps.  Where that is unavailable it falls back to one launch per step of
  the same device function.  Two designs of the step, chosen by
  ``_cuda_loop.plan_time_loop`` (``NUMBARNN_CUDA_LOOP``):

  - *warp* (measured on an H200, the default): one warp owns hidden unit j for
    a group of ROWS (4) batch rows.  Its 32 lanes split the recurrent dot
    products (over m for the four gate rows of W_hh, reading consecutive
    weights, so the loads coalesce, and using each weight for all the rows of
    the group), add them up through shared memory, and lane r applies bias,
    gates and the cell update of row r.  Blocks stride over the units.  Every
    step reads all of W_hh once per row group (16 times at B = 64).
  - *tiled* (the Persistent-RNN idea; not yet timed): each
    block owns J hidden units and keeps their 4J rows of W_hh in shared memory
    for the whole sequence, so the weights are read from memory once per
    launch.  Each step it stages h_{t-1} through a padded shared tile, a chunk
    of columns and up to 64 batch rows at a time (coalesced loads, no bank
    conflicts), and each thread accumulates the four gate sums of its (unit,
    row) pairs from broadcast weight loads (at small batches, with few pairs,
    several threads share a pair's columns and add up their partial sums).
    The persistent launch needs all ceil(H / J) blocks resident at once (else
    it runs per step, reloading the slices each launch); J is bounded by shared
    memory (``_cuda_loop.tiled_units``).
* Backward needs the column j of W_hh for unit j; it reads W_hh transposed
  (H, 4H) so that those loads coalesce too (the tiled design keeps the J rows
  of W_hh^T of its units).  As on the CPU, backward overwrites
  each step's stored gates with their pre-activation gradients, so training
  needs no second (T, B, 4H) buffer.

All arguments are device arrays (or anything with ``__cuda_array_interface__``
that ``numba.cuda.as_cuda_array`` accepts), C-contiguous, of one dtype.
"""
import functools

import numpy as np
from numba import cuda
from numba.np.numpy_support import from_dtype

from . import _cuda_arrays as arrays, _cuda_gemm as blas, _cuda_inputs as inputs
from . import _cuda_loop as time_loop


@cuda.jit(device=True)
def _barrier():
    """``cuda.syncthreads()`` for the tiled loop's device functions in ``_cuda_loop``.
    (Here, in the module of the kernels: the simulator swaps a device function's
    module's ``cuda`` while each thread runs it, which races across modules.)"""
    cuda.syncthreads()


@functools.lru_cache(maxsize=None)
def _kernels(dtype, geometry):
    """The time-loop kernels: {(design, direction): (per-step kernel, loop kernel)}."""
    sigmoid, tanh = time_loop.activations(dtype)
    lane_sum = time_loop.lane_sum(dtype)
    unit_count, work_unit, rows_dot = time_loop.unit_count, time_loop.work_unit, time_loop.rows_dot
    step_gradient = time_loop.step_gradient
    nbtype = from_dtype(np.dtype(dtype))
    zero, one = np.dtype(dtype).type(0), np.dtype(dtype).type(1)
    LANES, UPB, ROWS = time_loop.LANES, time_loop.UNITS_PER_BLOCK, time_loop.ROWS
    SUMS = 4 * ROWS  # shared/local array shapes must be compile-time constants
    # the tiled design: forward multiplies by 4 rows of W_hh per unit, backward by one of W_hh^T
    gates4, gates1 = (time_loop.slice_functions(dtype, geometry, G, _barrier) for G in (4, 1))
    load_rows, dot4, summed_unit = gates4
    load_columns, dot1, _ = gates1
    WS, PAIRS, BT = geometry.slice_elements(dtype), geometry.pairs, geometry.batch_tile
    HS = geometry.tile_elements(dtype)
    ACC4 = 4 * PAIRS  # local array shapes must be literals, not expressions

    @cuda.jit(device=True)
    def cell_forward(t, t0, b, j, ri, rf, rg, ro, xproj, bias, c0, out, gates, cells, keep_all,
                     lengths, h_n, c_n):
        """Unit j of row b at step t, from its recurrent products ri, rf, rg, ro; at the
        row's last step it also gives (h_n, c_n), after it a zero output."""
        H = c0.shape[1]
        xa = xproj[t - t0, b]
        i = sigmoid(xa[j] + bias[j] + ri)
        f = sigmoid(xa[H + j] + bias[H + j] + rf)
        g = tanh(xa[2 * H + j] + bias[2 * H + j] + rg)
        o = sigmoid(xa[3 * H + j] + bias[3 * H + j] + ro)
        s = t if keep_all else 0
        c_prev = c0[b, j] if t == 0 else cells[t - 1 if keep_all else 0, b, j]
        c = f * c_prev + i * g
        gates[s, b, j] = i
        gates[s, b, H + j] = f
        gates[s, b, 2 * H + j] = g
        gates[s, b, 3 * H + j] = o
        cells[s, b, j] = c
        h = o * tanh(c)
        if t == lengths[b] - 1:
            h_n[b, j] = h
            c_n[b, j] = c
        out[t, b, j] = h if t < lengths[b] else zero

    @cuda.jit(device=True)
    def cell_backward(t, b, j, dh, c0, gates, cells, dc):
        """Unit j of row b back through step t, given dh: gates[t] becomes its gradients."""
        H = c0.shape[1]
        i, f = gates[t, b, j], gates[t, b, H + j]
        g, o = gates[t, b, 2 * H + j], gates[t, b, 3 * H + j]
        tc = tanh(cells[t, b, j])
        c_prev = c0[b, j] if t == 0 else cells[t - 1, b, j]
        dcv = dc[b, j] + dh * o * (one - tc * tc)
        gates[t, b, j] = dcv * g * i * (one - i)
        gates[t, b, H + j] = dcv * c_prev * f * (one - f)
        gates[t, b, 2 * H + j] = dcv * i * (one - g * g)
        gates[t, b, 3 * H + j] = dh * tc * o * (one - o)
        dc[b, j] = dcv * f

    # ------------------------------------------------ warp design
    @cuda.jit(device=True)
    def forward_step(t, t0, xproj, h0, c0, w_hh, bias, out, gates, cells, keep_all, lengths, h_n,
                     c_n):
        """Step t for every unit: this block's warps stride over (row group, j) work units."""
        B, H = h0.shape
        sh = cuda.shared.array((UPB, SUMS, LANES), nbtype)
        acc = cuda.local.array(SUMS, nbtype)  # [gate * ROWS + row]
        w, lane = cuda.threadIdx.x // LANES, cuda.threadIdx.x % LANES
        for base in range(cuda.blockIdx.x * UPB, unit_count(B, H), cuda.gridDim.x * UPB):
            b0, j, rows = work_unit(base + w, B, H)
            for q in range(SUMS):
                acc[q] = zero
            for m in range(lane, H if rows > 0 else 0, LANES):
                w_i, w_f = w_hh[j, m], w_hh[H + j, m]
                w_g, w_o = w_hh[2 * H + j, m], w_hh[3 * H + j, m]
                for r in range(ROWS):
                    if r < rows:
                        hv = h0[b0 + r, m] if t == 0 else out[t - 1, b0 + r, m]
                        acc[r] += hv * w_i
                        acc[ROWS + r] += hv * w_f
                        acc[2 * ROWS + r] += hv * w_g
                        acc[3 * ROWS + r] += hv * w_o
            for q in range(SUMS):
                sh[w, q, lane] = acc[q]
            cuda.syncthreads()
            if lane < rows:  # lane r finishes unit (b0 + r, j)
                cell_forward(t, t0, b0 + lane, j, lane_sum(sh, w, lane),
                             lane_sum(sh, w, ROWS + lane), lane_sum(sh, w, 2 * ROWS + lane),
                             lane_sum(sh, w, 3 * ROWS + lane), xproj, bias, c0, out, gates,
                             cells, keep_all, lengths, h_n, c_n)
            cuda.syncthreads()  # ``sh`` is reused by the next group

    @cuda.jit(device=True)
    def backward_step(t, c0, w_hh_t, gates, cells, dout, dh_n, dc_n, dc, lengths):
        """Step t back for every unit; gates[t + 1] already holds that step's gradients."""
        B, H = dc.shape
        T = gates.shape[0]
        sh = cuda.shared.array((UPB, ROWS, LANES), nbtype)
        acc = cuda.local.array(ROWS, nbtype)
        w, lane = cuda.threadIdx.x // LANES, cuda.threadIdx.x % LANES
        for base in range(cuda.blockIdx.x * UPB, unit_count(B, H), cuda.gridDim.x * UPB):
            b0, j, rows = work_unit(base + w, B, H)
            # dh from the step after: its gate gradients @ W_hh (nothing after the last step)
            rows_dot(gates[min(t + 1, T - 1)], b0, rows if t < T - 1 else 0, w_hh_t, j, lane,
                     acc, sh, w)
            cuda.syncthreads()
            if lane < rows:
                b = b0 + lane
                back = lane_sum(sh, w, lane) if t < T - 1 else zero
                dh = step_gradient(t, lengths[b], dout[t, b, j], dh_n[b, j], back, zero)
                if t == lengths[b] - 1:  # the row's backward starts here
                    dc[b, j] = dc_n[b, j]
                cell_backward(t, b, j, dh, c0, gates, cells, dc)
            cuda.syncthreads()

    @cuda.jit
    def forward_one(t, t0, xproj, h0, c0, w_hh, bias, out, gates, cells, keep_all, lengths, h_n,
                    c_n):
        forward_step(t, t0, xproj, h0, c0, w_hh, bias, out, gates, cells, keep_all, lengths, h_n,
                     c_n)

    @cuda.jit
    def forward_loop(t0, n, xproj, h0, c0, w_hh, bias, out, gates, cells, keep_all, lengths, h_n,
                     c_n):
        grid = cuda.cg.this_grid()
        for t in range(t0, t0 + n):
            forward_step(t, t0, xproj, h0, c0, w_hh, bias, out, gates, cells, keep_all, lengths,
                         h_n, c_n)
            grid.sync()

    @cuda.jit
    def backward_one(t, c0, w_hh_t, gates, cells, dout, dh_n, dc_n, dc, lengths):
        backward_step(t, c0, w_hh_t, gates, cells, dout, dh_n, dc_n, dc, lengths)

    @cuda.jit
    def backward_loop(c0, w_hh_t, gates, cells, dout, dh_n, dc_n, dc, lengths):
        grid = cuda.cg.this_grid()
        for t in range(gates.shape[0] - 1, -1, -1):
            backward_step(t, c0, w_hh_t, gates, cells, dout, dh_n, dc_n, dc, lengths)
            grid.sync()

    # ------------------------------------------------ tiled design
    @cuda.jit(device=True)
    def forward_tiled_step(J, t, t0, xproj, h0, c0, bias, out, gates, cells, keep_all, lengths, h_n,
                           c_n, ws, hs, acc):
        """Step t for the block's J units (weights in ``ws``), a batch tile at a time."""
        B, H = h0.shape
        tid = cuda.threadIdx.x
        for b0 in range(0, B, BT):
            dot4(h0 if t == 0 else out[t - 1], b0, ws, J, hs, acc, tid)
            for p in range(PAIRS):
                j, b, holds = summed_unit(p, tid, cuda.blockIdx.x, J, b0, B, H)
                if holds:
                    cell_forward(t, t0, b, j, acc[4 * p], acc[4 * p + 1], acc[4 * p + 2],
                                 acc[4 * p + 3], xproj, bias, c0, out, gates, cells, keep_all,
                                 lengths, h_n, c_n)

    @cuda.jit(device=True)
    def backward_tiled_step(J, t, c0, gates, cells, dout, dh_n, dc_n, dc, lengths, ws, hs, acc):
        """Step t back for the block's J units (their columns of W_hh in ``ws``)."""
        B, H = dc.shape
        T = gates.shape[0]
        tid = cuda.threadIdx.x
        for b0 in range(0, B, BT):
            if t < T - 1:  # dh from the step after (the same branch for the whole block)
                dot1(gates[t + 1], b0, ws, J, hs, acc, tid)
            for p in range(PAIRS):
                j, b, holds = summed_unit(p, tid, cuda.blockIdx.x, J, b0, B, H)
                if holds:
                    back = acc[p] if t < T - 1 else zero
                    dh = step_gradient(t, lengths[b], dout[t, b, j], dh_n[b, j], back, zero)
                    if t == lengths[b] - 1:
                        dc[b, j] = dc_n[b, j]
                    cell_backward(t, b, j, dh, c0, gates, cells, dc)

    @cuda.jit(**time_loop.TILED_KERNEL_OPTIONS)
    def forward_tiled_one(J, t, t0, xproj, h0, c0, w_hh, bias, out, gates, cells, keep_all, lengths,
                          h_n, c_n):
        ws = cuda.shared.array(WS, nbtype)  # one per line: the simulator keys them by line
        hs = cuda.shared.array(HS, nbtype)
        acc = cuda.local.array(ACC4, nbtype)
        load_rows(w_hh, cuda.blockIdx.x * J, J, ws, cuda.threadIdx.x)
        forward_tiled_step(J, t, t0, xproj, h0, c0, bias, out, gates, cells, keep_all, lengths, h_n,
                           c_n, ws, hs, acc)

    @cuda.jit(**time_loop.TILED_KERNEL_OPTIONS)
    def forward_tiled_loop(J, t0, n, xproj, h0, c0, w_hh, bias, out, gates, cells, keep_all,
                           lengths, h_n, c_n):
        ws = cuda.shared.array(WS, nbtype)
        hs = cuda.shared.array(HS, nbtype)
        acc = cuda.local.array(ACC4, nbtype)
        load_rows(w_hh, cuda.blockIdx.x * J, J, ws, cuda.threadIdx.x)  # once for all steps
        grid = cuda.cg.this_grid()
        for t in range(t0, t0 + n):
            forward_tiled_step(J, t, t0, xproj, h0, c0, bias, out, gates, cells, keep_all, lengths,
                               h_n, c_n, ws, hs, acc)
            grid.sync()

    @cuda.jit(**time_loop.TILED_KERNEL_OPTIONS)
    def backward_tiled_one(J, t, c0, w_hh_t, gates, cells, dout, dh_n, dc_n, dc, lengths):
        ws = cuda.shared.array(WS, nbtype)
        hs = cuda.shared.array(HS, nbtype)
        acc = cuda.local.array(PAIRS, nbtype)
        load_columns(w_hh_t, cuda.blockIdx.x * J, J, ws, cuda.threadIdx.x)
        backward_tiled_step(J, t, c0, gates, cells, dout, dh_n, dc_n, dc, lengths, ws, hs, acc)

    @cuda.jit(**time_loop.TILED_KERNEL_OPTIONS)
    def backward_tiled_loop(J, c0, w_hh_t, gates, cells, dout, dh_n, dc_n, dc, lengths):
        ws = cuda.shared.array(WS, nbtype)
        hs = cuda.shared.array(HS, nbtype)
        acc = cuda.local.array(PAIRS, nbtype)
        load_columns(w_hh_t, cuda.blockIdx.x * J, J, ws, cuda.threadIdx.x)
        grid = cuda.cg.this_grid()
        for t in range(gates.shape[0] - 1, -1, -1):
            backward_tiled_step(J, t, c0, gates, cells, dout, dh_n, dc_n, dc, lengths, ws, hs,
                                acc)
            grid.sync()

    return {("warp", "forward"): (forward_one, forward_loop),
            ("warp", "backward"): (backward_one, backward_loop),
            ("tiled", "forward"): (forward_tiled_one, forward_tiled_loop),
            ("tiled", "backward"): (backward_tiled_one, backward_tiled_loop)}


def lstm_forward(x, h0, c0, w_ih, w_hh, bias, out, h_n, c_n, gates, cells, xproj,
                 lengths=None):
    """Run one LSTM layer over a sequence on the GPU.

    Arguments, shapes and meaning as ``cpu_lstm.lstm_forward``, as device arrays:
    ``gates``/``cells`` with S = T keep every step for ``lstm_backward``, with
    S = 1 only the running step; ``xproj`` (K, B, 4H) is the projection work space.
    With S = T, ``xproj`` may be ``gates`` itself: the whole sequence is then one
    GEMM and one time loop, each thread reading its unit's four pre-activations
    before it overwrites them with the gates.
    """
    T, B = x.shape[:2]
    H = h0.shape[1]
    K = xproj.shape[0]
    keep_all = cells.shape[0] == T
    lengths = arrays.device_lengths(lengths, T, B)
    plan = time_loop.plan_time_loop(4, B, H, out.dtype)
    step, loop = _kernels(out.dtype, time_loop.GEOMETRY)[plan.design, "forward"]
    for t0 in range(0, T, K):
        n = min(K, T - t0)
        inputs.project_inputs(x[t0:t0 + n], w_ih, xproj[:n].reshape(n * B, 4 * H))
        args = (xproj, h0, c0, w_hh, bias, out, gates, cells, keep_all, lengths, h_n, c_n)
        time_loop.run_time_loop(loop, plan.head + (t0, n) + args, step,
                             [plan.head + (t, t0) + args for t in range(t0, t0 + n)], plan)


def lstm_backward(x, h0, c0, w_ih, w_hh, out, gates, cells, dout, dh_n, dc_n,
                  dx, dh0, dc0, dw_ih, dw_hh, dbias, lengths=None):
    """Backpropagation through time for one LSTM layer on the GPU.

    Arguments, shapes and meaning as ``cpu_lstm.lstm_backward``, as device
    arrays; ``gates`` is consumed (it ends holding the pre-activation gradients).
    """
    T, B = x.shape[:2]
    H = h0.shape[1]
    lengths = arrays.device_lengths(lengths, T, B)
    plan = time_loop.plan_time_loop(4, B, H, out.dtype)
    step, loop = _kernels(out.dtype, time_loop.GEOMETRY)[plan.design, "backward"]
    # dc0 carries the running cell gradient: zero until each row takes dc_n at its last step
    arrays.fill(dc0, 0)
    args = (c0, blas.transpose(w_hh), gates, cells, dout, dh_n, dc_n, dc0, lengths)
    time_loop.run_time_loop(loop, plan.head + args, step,
                         [plan.head + (t,) + args for t in range(T - 1, -1, -1)], plan)
    blas.gemm(gates[0], w_hh, dh0)
    inputs.input_and_weight_grads(x, h0, out, w_ih, gates, dx, dw_ih, dw_hh, dbias)
