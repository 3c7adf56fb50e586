"""Vanilla RNN time loop on NVIDIA GPUs: the CUDA twin of ``cpu_rnn``, same arguments.

The design is ``cuda_lstm``'s (see its docstring): GEMMs outside the loop, one
thread per hidden unit inside it, the whole loop one persistent cooperative
launch with a grid barrier between steps (one launch per step as the fallback).
"""
import functools

import numpy as np
from numba import cuda

from . import _cuda_common as common
from .cpu_rnn import RELU


@functools.lru_cache(maxsize=None)
def _kernels(dtype):
    _, tanh = common.activations(dtype)
    zero, one = np.dtype(dtype).type(0), np.dtype(dtype).type(1)

    @cuda.jit(device=True)
    def unit_forward(t, t0, b, j, xproj, h0, w_hh_t, bias, nonlinearity, out):
        a = xproj[t - t0, b, j] + bias[j]
        for m in range(h0.shape[1]):
            a += (h0[b, m] if t == 0 else out[t - 1, b, m]) * w_hh_t[m, j]
        out[t, b, j] = max(a, zero) if nonlinearity == RELU else tanh(a)

    @cuda.jit(device=True)
    def unit_backward(t, b, j, w_hh, nonlinearity, out, dout, dh_n, dgates):
        dh = dout[t, b, j]
        if t == out.shape[0] - 1:
            dh += dh_n[b, j]
        else:
            for k in range(out.shape[2]):
                dh += dgates[t + 1, b, k] * w_hh[k, j]
        h = out[t, b, j]
        if nonlinearity == RELU:
            dgates[t, b, j] = dh if h > zero else zero
        else:
            dgates[t, b, j] = dh * (one - h * h)

    @cuda.jit
    def forward_step(t, t0, xproj, h0, w_hh_t, bias, nonlinearity, out):
        u = cuda.grid(1)
        H = h0.shape[1]
        if u < h0.shape[0] * H:
            unit_forward(t, t0, u // H, u % H, xproj, h0, w_hh_t, bias, nonlinearity, out)

    @cuda.jit
    def forward_loop(t0, n, xproj, h0, w_hh_t, bias, nonlinearity, out):
        grid = cuda.cg.this_grid()
        H = h0.shape[1]
        for t in range(t0, t0 + n):
            for u in range(cuda.grid(1), h0.shape[0] * H, cuda.gridsize(1)):
                unit_forward(t, t0, u // H, u % H, xproj, h0, w_hh_t, bias, nonlinearity, out)
            grid.sync()

    @cuda.jit
    def backward_step(t, w_hh, nonlinearity, out, dout, dh_n, dgates):
        u = cuda.grid(1)
        H = out.shape[2]
        if u < out.shape[1] * H:
            unit_backward(t, u // H, u % H, w_hh, nonlinearity, out, dout, dh_n, dgates)

    @cuda.jit
    def backward_loop(w_hh, nonlinearity, out, dout, dh_n, dgates):
        grid = cuda.cg.this_grid()
        H = out.shape[2]
        for t in range(out.shape[0] - 1, -1, -1):
            for u in range(cuda.grid(1), out.shape[1] * H, cuda.gridsize(1)):
                unit_backward(t, u // H, u % H, w_hh, nonlinearity, out, dout, dh_n, dgates)
            grid.sync()

    return forward_step, forward_loop, backward_step, backward_loop


def rnn_forward(x, h0, w_ih, w_hh, bias, nonlinearity, out, h_n, xproj):
    """Run one RNN layer over a sequence on the GPU.

    Arguments, shapes and meaning as ``cpu_rnn.rnn_forward``, as device arrays.
    """
    T, B, D = x.shape
    H = h0.shape[1]
    K = xproj.shape[0]
    step, loop, _, _ = _kernels(x.dtype)
    w_hh_t = common.transpose(w_hh)
    for t0 in range(0, T, K):
        n = min(K, T - t0)
        common.gemm(x[t0:t0 + n].reshape(n * B, D), w_ih, xproj[:n].reshape(n * B, H),
                    trans_b=True)
        args = (xproj, h0, w_hh_t, bias, nonlinearity, out)
        common.run_time_loop(loop, (t0, n) + args, step,
                             [(t, t0) + args for t in range(t0, t0 + n)], B * H)
    h_n.copy_to_device(out[T - 1])


def rnn_backward(x, h0, w_ih, w_hh, nonlinearity, out, dout, dh_n,
                 dx, dh0, dw_ih, dw_hh, dbias, dgates):
    """Backpropagation through time for one RNN layer on the GPU.

    Arguments, shapes and meaning as ``cpu_rnn.rnn_backward``, as device arrays.
    """
    T, B, _ = x.shape
    H = h0.shape[1]
    _, _, step, loop = _kernels(x.dtype)
    args = (w_hh, nonlinearity, out, dout, dh_n, dgates)
    common.run_time_loop(loop, args, step, [(t,) + args for t in range(T - 1, -1, -1)], B * H)
    common.gemm(dgates[0], w_hh, dh0)
    common.input_and_weight_grads(x, h0, out, w_ih, dgates, dx, dw_ih, dw_hh, dbias)
