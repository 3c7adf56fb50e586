"""LSTM time loop on the CPU: forward and backpropagation through time.

One layer, gate order i, f, g, o (PyTorch's)::

    a_t = W_ih x_t + W_hh h_{t-1} + b          (4H pre-activations)
    i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Design: the input projection ``W_ih x_t`` of many steps is one GEMM (in chunks of
``xproj.shape[0]`` steps, so inference memory does not grow with T); inside the
time loop only the recurrent GEMM and the element-wise maths run.  Each
element-wise loop writes one run of one array, which keeps it vectorisable.
Backward overwrites the stored gates of each step with that step's
pre-activation gradients (the gates are not needed again), so that the input
gradient and the weight gradients are each one GEMM after the loop without a
second (T, B, 4H) buffer.

All arrays are C-contiguous and share one dtype (float32 or float64); the
callers (``numbarnn.layers``) allocate and check them.
"""
import numpy as np
from numba import njit

from ._gemm import (batch_times_weight_t, input_and_weight_grads, prefers_weight_first,
                    project_inputs)
from ._jit import JIT_OPTIONS, sigmoid, tanh


@njit(**JIT_OPTIONS)
def _lstm_cell(xa, ha, bias, c_prev, gates, c, h):
    """One step for a batch: pre-activations ``xa + ha + bias`` (B, 4H) -> gates, cell, hidden."""
    B, H = c.shape
    for b in range(B):
        for k in range(4):
            lo, hi = k * H, (k + 1) * H
            xk, hk, bk, gk = xa[b, lo:hi], ha[b, lo:hi], bias[lo:hi], gates[b, lo:hi]
            if k == 2:
                for j in range(H):
                    gk[j] = tanh(xk[j] + hk[j] + bk[j])
            else:
                for j in range(H):
                    gk[j] = sigmoid(xk[j] + hk[j] + bk[j])
        i, f, g, o = _split_gates(gates[b], H)
        cp, cb, hb = c_prev[b], c[b], h[b]
        for j in range(H):
            cb[j] = f[j] * cp[j] + i[j] * g[j]
        for j in range(H):
            hb[j] = o[j] * tanh(cb[j])


@njit(**JIT_OPTIONS)
def _split_gates(row, H):
    """Views of the i, f, g, o parts of one (4H,) row.

    The loops index these views from 0: an offset index such as ``row[H + j]``
    makes LLVM emit gathers and scatters instead of vector loads and stores.
    """
    return row[:H], row[H:2 * H], row[2 * H:3 * H], row[3 * H:]


@njit(**JIT_OPTIONS)
def lstm_forward(x, h0, c0, w_ih, w_hh, bias, out, h_n, c_n, gates, cells, xproj):
    """Run one LSTM layer over a sequence.

    Parameters
    ----------
    x : (T, B, D) float array, or (T, B) integer array of token ids
        Input sequence; token ids stand for one-hot vectors of width D = w_ih.shape[1].
    h0, c0 : (B, H) arrays
        Initial hidden and cell state.
    w_ih : (4H, D) array
    w_hh : (4H, H) array
        Weights, gate order i, f, g, o.
    bias : (4H,) array
        ``bias_ih + bias_hh`` (zeros for a layer without bias).
    out : (T, B, H) array
        Receives h_t for every step.
    h_n, c_n : (B, H) arrays
        Receive the final state.
    gates : (S, B, 4H) array
        Receives the activated gates [i, f, g, o].  S = T keeps every step for
        ``lstm_backward`` (training); S = 1 keeps only the running step
        (inference).
    cells : (S, B, H) array
        Receives the cell states, with the same S.
    xproj : (K, B, 4H) array
        Work space for the input projection of K steps at a time, K >= 1.
    """
    T, B = x.shape[0], x.shape[1]
    H = h0.shape[1]
    K = xproj.shape[0]
    keep_all = cells.shape[0] == T
    hproj = np.empty((B, 4 * H), dtype=h0.dtype)
    h_t, hproj_t = np.empty((H, B), dtype=h0.dtype), np.empty((4 * H, B), dtype=h0.dtype)
    first = prefers_weight_first(B, w_hh)
    w_hh_t = w_hh if first else np.ascontiguousarray(w_hh.T)  # what the product reads
    # the input projection reads rows of W_ih^T (a contiguous copy)
    w_ih_t = np.ascontiguousarray(w_ih.T)
    for t0 in range(0, T, K):
        n = min(K, T - t0)
        project_inputs(x, t0, n, w_ih_t, xproj)
        for t in range(t0, t0 + n):
            batch_times_weight_t(h0 if t == 0 else out[t - 1], w_hh, w_hh_t, first,
                                 h_t, hproj_t, hproj)
            s = t if keep_all else 0
            c_prev = c0 if t == 0 else cells[s - 1 if keep_all else 0]
            _lstm_cell(xproj[t - t0], hproj, bias, c_prev, gates[s], cells[s], out[t])
    h_n[:] = out[T - 1]
    c_n[:] = cells[T - 1 if keep_all else 0]


