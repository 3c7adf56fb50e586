"""Vanilla (Elman) RNN time loop on the CPU: forward and backpropagation through time.

One layer, as ``torch.nn.RNN``::

    h_t = act(W_ih x_t + W_hh h_{t-1} + b),   act = tanh or relu

The layout follows ``cpu_lstm``: P threads each own a slice of the hidden units
and their packed rows of the weights; per step each multiplies
``[x_t, h_{t-1}]`` by them with the ``_tile`` product (or adds inputs projected
K steps at a time) and applies the activation, then meets the others at a
barrier.  After the backward loop each part computes its share of the input and
weight gradients.  The
derivative of the activation is taken from the output h_t itself
(tanh' = 1 - h^2, relu' = [h > 0]), so training keeps nothing beyond ``out``.
Any number of threads gives bit-identical results.
"""
import numpy as np
from numba import njit, uint64

from ._gemm import input_and_weight_grads_part
from ._jit import HELPER_OPTIONS, JIT_OPTIONS, tanh
from ._parts import (copy_block, full_lengths, loop_share, own_projection, pack_part,
                     project_block, run_parts, sequence_lengths, step_gradient, step_product,
                     step_share, take_final, zero_past_ends)
from ._sync import COUNTER_STRIDE, arrive, barrier, wait_for
from ._tile import empty_packed, pack_columns, packed_product
from ._views import flat

TANH = 0
RELU = 1


@njit(**HELPER_OPTIONS)
def _rnn_cell(ha, xp, xp_at, bias, nonlinearity, h, h_at, B, H):
    """One step for a batch and this part's n units, over flat arrays:
    h = act(ha + xp[xp_at:] + bias), with ``ha``, ``xp`` (B, n) and ``bias`` (n,) the
    part's own (``xp_at < 0``: the inputs are already in ``ha``), and ``h`` a (B, H)
    block at ``h_at`` (which includes u0)."""
    n = bias.size
    zero = h.dtype.type(0)
    for b in range(B):
        r, hb, x = uint64(b * n), uint64(h_at + b * H), uint64(max(xp_at, 0) + b * n)
        if xp_at >= 0:
            for j in range(uint64(n)):
                ha[r + j] += xp[x + j]
        if nonlinearity == RELU:
            for j in range(uint64(n)):
                h[hb + j] = max(ha[r + j] + bias[j], zero)
        else:
            for j in range(uint64(n)):
                h[hb + j] = tanh(ha[r + j] + bias[j])


@njit(**JIT_OPTIONS)
def rnn_forward_part(part, parts, counters, x, h0, w_ih, w_hh, bias, nonlinearity, out, h_n,
                     xproj, lengths):
    """Part ``part`` of ``parts`` of ``rnn_forward`` (see ``cpu_lstm.lstm_forward_part``)."""
    T, B = x.shape[0], x.shape[1]
    H = h0.shape[1]
    K = xproj.shape[0]
    u0, u1, b0, b1, meet = step_share(part, parts, x, np.int64(1), H, h0.itemsize)
    n, m = u1 - u0, b1 - b0
    rows, D, w_step, w_in = pack_part(x, w_ih, w_hh, np.int64(1), u0, u1, np.bool_(True))
    own_bias = bias[rows]
    xp = own_projection(xproj, np.int64(1), u0, u1)  # (rows split: each part its own rows)
    ha = np.empty((m, n), h0.dtype)
    inputs = np.empty((m, D + H), h0.dtype)
    x_f, xp_f, ha_f, out_f, h0_f = flat(x), flat(xp), flat(ha), flat(out), flat(h0)
    if D == 0 and m:
        project_block(x, 0, K, w_in, xp, b0, b1)
    for t in range(T) if m else range(0):
        wait_for(counters, meet, t)  # every part's units of h_{t-1} are written
        h_at = (t * B + b0) * H + u0  # this part's rows
        h_src, hp_at = (h0_f, b0 * H) if t == 0 else (out_f, h_at - u0 - B * H)
        step_product(x_f, D, (t * B + b0) * D, h_src, hp_at, inputs, w_step, ha)
        _rnn_cell(ha_f, xp_f, -1 if D else (t % K * B + b0) * n, own_bias, nonlinearity,
                  out_f, h_at, m, H)
        take_final(t, lengths, out_f, t * B * H, H, u0, u1, b0, b1, h_n)
        zero_past_ends(t, lengths, out_f, t * B * H, H, u0, u1, b0, b1)
        arrive(counters, part, t + 1)  # this part's units of h_t are written
        if D == 0:  # (in the time it would wait for h_t)
            project_block(x, t + 1, K, w_in, xp, b0, b1)


