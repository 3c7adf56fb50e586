"""Vanilla RNN time loop on NVIDIA GPUs: the CUDA twin of ``cpu_rnn``, same arguments.

The design is ``cuda_lstm``'s (see its docstring): GEMMs outside the loop; inside
it, either one warp per hidden unit and group of ROWS batch rows, or blocks that
keep their units' rows of W_hh in shared memory (the tiled design); the whole
loop one persistent cooperative launch with a grid barrier between steps (one
launch per step as the fallback).
"""
import functools

import numpy as np
from numba import cuda
from numba.np.numpy_support import from_dtype

from . import _cuda_arrays as arrays, _cuda_gemm as blas, _cuda_inputs as inputs
from . import _cuda_loop as time_loop
from .cpu_rnn import RELU


@cuda.jit(device=True)
def _barrier():
    """``cuda.syncthreads()`` for the tiled loop's device functions in ``_cuda_loop``.
    (Here, in the module of the kernels: the simulator swaps a device function's
    module's ``cuda`` while each thread runs it, which races across modules.)"""
    cuda.syncthreads()


@functools.lru_cache(maxsize=None)
def _kernels(dtype, geometry):
    """The time-loop kernels: {(design, direction): (per-step kernel, loop kernel)}."""
    _, tanh = time_loop.activations(dtype)
    lane_sum = time_loop.lane_sum(dtype)
    unit_count, work_unit, rows_dot = time_loop.unit_count, time_loop.work_unit, time_loop.rows_dot
    step_gradient = time_loop.step_gradient
    nbtype = from_dtype(np.dtype(dtype))
    zero, one = np.dtype(dtype).type(0), np.dtype(dtype).type(1)
    LANES, UPB, ROWS = time_loop.LANES, time_loop.UNITS_PER_BLOCK, time_loop.ROWS
    load_rows, slice_dot, summed_unit = time_loop.slice_functions(dtype, geometry, 1, _barrier)
    WS, PAIRS, BT = geometry.slice_elements(dtype), geometry.pairs, geometry.batch_tile
    HS = geometry.tile_elements(dtype)

    @cuda.jit(device=True)
    def cell_forward(t, t0, b, j, r, xproj, bias, nonlinearity, out, lengths, h_n):
        a = xproj[t - t0, b, j] + bias[j] + r
        h = max(a, zero) if nonlinearity == RELU else tanh(a)
        if t == lengths[b] - 1:
            h_n[b, j] = h
        out[t, b, j] = h if t < lengths[b] else zero

    @cuda.jit(device=True)
    def cell_backward(t, b, j, dh, nonlinearity, out, dgates):
        h = out[t, b, j]
        if nonlinearity == RELU:
            dgates[t, b, j] = dh if h > zero else zero
        else:
            dgates[t, b, j] = dh * (one - h * h)

    # ------------------------------------------------ warp design
    @cuda.jit(device=True)
    def forward_step(t, t0, xproj, h0, w_hh, bias, nonlinearity, out, lengths, h_n):
        B, H = h0.shape
        sh = cuda.shared.array((UPB, ROWS, LANES), nbtype)
        acc = cuda.local.array(ROWS, nbtype)
        w, lane = cuda.threadIdx.x // LANES, cuda.threadIdx.x % LANES
        for base in range(cuda.blockIdx.x * UPB, unit_count(B, H), cuda.gridDim.x * UPB):
            b0, j, rows = work_unit(base + w, B, H)
            rows_dot(h0 if t == 0 else out[t - 1], b0, rows, w_hh, j, lane, acc, sh, w)
            cuda.syncthreads()
            if lane < rows:
                cell_forward(t, t0, b0 + lane, j, lane_sum(sh, w, lane), xproj, bias,
                             nonlinearity, out, lengths, h_n)
            cuda.syncthreads()

    @cuda.jit(device=True)
    def backward_step(t, w_hh_t, nonlinearity, out, dout, dh_n, dgates, lengths):
        T, B, H = out.shape
        sh = cuda.shared.array((UPB, ROWS, LANES), nbtype)
        acc = cuda.local.array(ROWS, nbtype)
        w, lane = cuda.threadIdx.x // LANES, cuda.threadIdx.x % LANES
        for base in range(cuda.blockIdx.x * UPB, unit_count(B, H), cuda.gridDim.x * UPB):
            b0, j, rows = work_unit(base + w, B, H)
            # dh from the step after: dgates[t + 1] @ W_hh (nothing after the last step)
            rows_dot(dgates[min(t + 1, T - 1)], b0, rows if t < T - 1 else 0, w_hh_t, j, lane,
                     acc, sh, w)
            cuda.syncthreads()
            if lane < rows:
                b = b0 + lane
                back = lane_sum(sh, w, lane) if t < T - 1 else zero
                dh = step_gradient(t, lengths[b], dout[t, b, j], dh_n[b, j], back, zero)
                cell_backward(t, b, j, dh, nonlinearity, out, dgates)
            cuda.syncthreads()

    @cuda.jit
    def forward_one(t, t0, xproj, h0, w_hh, bias, nonlinearity, out, lengths, h_n):
        forward_step(t, t0, xproj, h0, w_hh, bias, nonlinearity, out, lengths, h_n)

    @cuda.jit
    def forward_loop(t0, n, xproj, h0, w_hh, bias, nonlinearity, out, lengths, h_n):
        grid = cuda.cg.this_grid()
        for t in range(t0, t0 + n):
            forward_step(t, t0, xproj, h0, w_hh, bias, nonlinearity, out, lengths, h_n)
            grid.sync()

    @cuda.jit
    def backward_one(t, w_hh_t, nonlinearity, out, dout, dh_n, dgates, lengths):
        backward_step(t, w_hh_t, nonlinearity, out, dout, dh_n, dgates, lengths)

    @cuda.jit
    def backward_loop(w_hh_t, nonlinearity, out, dout, dh_n, dgates, lengths):
        grid = cuda.cg.this_grid()
        for t in range(out.shape[0] - 1, -1, -1):
            backward_step(t, w_hh_t, nonlinearity, out, dout, dh_n, dgates, lengths)
            grid.sync()

    # ------------------------------------------------ tiled design (see cuda_lstm)
    @cuda.jit(device=True)
    def forward_tiled_step(J, t, t0, xproj, h0, bias, nonlinearity, out, lengths, h_n, ws, hs,
                           acc):
        B, H = h0.shape
        tid = cuda.threadIdx.x
        for b0 in range(0, B, BT):
            slice_dot(h0 if t == 0 else out[t - 1], b0, ws, J, hs, acc, tid)
            for p in range(PAIRS):
                j, b, holds = summed_unit(p, tid, cuda.blockIdx.x, J, b0, B, H)
                if holds:
                    cell_forward(t, t0, b, j, acc[p], xproj, bias, nonlinearity, out, lengths, h_n)

    @cuda.jit(device=True)
    def backward_tiled_step(J, t, nonlinearity, out, dout, dh_n, dgates, lengths, ws, hs, acc):
        T, B, H = out.shape
        tid = cuda.threadIdx.x
        for b0 in range(0, B, BT):
            if t < T - 1:  # dh from the step after (the same branch for the whole block)
                slice_dot(dgates[t + 1], b0, ws, J, hs, acc, tid)
            for p in range(PAIRS):
                j, b, holds = summed_unit(p, tid, cuda.blockIdx.x, J, b0, B, H)
                if holds:
                    back = acc[p] if t < T - 1 else zero
                    dh = step_gradient(t, lengths[b], dout[t, b, j], dh_n[b, j], back, zero)
                    cell_backward(t, b, j, dh, nonlinearity, out, dgates)

    @cuda.jit(**time_loop.TILED_KERNEL_OPTIONS)
    def forward_tiled_one(J, t, t0, xproj, h0, w_hh, bias, nonlinearity, out, lengths, h_n):
        ws = cuda.shared.array(WS, nbtype)  # one per line: the simulator keys them by line
        hs = cuda.shared.array(HS, nbtype)
        acc = cuda.local.array(PAIRS, nbtype)
        load_rows(w_hh, cuda.blockIdx.x * J, J, ws, cuda.threadIdx.x)
        forward_tiled_step(J, t, t0, xproj, h0, bias, nonlinearity, out, lengths, h_n, ws, hs,
                           acc)

    @cuda.jit(**time_loop.TILED_KERNEL_OPTIONS)
    def forward_tiled_loop(J, t0, n, xproj, h0, w_hh, bias, nonlinearity, out, lengths, h_n):
        ws = cuda.shared.array(WS, nbtype)
        hs = cuda.shared.array(HS, nbtype)
        acc = cuda.local.array(PAIRS, nbtype)
        load_rows(w_hh, cuda.blockIdx.x * J, J, ws, cuda.threadIdx.x)
        grid = cuda.cg.this_grid()
        for t in range(t0, t0 + n):
            forward_tiled_step(J, t, t0, xproj, h0, bias, nonlinearity, out, lengths, h_n, ws,
                               hs, acc)
            grid.sync()

    @cuda.jit(**time_loop.TILED_KERNEL_OPTIONS)
    def backward_tiled_one(J, t, w_hh_t, nonlinearity, out, dout, dh_n, dgates, lengths):
        ws = cuda.shared.array(WS, nbtype)
        hs = cuda.shared.array(HS, nbtype)
        acc = cuda.local.array(PAIRS, nbtype)
        load_rows(w_hh_t, cuda.blockIdx.x * J, J, ws, cuda.threadIdx.x)
        backward_tiled_step(J, t, nonlinearity, out, dout, dh_n, dgates, lengths, ws, hs, acc)

    @cuda.jit(**time_loop.TILED_KERNEL_OPTIONS)
    def backward_tiled_loop(J, w_hh_t, nonlinearity, out, dout, dh_n, dgates, lengths):
        ws = cuda.shared.array(WS, nbtype)
        hs = cuda.shared.array(HS, nbtype)
        acc = cuda.local.array(PAIRS, nbtype)
        load_rows(w_hh_t, cuda.blockIdx.x * J, J, ws, cuda.threadIdx.x)
        grid = cuda.cg.this_grid()
        for t in range(out.shape[0] - 1, -1, -1):
            backward_tiled_step(J, t, nonlinearity, out, dout, dh_n, dgates, lengths, ws, hs, acc)
            grid.sync()

    return {("warp", "forward"): (forward_one, forward_loop),
            ("warp", "backward"): (backward_one, backward_loop),
            ("tiled", "forward"): (forward_tiled_one, forward_tiled_loop),
            ("tiled", "backward"): (backward_tiled_one, backward_tiled_loop)}


