"""LSTM time loop on NVIDIA GPUs: the CUDA twin of ``cpu_lstm``, same maths, same arguments.

Design
------
* Outside the time loop, the input projection of K steps at a time and, after
  the backward loop, the input and weight gradients are matrix products on the
  tiled shared-memory ``gemm`` of ``_cuda_common`` (numba kernels cannot call
  cuBLAS).
* Inside the time loop one thread owns one hidden unit (b, j): it forms the four
  pre-activations of that unit (the recurrent product is a dot product over the
  previous hidden state, read through the cache), applies the gates and updates
  c and h.  The recurrent product, bias and non-linearities are thus one fused
  step with no intermediate array.
* A numba launch costs several microseconds plus a few per array argument, which
  at small sizes dwarfs a step's work.  So the whole loop is one *persistent*
  launch: the threads stride over the units, and a grid-wide barrier
  (``cuda.cg.this_grid().sync()``, a cooperative launch) separates the steps.
  Where cooperative launches are unavailable it falls back to one launch per
  step of the same device function.
* The forward reads W_hh transposed (H, 4H), so that the threads of a warp, which
  hold consecutive units j, read consecutive weights; the backward reads W_hh as
  it is, for the same reason.
* As on the CPU, backward overwrites each step's stored gates with their
  pre-activation gradients, so training needs no second (T, B, 4H) buffer.

All arguments are device arrays (or anything with ``__cuda_array_interface__``
that ``numba.cuda.as_cuda_array`` accepts), C-contiguous, of one dtype.
"""
import functools

import numpy as np
from numba import cuda

from . import _cuda_common as common


@functools.lru_cache(maxsize=None)
def _kernels(dtype):
    sigmoid, tanh = common.activations(dtype)
    one = np.dtype(dtype).type(1)

    @cuda.jit(device=True)
    def unit_forward(t, t0, b, j, xproj, h0, c0, w_hh_t, bias, out, gates, cells, keep_all):
        H = h0.shape[1]
        a_i = xproj[t - t0, b, j] + bias[j]
        a_f = xproj[t - t0, b, H + j] + bias[H + j]
        a_g = xproj[t - t0, b, 2 * H + j] + bias[2 * H + j]
        a_o = xproj[t - t0, b, 3 * H + j] + bias[3 * H + j]
        for m in range(H):
            hv = h0[b, m] if t == 0 else out[t - 1, b, m]
            a_i += hv * w_hh_t[m, j]
            a_f += hv * w_hh_t[m, H + j]
            a_g += hv * w_hh_t[m, 2 * H + j]
            a_o += hv * w_hh_t[m, 3 * H + j]
        i, f, g, o = sigmoid(a_i), sigmoid(a_f), tanh(a_g), sigmoid(a_o)
        s = t if keep_all else 0
        c_prev = c0[b, j] if t == 0 else cells[t - 1 if keep_all else 0, b, j]
        c = f * c_prev + i * g
        gates[s, b, j] = i
        gates[s, b, H + j] = f
        gates[s, b, 2 * H + j] = g
        gates[s, b, 3 * H + j] = o
        cells[s, b, j] = c
        out[t, b, j] = o * tanh(c)

    @cuda.jit(device=True)
    def unit_backward(t, b, j, c0, w_hh, gates, cells, dout, dh_n, dc):
        T, H = gates.shape[0], dc.shape[1]
        dh = dout[t, b, j]
        if t == T - 1:
            dh += dh_n[b, j]
        else:  # gates[t + 1] already holds that step's pre-activation gradients
            for k in range(4 * H):
                dh += gates[t + 1, b, k] * w_hh[k, j]
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

    @cuda.jit
    def forward_step(t, t0, xproj, h0, c0, w_hh_t, bias, out, gates, cells, keep_all):
        u = cuda.grid(1)
        H = h0.shape[1]
        if u < h0.shape[0] * H:
            unit_forward(t, t0, u // H, u % H, xproj, h0, c0, w_hh_t, bias, out, gates, cells,
                         keep_all)

    @cuda.jit
    def forward_loop(t0, n, xproj, h0, c0, w_hh_t, bias, out, gates, cells, keep_all):
        grid = cuda.cg.this_grid()
        H = h0.shape[1]
        for t in range(t0, t0 + n):
            for u in range(cuda.grid(1), h0.shape[0] * H, cuda.gridsize(1)):
                unit_forward(t, t0, u // H, u % H, xproj, h0, c0, w_hh_t, bias, out, gates,
                             cells, keep_all)
            grid.sync()

    @cuda.jit
    def backward_step(t, c0, w_hh, gates, cells, dout, dh_n, dc):
        u = cuda.grid(1)
        H = dc.shape[1]
        if u < dc.shape[0] * H:
            unit_backward(t, u // H, u % H, c0, w_hh, gates, cells, dout, dh_n, dc)

    @cuda.jit
    def backward_loop(c0, w_hh, gates, cells, dout, dh_n, dc):
        grid = cuda.cg.this_grid()
        H = dc.shape[1]
        for t in range(gates.shape[0] - 1, -1, -1):
            for u in range(cuda.grid(1), dc.shape[0] * H, cuda.gridsize(1)):
                unit_backward(t, u // H, u % H, c0, w_hh, gates, cells, dout, dh_n, dc)
            grid.sync()

    return forward_step, forward_loop, backward_step, backward_loop


def lstm_forward(x, h0, c0, w_ih, w_hh, bias, out, h_n, c_n, gates, cells, xproj):
    """Run one LSTM layer over a sequence on the GPU.

    Arguments, shapes and meaning as ``cpu_lstm.lstm_forward``, as device arrays:
    ``gates``/``cells`` with S = T keep every step for ``lstm_backward``, with
    S = 1 only the running step; ``xproj`` (K, B, 4H) is the projection work space.
    """
    T, B, D = x.shape
    H = h0.shape[1]
    K = xproj.shape[0]
    keep_all = cells.shape[0] == T
    step, loop, _, _ = _kernels(x.dtype)
    w_hh_t = common.transpose(w_hh)
    for t0 in range(0, T, K):
        n = min(K, T - t0)
        common.gemm(x[t0:t0 + n].reshape(n * B, D), w_ih, xproj[:n].reshape(n * B, 4 * H),
                    trans_b=True)
        args = (xproj, h0, c0, w_hh_t, bias, out, gates, cells, keep_all)
        common.run_time_loop(loop, (t0, n) + args, step,
                             [(t, t0) + args for t in range(t0, t0 + n)], B * H)
    h_n.copy_to_device(out[T - 1])
    c_n.copy_to_device(cells[T - 1 if keep_all else 0])


def lstm_backward(x, h0, c0, w_ih, w_hh, out, gates, cells, dout, dh_n, dc_n,
                  dx, dh0, dc0, dw_ih, dw_hh, dbias):
    """Backpropagation through time for one LSTM layer on the GPU.

    Arguments, shapes and meaning as ``cpu_lstm.lstm_backward``, as device
    arrays; ``gates`` is consumed (it ends holding the pre-activation gradients).
    """
    T, B, D = x.shape
    H = h0.shape[1]
    _, _, step, loop = _kernels(x.dtype)
    dc0.copy_to_device(dc_n)  # dc0 carries the running cell gradient
    args = (c0, w_hh, gates, cells, dout, dh_n, dc0)
    common.run_time_loop(loop, args, step, [(t,) + args for t in range(T - 1, -1, -1)], B * H)
    common.gemm(gates[0], w_hh, dh0)
    common.input_and_weight_grads(x, h0, out, w_ih, gates, dx, dw_ih, dw_hh, dbias)
