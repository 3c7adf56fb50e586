"""GRU time loop on NVIDIA GPUs: the CUDA twin of ``cpu_gru``, same maths, same arguments.

The design is ``cuda_lstm``'s (see its docstring): the input projection and the
weight gradients are GEMMs outside the loop; inside it, either one warp per
hidden unit and group of ROWS batch rows (three dot products of W_hh's rows
r, z, n per unit), or blocks that keep their units' rows of W_hh in shared
memory (the tiled design); the whole loop one persistent cooperative launch
with a grid barrier between steps, one launch per step as the fallback.

What is the GRU's own (see ``cpu_gru``): the bias b_hn stays inside
r * (W_hn h + b_hn), which is kept per step in ``hidden_n`` for backward; the
backward writes the input side's pre-activation gradients over the stored gates
and the recurrent side's into ``dgates``, and carries z * dh_t, the part of
dh_{t-1} that bypasses W_hh, in a (B, H) array from step to step.
"""
import functools

import numpy as np
from numba import cuda
from numba.np.numpy_support import from_dtype

from . import _cuda_arrays as arrays, _cuda_gemm as blas, _cuda_inputs as inputs
from . import _cuda_loop as time_loop


@cuda.jit(device=True)
def _barrier():
    """``cuda.syncthreads()`` for the tiled loop's device functions (see ``cuda_lstm``)."""
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
    SUMS = 3 * ROWS  # shared/local array shapes must be compile-time constants
    load_rows, dot3, summed_unit = time_loop.slice_functions(dtype, geometry, 3, _barrier)
    load_columns, dot1, _ = time_loop.slice_functions(dtype, geometry, 1, _barrier)
    WS, PAIRS, BT = geometry.slice_elements(dtype), geometry.pairs, geometry.batch_tile
    HS = geometry.tile_elements(dtype)
    ACC3 = 3 * PAIRS  # local array shapes must be literals, not expressions

    @cuda.jit(device=True)
    def cell_forward(t, t0, b, j, ar, az, an, xproj, bias_ih, bias_hh, h0, out, gates, hidden_n,
                     keep_all, lengths, h_n):
        """Unit j of row b at step t, from its recurrent products ar, az, an."""
        H = h0.shape[1]
        xa = xproj[t - t0, b]  # (read before gates, which may be the same array, is written)
        xr, xz, xn = xa[j], xa[H + j], xa[2 * H + j]
        r = sigmoid(xr + bias_ih[j] + bias_hh[j] + ar)
        z = sigmoid(xz + bias_ih[H + j] + bias_hh[H + j] + az)
        hn = an + bias_hh[2 * H + j]
        n = tanh(xn + bias_ih[2 * H + j] + r * hn)
        h = (one - z) * n + z * (h0[b, j] if t == 0 else out[t - 1, b, j])
        s = t if keep_all else 0
        gates[s, b, j] = r
        gates[s, b, H + j] = z
        gates[s, b, 2 * H + j] = n
        hidden_n[s, b, j] = hn
        if t == lengths[b] - 1:
            h_n[b, j] = h
        out[t, b, j] = h if t < lengths[b] else zero

    @cuda.jit(device=True)
    def cell_backward(t, b, j, dh, h0, out, gates, hidden_n, dgates, carry):
        """Unit j of row b back through step t, given dh: gates[t] and dgates[t] become
        the two sides' gradients, ``carry`` z * dh."""
        H = h0.shape[1]
        r, z, n = gates[t, b, j], gates[t, b, H + j], gates[t, b, 2 * H + j]
        h_prev = h0[b, j] if t == 0 else out[t - 1, b, j]
        da_n = dh * (one - z) * (one - n * n)
        da_r = da_n * hidden_n[t, b, j] * r * (one - r)
        da_z = dh * (h_prev - n) * z * (one - z)
        carry[b, j] = dh * z
        gates[t, b, j] = da_r
        gates[t, b, H + j] = da_z
        gates[t, b, 2 * H + j] = da_n
        dgates[t, b, j] = da_r
        dgates[t, b, H + j] = da_z
        dgates[t, b, 2 * H + j] = da_n * r

    # ------------------------------------------------ warp design
    @cuda.jit(device=True)
    def forward_step(t, t0, xproj, h0, w_hh, bias_ih, bias_hh, out, gates, hidden_n, keep_all,
                     lengths, h_n):
        B, H = h0.shape
        sh = cuda.shared.array((UPB, SUMS, LANES), nbtype)
        acc = cuda.local.array(SUMS, nbtype)  # [gate * ROWS + row]
        w, lane = cuda.threadIdx.x // LANES, cuda.threadIdx.x % LANES
        for base in range(cuda.blockIdx.x * UPB, unit_count(B, H), cuda.gridDim.x * UPB):
            b0, j, rows = work_unit(base + w, B, H)
            for q in range(SUMS):
                acc[q] = zero
            for m in range(lane, H if rows > 0 else 0, LANES):
                w_r, w_z, w_n = w_hh[j, m], w_hh[H + j, m], w_hh[2 * H + j, m]
                for r in range(ROWS):
                    if r < rows:
                        hv = h0[b0 + r, m] if t == 0 else out[t - 1, b0 + r, m]
                        acc[r] += hv * w_r
                        acc[ROWS + r] += hv * w_z
                        acc[2 * ROWS + r] += hv * w_n
            for q in range(SUMS):
                sh[w, q, lane] = acc[q]
            cuda.syncthreads()
            if lane < rows:  # lane r finishes unit (b0 + r, j)
                cell_forward(t, t0, b0 + lane, j, lane_sum(sh, w, lane),
                             lane_sum(sh, w, ROWS + lane), lane_sum(sh, w, 2 * ROWS + lane),
                             xproj, bias_ih, bias_hh, h0, out, gates, hidden_n, keep_all,
                             lengths, h_n)
            cuda.syncthreads()  # ``sh`` is reused by the next group

    @cuda.jit(device=True)
    def backward_step(t, h0, w_hh_t, out, gates, hidden_n, dgates, dout, dh_n, carry, lengths):
        """Step t back for every unit; dgates[t + 1] already holds that step's gradients."""
        B, H = h0.shape
        T = gates.shape[0]
        sh = cuda.shared.array((UPB, ROWS, LANES), nbtype)
        acc = cuda.local.array(ROWS, nbtype)
        w, lane = cuda.threadIdx.x // LANES, cuda.threadIdx.x % LANES
        for base in range(cuda.blockIdx.x * UPB, unit_count(B, H), cuda.gridDim.x * UPB):
            b0, j, rows = work_unit(base + w, B, H)
            rows_dot(dgates[min(t + 1, T - 1)], b0, rows if t < T - 1 else 0, w_hh_t, j, lane,
                     acc, sh, w)
            cuda.syncthreads()
            if lane < rows:
                b = b0 + lane
                back = lane_sum(sh, w, lane) + carry[b, j] if t < T - 1 else zero
                dh = step_gradient(t, lengths[b], dout[t, b, j], dh_n[b, j], back, zero)
                cell_backward(t, b, j, dh, h0, out, gates, hidden_n, dgates, carry)
            cuda.syncthreads()

    @cuda.jit
    def forward_one(t, t0, xproj, h0, w_hh, bias_ih, bias_hh, out, gates, hidden_n, keep_all,
                    lengths, h_n):
        forward_step(t, t0, xproj, h0, w_hh, bias_ih, bias_hh, out, gates, hidden_n, keep_all,
                     lengths, h_n)

    @cuda.jit
    def forward_loop(t0, n, xproj, h0, w_hh, bias_ih, bias_hh, out, gates, hidden_n, keep_all,
                     lengths, h_n):
        grid = cuda.cg.this_grid()
        for t in range(t0, t0 + n):
            forward_step(t, t0, xproj, h0, w_hh, bias_ih, bias_hh, out, gates, hidden_n,
                         keep_all, lengths, h_n)
            grid.sync()

    @cuda.jit
    def backward_one(t, h0, w_hh_t, out, gates, hidden_n, dgates, dout, dh_n, carry, lengths):
        backward_step(t, h0, w_hh_t, out, gates, hidden_n, dgates, dout, dh_n, carry, lengths)

    @cuda.jit
    def backward_loop(h0, w_hh_t, out, gates, hidden_n, dgates, dout, dh_n, carry, lengths):
        grid = cuda.cg.this_grid()
        for t in range(gates.shape[0] - 1, -1, -1):
            backward_step(t, h0, w_hh_t, out, gates, hidden_n, dgates, dout, dh_n, carry,
                          lengths)
            grid.sync()

    # ------------------------------------------------ tiled design (see cuda_lstm)
    @cuda.jit(device=True)
    def forward_tiled_step(J, t, t0, xproj, h0, bias_ih, bias_hh, out, gates, hidden_n, keep_all,
                           lengths, h_n, ws, hs, acc):
        B, H = h0.shape
        tid = cuda.threadIdx.x
        for b0 in range(0, B, BT):
            dot3(h0 if t == 0 else out[t - 1], b0, ws, J, hs, acc, tid)
            for p in range(PAIRS):
                j, b, holds = summed_unit(p, tid, cuda.blockIdx.x, J, b0, B, H)
                if holds:
                    cell_forward(t, t0, b, j, acc[3 * p], acc[3 * p + 1], acc[3 * p + 2], xproj,
                                 bias_ih, bias_hh, h0, out, gates, hidden_n, keep_all, lengths,
                                 h_n)

    @cuda.jit(device=True)
    def backward_tiled_step(J, t, h0, out, gates, hidden_n, dgates, dout, dh_n, carry, lengths,
                            ws, hs, acc):
        B, H = h0.shape
        T = gates.shape[0]
        tid = cuda.threadIdx.x
        for b0 in range(0, B, BT):
            if t < T - 1:  # dh from the step after (the same branch for the whole block)
                dot1(dgates[t + 1], b0, ws, J, hs, acc, tid)
            for p in range(PAIRS):
                j, b, holds = summed_unit(p, tid, cuda.blockIdx.x, J, b0, B, H)
                if holds:
                    back = acc[p] + carry[b, j] if t < T - 1 else zero
                    dh = step_gradient(t, lengths[b], dout[t, b, j], dh_n[b, j], back, zero)
                    cell_backward(t, b, j, dh, h0, out, gates, hidden_n, dgates, carry)

    @cuda.jit(**time_loop.TILED_KERNEL_OPTIONS)
    def forward_tiled_one(J, t, t0, xproj, h0, w_hh, bias_ih, bias_hh, out, gates, hidden_n,
                          keep_all, lengths, h_n):
        ws = cuda.shared.array(WS, nbtype)  # one per line: the simulator keys them by line
        hs = cuda.shared.array(HS, nbtype)
        acc = cuda.local.array(ACC3, nbtype)
        load_rows(w_hh, cuda.blockIdx.x * J, J, ws, cuda.threadIdx.x)
        forward_tiled_step(J, t, t0, xproj, h0, bias_ih, bias_hh, out, gates, hidden_n, keep_all,
                           lengths, h_n, ws, hs, acc)

    @cuda.jit(**time_loop.TILED_KERNEL_OPTIONS)
    def forward_tiled_loop(J, t0, n, xproj, h0, w_hh, bias_ih, bias_hh, out, gates, hidden_n,
                           keep_all, lengths, h_n):
        ws = cuda.shared.array(WS, nbtype)
        hs = cuda.shared.array(HS, nbtype)
        acc = cuda.local.array(ACC3, nbtype)
        load_rows(w_hh, cuda.blockIdx.x * J, J, ws, cuda.threadIdx.x)  # once for all steps
        grid = cuda.cg.this_grid()
        for t in range(t0, t0 + n):
            forward_tiled_step(J, t, t0, xproj, h0, bias_ih, bias_hh, out, gates, hidden_n,
                               keep_all, lengths, h_n, ws, hs, acc)
            grid.sync()

    @cuda.jit(**time_loop.TILED_KERNEL_OPTIONS)
    def backward_tiled_one(J, t, h0, w_hh_t, out, gates, hidden_n, dgates, dout, dh_n, carry,
                           lengths):
        ws = cuda.shared.array(WS, nbtype)
        hs = cuda.shared.array(HS, nbtype)
        acc = cuda.local.array(PAIRS, nbtype)
        load_columns(w_hh_t, cuda.blockIdx.x * J, J, ws, cuda.threadIdx.x)
        backward_tiled_step(J, t, h0, out, gates, hidden_n, dgates, dout, dh_n, carry, lengths,
                            ws, hs, acc)

    @cuda.jit(**time_loop.TILED_KERNEL_OPTIONS)
    def backward_tiled_loop(J, h0, w_hh_t, out, gates, hidden_n, dgates, dout, dh_n, carry,
                            lengths):
        ws = cuda.shared.array(WS, nbtype)
        hs = cuda.shared.array(HS, nbtype)
        acc = cuda.local.array(PAIRS, nbtype)
        load_columns(w_hh_t, cuda.blockIdx.x * J, J, ws, cuda.threadIdx.x)
        grid = cuda.cg.this_grid()
        for t in range(gates.shape[0] - 1, -1, -1):
            backward_tiled_step(J, t, h0, out, gates, hidden_n, dgates, dout, dh_n, carry,
                                lengths, ws, hs, acc)
            grid.sync()

    return {("warp", "forward"): (forward_one, forward_loop),
            ("warp", "backward"): (backward_one, backward_loop),
            ("tiled", "forward"): (forward_tiled_one, forward_tiled_loop),
            ("tiled", "backward"): (backward_tiled_one, backward_tiled_loop)}