def rnn_forward(x, h0, w_ih, w_hh, bias, nonlinearity, out, h_n, xproj, lengths=None):
    """Run one RNN layer over a sequence on the GPU.

    Arguments, shapes and meaning as ``cpu_rnn.rnn_forward``, as device arrays;
    ``xproj`` may be ``out`` itself: the whole sequence is then one GEMM and one
    time loop, each thread reading its unit's pre-activation before it overwrites
    it with h_t.
    """
    T, B = x.shape[:2]
    H = h0.shape[1]
    K = xproj.shape[0]
    lengths = arrays.device_lengths(lengths, T, B)
    plan = time_loop.plan_time_loop(1, B, H, out.dtype)
    step, loop = _kernels(out.dtype, time_loop.GEOMETRY)[plan.design, "forward"]
    for t0 in range(0, T, K):
        n = min(K, T - t0)
        inputs.project_inputs(x[t0:t0 + n], w_ih, xproj[:n].reshape(n * B, H))
        args = (xproj, h0, w_hh, bias, nonlinearity, out, lengths, h_n)
        time_loop.run_time_loop(loop, plan.head + (t0, n) + args, step,
                             [plan.head + (t, t0) + args for t in range(t0, t0 + n)], plan)


def rnn_backward(x, h0, w_ih, w_hh, nonlinearity, out, dout, dh_n,
                 dx, dh0, dw_ih, dw_hh, dbias, dgates, lengths=None):
    """Backpropagation through time for one RNN layer on the GPU.

    Arguments, shapes and meaning as ``cpu_rnn.rnn_backward``, as device arrays.
    """
    T, B = x.shape[:2]
    H = h0.shape[1]
    lengths = arrays.device_lengths(lengths, T, B)
    plan = time_loop.plan_time_loop(1, B, H, out.dtype)
    step, loop = _kernels(out.dtype, time_loop.GEOMETRY)[plan.design, "backward"]
    args = (blas.transpose(w_hh), nonlinearity, out, dout, dh_n, dgates, lengths)
    time_loop.run_time_loop(loop, plan.head + args, step,
                         [plan.head + (t,) + args for t in range(T - 1, -1, -1)], plan)
    blas.gemm(dgates[0], w_hh, dh0)
    inputs.input_and_weight_grads(x, h0, out, w_ih, dgates, dx, dw_ih, dw_hh, dbias)
