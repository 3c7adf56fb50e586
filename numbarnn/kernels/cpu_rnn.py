"""Vanilla (Elman) RNN time loop on the CPU: forward and backpropagation through time.

One layer, as ``torch.nn.RNN``::

    h_t = act(W_ih x_t + W_hh h_{t-1} + b),   act = tanh or relu

The layout follows ``cpu_lstm``: the input projection of K steps at a time is
one GEMM, the time loop runs the recurrent GEMM and one element-wise pass, and
after the backward loop the input and weight gradients are one GEMM each.  The
derivative of the activation is taken from the output h_t itself
(tanh' = 1 - h^2, relu' = [h > 0]), so training keeps nothing beyond ``out``.
"""
import numpy as np
from numba import njit

from ._gemm import (batch_times_weight_t, input_and_weight_grads, prefers_weight_first,
                    project_inputs)
from ._jit import JIT_OPTIONS, tanh

TANH = 0
RELU = 1


@njit(**JIT_OPTIONS)
def _rnn_cell(xa, ha, bias, nonlinearity, h):
    """One step for a batch: h = act(xa + ha + bias), all (B, H)."""
    B, H = h.shape
    zero = h.dtype.type(0)
    for b in range(B):
        xb, hab, hb = xa[b], ha[b], h[b]
        if nonlinearity == RELU:
            for j in range(H):
                hb[j] = max(xb[j] + hab[j] + bias[j], zero)
        else:
            for j in range(H):
                hb[j] = tanh(xb[j] + hab[j] + bias[j])


@njit(**JIT_OPTIONS)
def rnn_forward(x, h0, w_ih, w_hh, bias, nonlinearity, out, h_n, xproj):
    """Run one RNN layer over a sequence.

    Parameters
    ----------
    x : (T, B, D) float array, or (T, B) integer array of token ids
        Input sequence; token ids stand for one-hot vectors of width D = w_ih.shape[1].
    h0 : (B, H) array
        Initial hidden state.
    w_ih : (H, D) array
    w_hh : (H, H) array
        Weights.
    bias : (H,) array
        ``bias_ih + bias_hh`` (zeros for a layer without bias).
    nonlinearity : int
        ``TANH`` (0) or ``RELU`` (1).
    out : (T, B, H) array
        Receives h_t for every step; it is all that ``rnn_backward`` needs, so
        training and inference run the same forward.
    h_n : (B, H) array
        Receives the final hidden state.
    xproj : (K, B, H) array
        Work space for the input projection of K steps at a time, K >= 1.
    """
    T, B = x.shape[0], x.shape[1]
    H = h0.shape[1]
    K = xproj.shape[0]
    hproj = np.empty((B, H), dtype=h0.dtype)
    h_t, hproj_t = np.empty((H, B), dtype=h0.dtype), np.empty((H, B), dtype=h0.dtype)
    first = prefers_weight_first(B, w_hh)
    w_hh_t = w_hh if first else np.ascontiguousarray(w_hh.T)  # what the product reads
    w_ih_t = np.ascontiguousarray(w_ih.T)  # the input projection reads its rows
    for t0 in range(0, T, K):
        n = min(K, T - t0)
        project_inputs(x, t0, n, w_ih_t, xproj)
        for t in range(t0, t0 + n):
            batch_times_weight_t(h0 if t == 0 else out[t - 1], w_hh, w_hh_t, first,
                                 h_t, hproj_t, hproj)
            _rnn_cell(xproj[t - t0], hproj, bias, nonlinearity, out[t])
    h_n[:] = out[T - 1]


@njit(**JIT_OPTIONS)
def _rnn_cell_backward(dh, h, nonlinearity, da):
    """One step back: gradient ``dh`` into h_t -> pre-activation gradient ``da``."""
    B, H = h.shape
    zero = h.dtype.type(0)
    for b in range(B):
        dhb, hb, dab = dh[b], h[b], da[b]
        if nonlinearity == RELU:
            for j in range(H):
                dab[j] = dhb[j] if hb[j] > zero else zero
        else:
            for j in range(H):
                dab[j] = dhb[j] * (1 - hb[j] * hb[j])


@njit(**JIT_OPTIONS)
def rnn_backward(x, h0, w_ih, w_hh, nonlinearity, out, dout, dh_n,
                 dx, dh0, dw_ih, dw_hh, dbias, dgates):
    """Backpropagation through time for one RNN layer.

    Parameters
    ----------
    x, h0, w_ih, w_hh, nonlinearity
        As given to ``rnn_forward``.
    out : (T, B, H) array
        As filled by that forward.
    dout : (T, B, H) array
        Gradient of the loss with respect to ``out``.
    dh_n : (B, H) array
        Gradient flowing into the final state (zeros if none).
    dx : (T, B, D) array, or (0, B, D) when the input gradient is not wanted
    dh0 : (B, H) array
    dw_ih : (H, D) array
    dw_hh : (H, H) array
    dbias : (H,) array
        Receive the gradients (overwritten, not accumulated).  ``dbias`` is the
        gradient of both ``bias_ih`` and ``bias_hh``.
    dgates : (T, B, H) array
        Work space: the pre-activation gradients of every step.
    """
    T, B = x.shape[0], x.shape[1]
    H = h0.shape[1]
    dh = np.empty((B, H), dtype=h0.dtype)
    dh_next = dh_n.copy()
    da_t, dh_t = np.empty((H, B), dtype=h0.dtype), np.empty((H, B), dtype=h0.dtype)
    first = prefers_weight_first(B, w_hh)
    w_hh_t = np.ascontiguousarray(w_hh.T) if first else w_hh  # dh = da @ W_hh = da @ (W_hh^T)^T
    for t in range(T - 1, -1, -1):
        np.add(dout[t], dh_next, dh)
        _rnn_cell_backward(dh, out[t], nonlinearity, dgates[t])
        batch_times_weight_t(dgates[t], w_hh_t, w_hh, first, da_t, dh_t, dh_next)
    dh0[:] = dh_next
    input_and_weight_grads(x, h0, out, w_ih, dgates, dx, dw_ih, dw_hh, dbias)