def gru_forward(x, h0, w_ih, w_hh, bias_ih, bias_hh, out, h_n, gates, hidden_n, xproj,
                lengths=None):
    """Run one GRU layer over a sequence on the GPU.

    Arguments, shapes and meaning as ``cpu_gru.gru_forward``, as device arrays.
    With S = T, ``xproj`` may be ``gates`` itself: the whole sequence is then one
    GEMM and one time loop, each thread reading its unit's three pre-activations
    before it overwrites them with the gates.
    """
    T, B = x.shape[:2]
    H = h0.shape[1]
    K = xproj.shape[0]
    keep_all = gates.shape[0] == T
    lengths = arrays.device_lengths(lengths, T, B)
    plan = time_loop.plan_time_loop(3, B, H, out.dtype)
    step, loop = _kernels(out.dtype, time_loop.GEOMETRY)[plan.design, "forward"]
    for t0 in range(0, T, K):
        n = min(K, T - t0)
        inputs.project_inputs(x[t0:t0 + n], w_ih, xproj[:n].reshape(n * B, 3 * H))
        args = (xproj, h0, w_hh, bias_ih, bias_hh, out, gates, hidden_n, keep_all, lengths, h_n)
        time_loop.run_time_loop(loop, plan.head + (t0, n) + args, step,
                             [plan.head + (t, t0) + args for t in range(t0, t0 + n)], plan)


