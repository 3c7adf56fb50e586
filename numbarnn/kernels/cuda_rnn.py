"""Vanilla RNN time loop on NVIDIA GPUs: the CUDA twin of ``cpu_rnn``, same arguments.

The design is ``cuda_lstm``'s (see its docstring): GEMMs outside the loop, one
warp per hidden unit and group of ROWS batch rows inside it, the whole loop one persistent cooperative
launch with a grid barrier between steps (one launch per step as the fallback).
"""
import functools

import numpy as np
from numba import cuda
from numba.np.numpy_support import from_dtype

from . import _cuda_common as common
from .cpu_rnn import RELU


@functools.lru_cache(maxsize=None)
def _kernels(dtype):
    _, tanh = common.activations(dtype)
    lane_sum = common.lane_sum(dtype)
    unit_count, work_unit, rows_dot = common.unit_count, common.work_unit, common.rows_dot
    nbtype = from_dtype(np.dtype(dtype))
    zero, one = np.dtype(dtype).type(0), np.dtype(dtype).type(1)
    LANES, UPB, ROWS = common.LANES, common.UNITS_PER_BLOCK, common.ROWS

    @cuda.jit(device=True)
    def forward_step(t, t0, xproj, h0, w_hh, bias, nonlinearity, out):
        B, H = h0.shape
        sh = cuda.shared.array((UPB, ROWS, LANES), nbtype)
        acc = cuda.local.array(ROWS, nbtype)
        w, lane = cuda.threadIdx.x // LANES, cuda.threadIdx.x % LANES
        for base in range(cuda.blockIdx.x * UPB, unit_count(B, H), cuda.gridDim.x * UPB):
            b0, j, rows = work_unit(base + w, B, H)
            rows_dot(h0 if t == 0 else out[t - 1], b0, rows, w_hh, j, lane, acc, sh, w)
            cuda.syncthreads()
            if lane < rows:
                b = b0 + lane
                a = xproj[t - t0, b, j] + bias[j] + lane_sum(sh, w, lane)
                out[t, b, j] = max(a, zero) if nonlinearity == RELU else tanh(a)
            cuda.syncthreads()

    @cuda.jit(device=True)
    def backward_step(t, w_hh_t, nonlinearity, out, dout, dh_n, dgates):
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
                dh = dout[t, b, j] + (dh_n[b, j] if t == T - 1 else lane_sum(sh, w, lane))
                h = out[t, b, j]
                if nonlinearity == RELU:
                    dgates[t, b, j] = dh if h > zero else zero
                else:
                    dgates[t, b, j] = dh * (one - h * h)
            cuda.syncthreads()

    @cuda.jit
    def forward_one(t, t0, xproj, h0, w_hh, bias, nonlinearity, out):
        forward_step(t, t0, xproj, h0, w_hh, bias, nonlinearity, out)

    @cuda.jit
    def forward_loop(t0, n, xproj, h0, w_hh, bias, nonlinearity, out):
        grid = cuda.cg.this_grid()
        for t in range(t0, t0 + n):
            forward_step(t, t0, xproj, h0, w_hh, bias, nonlinearity, out)
            grid.sync()

    @cuda.jit
    def backward_one(t, w_hh_t, nonlinearity, out, dout, dh_n, dgates):
        backward_step(t, w_hh_t, nonlinearity, out, dout, dh_n, dgates)

    @cuda.jit
    def backward_loop(w_hh_t, nonlinearity, out, dout, dh_n, dgates):
        grid = cuda.cg.this_grid()
        for t in range(out.shape[0] - 1, -1, -1):
            backward_step(t, w_hh_t, nonlinearity, out, dout, dh_n, dgates)
            grid.sync()

    return forward_one, forward_loop, backward_one, backward_loop


def rnn_forward(x, h0, w_ih, w_hh, bias, nonlinearity, out, h_n, xproj):
    """Run one RNN layer over a sequence on the GPU.

    Arguments, shapes and meaning as ``cpu_rnn.rnn_forward``, as device arrays.
    """
    T, B = x.shape[:2]
    H = h0.shape[1]
    K = xproj.shape[0]
    step, loop, _, _ = _kernels(out.dtype)
    for t0 in range(0, T, K):
        n = min(K, T - t0)
        common.project_inputs(x[t0:t0 + n], w_ih, xproj[:n].reshape(n * B, H))
        args = (xproj, h0, w_hh, bias, nonlinearity, out)
        common.run_time_loop(loop, (t0, n) + args, step,
                             [(t, t0) + args for t in range(t0, t0 + n)],
                             common.work_units(B, H))
    h_n.copy_to_device(out[T - 1])


def rnn_backward(x, h0, w_ih, w_hh, nonlinearity, out, dout, dh_n,
                 dx, dh0, dw_ih, dw_hh, dbias, dgates):
    """Backpropagation through time for one RNN layer on the GPU.

    Arguments, shapes and meaning as ``cpu_rnn.rnn_backward``, as device arrays.
    """
    T, B = x.shape[:2]
    H = h0.shape[1]
    _, _, step, loop = _kernels(out.dtype)
    args = (common.transpose(w_hh), nonlinearity, out, dout, dh_n, dgates)
    common.run_time_loop(loop, args, step, [(t,) + args for t in range(T - 1, -1, -1)],
                         common.work_units(B, H))
    common.gemm(dgates[0], w_hh, dh0)
    common.input_and_weight_grads(x, h0, out, w_ih, dgates, dx, dw_ih, dw_hh, dbias)