@njit(**JIT_OPTIONS)
def _lstm_cell_backward(dh, dc, c_prev, gates, c, da):
    """One step back: (dh, dc) into h_t, c_t -> pre-activation gradients ``da`` (B, 4H).

    ``gates`` holds this step's activated [i, f, g, o]; ``da`` may not alias it.
    On return ``dc`` holds the gradient flowing into c_{t-1}.
    """
    B, H = c.shape
    for b in range(B):
        i, f, g, o = _split_gates(gates[b], H)
        da_i, da_f, da_g, da_o = _split_gates(da[b], H)
        dhb, dcb, cb, cp = dh[b], dc[b], c[b], c_prev[b]
        for j in range(H):
            tc = tanh(cb[j])
            da_o[j] = dhb[j] * tc * o[j] * (1 - o[j])
            dcb[j] += dhb[j] * o[j] * (1 - tc * tc)
        for j in range(H):
            da_i[j] = dcb[j] * g[j] * i[j] * (1 - i[j])
        for j in range(H):
            da_f[j] = dcb[j] * cp[j] * f[j] * (1 - f[j])
        for j in range(H):
            da_g[j] = dcb[j] * i[j] * (1 - g[j] * g[j])
        for j in range(H):
            dcb[j] *= f[j]


@njit(**JIT_OPTIONS)
def lstm_backward(x, h0, c0, w_ih, w_hh, out, gates, cells, dout, dh_n, dc_n,
                  dx, dh0, dc0, dw_ih, dw_hh, dbias):
    """Backpropagation through time for one LSTM layer.

    Parameters
    ----------
    x, h0, c0, w_ih, w_hh
        As given to the training ``lstm_forward``.
    out, gates, cells
        As filled by that forward (with S = T).  ``gates`` is consumed: on
        return it holds the pre-activation gradients of every step.
    dout : (T, B, H) array
        Gradient of the loss with respect to ``out``.
    dh_n, dc_n : (B, H) arrays
        Gradient flowing into the final state (zeros if none).
    dx : (T, B, D) array, or (0, B, D) when the input gradient is not wanted
    dh0, dc0 : (B, H) arrays
    dw_ih : (4H, D) array
    dw_hh : (4H, H) array
    dbias : (4H,) array
        Receive the gradients (overwritten, not accumulated).  ``dbias`` is the
        gradient of both ``bias_ih`` and ``bias_hh``.
    """
    T, B = x.shape[0], x.shape[1]
    H = h0.shape[1]
    dh = np.empty((B, H), dtype=h0.dtype)
    act = np.empty((B, 4 * H), dtype=h0.dtype)
    da_t, dh_t = np.empty((4 * H, B), dtype=h0.dtype), np.empty((H, B), dtype=h0.dtype)
    first = prefers_weight_first(B, w_hh)
    w_hh_t = np.ascontiguousarray(w_hh.T) if first else w_hh  # dh = da @ W_hh = da @ (W_hh^T)^T
    dc = dc_n.copy()
    dh_next = dh_n.copy()
    for t in range(T - 1, -1, -1):
        np.add(dout[t], dh_next, dh)
        act[:] = gates[t]
        _lstm_cell_backward(dh, dc, c0 if t == 0 else cells[t - 1], act, cells[t], gates[t])
        batch_times_weight_t(gates[t], w_hh_t, w_hh, first, da_t, dh_t, dh_next)
    dh0[:] = dh_next
    dc0[:] = dc
    input_and_weight_grads(x, h0, out, w_ih, gates, dx, dw_ih, dw_hh, dbias)