def gru_backward(x, h0, w_ih, w_hh, out, gates, hidden_n, dout, dh_n, dx, dh0, dw_ih, dw_hh,
                 dbias_ih, dbias_hh, dgates, lengths=None):
    """Backpropagation through time for one GRU layer on the GPU.

    Arguments, shapes and meaning as ``cpu_gru.gru_backward``, as device arrays;
    ``gates`` is consumed (it ends holding the input side's gradients).
    """
    T, B = x.shape[:2]
    H = h0.shape[1]
    lengths = arrays.device_lengths(lengths, T, B)
    plan = time_loop.plan_time_loop(3, B, H, out.dtype)
    step, loop = _kernels(out.dtype, time_loop.GEOMETRY)[plan.design, "backward"]
    carry = cuda.device_array((B, H), dtype=out.dtype)
    args = (h0, blas.transpose(w_hh), out, gates, hidden_n, dgates, dout, dh_n, carry, lengths)
    time_loop.run_time_loop(loop, plan.head + args, step,
                         [plan.head + (t,) + args for t in range(T - 1, -1, -1)], plan)
    blas.gemm(dgates[0], w_hh, dh0)
    arrays.add(dh0, carry, dh0)
    inputs.input_and_weight_grads(x, h0, out, w_ih, gates, dx, dw_ih, dw_hh, dbias_ih, dgates,
                                  dbias_hh)
