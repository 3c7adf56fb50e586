"""LSTM time loop on NVIDIA GPUs: the CUDA twin of ``cpu_lstm``, same maths, same arguments.

Design
------
* Outside the time loop, the input projection of K steps at a time and, after
  the backward loop, the input and weight gradients are matrix products on
  ``_cuda_common.gemm`` (cuBLAS through CuPy where CuPy is installed, else a
  tiled shared-memory kernel of our own: numba kernels cannot call cuBLAS).
* Inside the time loop one warp owns hidden unit j for a group of ROWS (4) batch
  rows: its 32 lanes split the recurrent dot products (over m for the four gate
  rows of W_hh, reading consecutive weights, so the loads coalesce, and using
  each weight for all the rows of the group), add them up through shared
  memory, and lane r applies bias, gates and the cell update of row r.  The
  recurrent product, bias and non-linearities are one fused step with no
  intermediate array.
* A numba launch costs several microseconds plus a few per array argument, which
  at small sizes dwarfs a step's work.  So the whole loop is one *persistent*
  launch: blocks stride over the units, and a grid-wide barrier
  (``cuda.cg.this_grid().sync()``, a cooperative launch) separates the steps.
  Where cooperative launches are unavailable it falls back to one launch per
  step of the same device function.
* Backward needs the column j of W_hh for unit j; it reads W_hh transposed
  (H, 4H) so that those loads coalesce too.  As on the CPU, backward overwrites
  each step's stored gates with their pre-activation gradients, so training
  needs no second (T, B, 4H) buffer.

All arguments are device arrays (or anything with ``__cuda_array_interface__``
that ``numba.cuda.as_cuda_array`` accepts), C-contiguous, of one dtype.
"""
import functools

import numpy as np
from numba import cuda
from numba.np.numpy_support import from_dtype

from . import _cuda_common as common


@functools.lru_cache(maxsize=None)
def _kernels(dtype):
    sigmoid, tanh = common.activations(dtype)
    lane_sum = common.lane_sum(dtype)
    unit_count, work_unit, rows_dot = common.unit_count, common.work_unit, common.rows_dot
    nbtype = from_dtype(np.dtype(dtype))
    zero, one = np.dtype(dtype).type(0), np.dtype(dtype).type(1)
    LANES, UPB, ROWS = common.LANES, common.UNITS_PER_BLOCK, common.ROWS
    SUMS = 4 * ROWS  # shared/local array shapes must be compile-time constants

    @cuda.jit(device=True)
    def forward_step(t, t0, xproj, h0, c0, w_hh, bias, out, gates, cells, keep_all):
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
                b = b0 + lane
                xa = xproj[t - t0, b]
                i = sigmoid(xa[j] + bias[j] + lane_sum(sh, w, lane))
                f = sigmoid(xa[H + j] + bias[H + j] + lane_sum(sh, w, ROWS + lane))
                g = tanh(xa[2 * H + j] + bias[2 * H + j] + lane_sum(sh, w, 2 * ROWS + lane))
                o = sigmoid(xa[3 * H + j] + bias[3 * H + j] + lane_sum(sh, w, 3 * ROWS + lane))
                s = t if keep_all else 0
                c_prev = c0[b, j] if t == 0 else cells[t - 1 if keep_all else 0, b, j]
                c = f * c_prev + i * g
                gates[s, b, j] = i
                gates[s, b, H + j] = f
                gates[s, b, 2 * H + j] = g
                gates[s, b, 3 * H + j] = o
                cells[s, b, j] = c
                out[t, b, j] = o * tanh(c)
            cuda.syncthreads()  # ``sh`` is reused by the next group

    @cuda.jit(device=True)
    def backward_step(t, c0, w_hh_t, gates, cells, dout, dh_n, dc):
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
                dh = dout[t, b, j] + (dh_n[b, j] if t == T - 1 else lane_sum(sh, w, lane))
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
            cuda.syncthreads()

    @cuda.jit
    def forward_one(t, t0, xproj, h0, c0, w_hh, bias, out, gates, cells, keep_all):
        forward_step(t, t0, xproj, h0, c0, w_hh, bias, out, gates, cells, keep_all)

    @cuda.jit
    def forward_loop(t0, n, xproj, h0, c0, w_hh, bias, out, gates, cells, keep_all):
        grid = cuda.cg.this_grid()
        for t in range(t0, t0 + n):
            forward_step(t, t0, xproj, h0, c0, w_hh, bias, out, gates, cells, keep_all)
            grid.sync()

    @cuda.jit
    def backward_one(t, c0, w_hh_t, gates, cells, dout, dh_n, dc):
        backward_step(t, c0, w_hh_t, gates, cells, dout, dh_n, dc)

    @cuda.jit
    def backward_loop(c0, w_hh_t, gates, cells, dout, dh_n, dc):
        grid = cuda.cg.this_grid()
        for t in range(gates.shape[0] - 1, -1, -1):
            backward_step(t, c0, w_hh_t, gates, cells, dout, dh_n, dc)
            grid.sync()

    return forward_one, forward_loop, backward_one, backward_loop


def lstm_forward(x, h0, c0, w_ih, w_hh, bias, out, h_n, c_n, gates, cells, xproj):
    """Run one LSTM layer over a sequence on the GPU.

    Arguments, shapes and meaning as ``cpu_lstm.lstm_forward``, as device arrays:
    ``gates``/``cells`` with S = T keep every step for ``lstm_backward``, with
    S = 1 only the running step; ``xproj`` (K, B, 4H) is the projection work space.
    """
    T, B = x.shape[:2]
    H = h0.shape[1]
    K = xproj.shape[0]
    keep_all = cells.shape[0] == T
    step, loop, _, _ = _kernels(out.dtype)
    for t0 in range(0, T, K):
        n = min(K, T - t0)
        common.project_inputs(x[t0:t0 + n], w_ih, xproj[:n].reshape(n * B, 4 * H))
        args = (xproj, h0, c0, w_hh, bias, out, gates, cells, keep_all)
        common.run_time_loop(loop, (t0, n) + args, step,
                             [(t, t0) + args for t in range(t0, t0 + n)],
                             common.work_units(B, H))
    h_n.copy_to_device(out[T - 1])
    c_n.copy_to_device(cells[T - 1 if keep_all else 0])


def lstm_backward(x, h0, c0, w_ih, w_hh, out, gates, cells, dout, dh_n, dc_n,
                  dx, dh0, dc0, dw_ih, dw_hh, dbias):
    """Backpropagation through time for one LSTM layer on the GPU.

    Arguments, shapes and meaning as ``cpu_lstm.lstm_backward``, as device
    arrays; ``gates`` is consumed (it ends holding the pre-activation gradients).
    """
    T, B = x.shape[:2]
    H = h0.shape[1]
    _, _, step, loop = _kernels(out.dtype)
    dc0.copy_to_device(dc_n)  # dc0 carries the running cell gradient
    args = (c0, common.transpose(w_hh), gates, cells, dout, dh_n, dc0)
    common.run_time_loop(loop, args, step, [(t,) + args for t in range(T - 1, -1, -1)],
                         common.work_units(B, H))
    common.gemm(gates[0], w_hh, dh0)
    common.input_and_weight_grads(x, h0, out, w_ih, gates, dx, dw_ih, dw_hh, dbias)