@njit(**JIT_OPTIONS)
def rnn_forward(x, h0, w_ih, w_hh, bias, nonlinearity, out, h_n, xproj, lengths=None):
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
        Work space for the input projection of K steps at a time, K >= 1 (unused
        when each step multiplies its inputs itself: ``_parts.fused_inputs``).
    lengths : (B,) int64 array, optional
        Each row's sequence length (None: all T), as for ``cpu_lstm.lstm_forward``.
    """
    T, B = x.shape[0], x.shape[1]
    rnn_forward_part(0, 1, np.zeros(COUNTER_STRIDE, np.int64), x, h0, w_ih, w_hh, bias,
                     nonlinearity, out, h_n, xproj, sequence_lengths(lengths, T, B))


def rnn_forward_threads(threads, x, h0, w_ih, w_hh, bias, nonlinearity, out, h_n, xproj,
                        lengths=None):
    """``rnn_forward`` shared by ``threads`` threads (the same bits for any number)."""
    run_parts(rnn_forward_part, threads, x, h0, w_ih, w_hh, bias, nonlinearity, out, h_n, xproj,
              full_lengths(lengths, x.shape[0], x.shape[1]))


@njit(**HELPER_OPTIONS)
def _rnn_cell_backward(dh, h, h_at, nonlinearity, da, B, H):
    """One step back for this part's n units, over flat arrays: ``dh`` (B, n) into
    h_t -> the pre-activation gradients; ``h`` and ``da`` hold (B, H) blocks at
    ``h_at`` (which includes u0)."""
    n = dh.size // B
    zero, one = h.dtype.type(0), h.dtype.type(1)
    for b in range(B):
        r, hb = uint64(b * n), uint64(h_at + b * H)
        if nonlinearity == RELU:
            for j in range(uint64(n)):
                da[hb + j] = dh[r + j] if h[hb + j] > zero else zero
        else:
            for j in range(uint64(n)):
                da[hb + j] = dh[r + j] * (one - h[hb + j] * h[hb + j])


@njit(**JIT_OPTIONS)
def rnn_backward_part(part, parts, counters, x, h0, w_ih, w_hh, nonlinearity, out, dout, dh_n,
                      dx, dh0, dw_ih, dw_hh, dbias, dgates, lengths):
    """Part ``part`` of ``parts`` of ``rnn_backward`` (see ``cpu_lstm.lstm_backward_part``)."""
    T, B = x.shape[0], x.shape[1]
    H = h0.shape[1]
    u0, u1, b0, b1, meet = loop_share(part, parts, B, w_hh.shape[0], H, h0.itemsize)
    n, m = u1 - u0, b1 - b0
    w_back = empty_packed(H, n, h0)
    pack_columns(w_hh, u0, u1, w_back)
    dh_next = np.zeros((m, n), h0.dtype)  # (each row starts at its last step)
    dh = np.empty((m, n), h0.dtype)
    da = np.empty((m, H), h0.dtype)
    dh_f, out_f, dgates_f, dout_f = flat(dh), flat(out), flat(dgates), flat(dout)
    seq = 0
    for t in range(T - 1, -1, -1) if n and m else range(0):
        at = (t * B + b0) * H + u0  # this part's first row of step t, at its first unit
        step_gradient(t, lengths, dout_f, at, H, dh_n, dh_next, dh, b0, u0)
        _rnn_cell_backward(dh_f, out_f, at, nonlinearity, dgates_f, m, H)
        seq += 1
        barrier(counters, part, meet, seq)  # every part's units of these rows of da_t
        copy_block(dgates_f, (t * B + b0) * H, da)
        packed_product(da, w_back, dh_next, False)
    for b in range(m):
        for j in range(n):
            dh0[b0 + b, u0 + j] = dh_next[b, j]
    barrier(counters, part, parts, T + 1)  # every gradient of every step is in dgates
    input_and_weight_grads_part(part, parts, x, h0, out, w_ih, dgates, dgates, dx, dw_ih, dw_hh,
                                dbias, dbias)


@njit(**JIT_OPTIONS)
def rnn_backward(x, h0, w_ih, w_hh, nonlinearity, out, dout, dh_n,
                 dx, dh0, dw_ih, dw_hh, dbias, dgates, lengths=None):
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
    lengths : (B,) int64 array, optional
        As given to the forward (see ``cpu_lstm.lstm_backward``).
    """
    T, B = x.shape[0], x.shape[1]
    rnn_backward_part(0, 1, np.zeros(COUNTER_STRIDE, np.int64), x, h0, w_ih, w_hh, nonlinearity,
                      out, dout, dh_n, dx, dh0, dw_ih, dw_hh, dbias, dgates,
                      sequence_lengths(lengths, T, B))


def rnn_backward_threads(threads, x, h0, w_ih, w_hh, nonlinearity, out, dout, dh_n,
                         dx, dh0, dw_ih, dw_hh, dbias, dgates, lengths=None):
    """``rnn_backward`` shared by ``threads`` threads (the same bits for any number)."""
    run_parts(rnn_backward_part, threads, x, h0, w_ih, w_hh, nonlinearity, out, dout, dh_n, dx,
              dh0, dw_ih, dw_hh, dbias, dgates, full_lengths(lengths, x.shape[0], x.shape[1]))
