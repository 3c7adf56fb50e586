"""GRU time loop on the CPU: forward and backpropagation through time.

One layer, torch's (and cuDNN's) variant, gate order r, z, n::

    r = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z) * n + z * h_{t-1}

The layout is ``cpu_lstm``'s (see its docstring): P threads each own a slice of
the hidden units and their 3 n rows of the weights, packed once per call; one
barrier per step; any number of threads gives the same bits.  What differs:

* r multiplies the recurrent part of n alone, so the input and recurrent
  products cannot be one sum: each part projects its rows of the inputs ``K``
  steps at a time (``_parts.project_part``) and multiplies only h_{t-1} per step.
* Backward needs, besides the gates, ``W_hn h_{t-1} + b_hn`` (kept in
  ``hidden_n``).  The pre-activation gradients of the two sides differ in the n
  block (``da_n`` for the input side, ``r * da_n`` for the recurrent one): the
  input side's are written over the stored gates, the recurrent side's into
  ``dgates``; ``dh_{t-1} = z * dh_t + da_rec W_hh``.

``gru_forward`` and ``gru_backward`` are the one-thread kernels (callable from
other ``@njit`` code); ``gru_forward_threads`` and ``gru_backward_threads`` take
a thread count first.  All arrays are C-contiguous and share one dtype
(float32 or float64); the callers (``numbarnn.layers``) allocate and check them.
"""
import numpy as np
from numba import njit, uint64

from ._gemm import input_and_weight_grads_part
from ._jit import HELPER_OPTIONS, JIT_OPTIONS, fma, sigmoid, tanh
from ._parts import (copy_block, full_lengths, loop_share, own_projection, pack_part,
                     project_block, run_parts, sequence_lengths, step_gradient, step_product,
                     take_final, unit_range, zero_past_ends)
from ._sync import COUNTER_STRIDE, arrive, barrier, wait_for
from ._tile import empty_packed, pack_columns, packed_product
from ._views import flat


@njit(**HELPER_OPTIONS)
def _gru_state(hp, xp, xp_at, bias, bias_n, h_prev, hp_at, h, h_at, gates, g_at, hidden,
               hn_at, keep, B, H):
    """h_t of this part's n units, over flat arrays.

    ``hp`` (B, 3n) holds the part's recurrent products (overwritten) and ``xp``
    its input projections (a (B, 3n) block at ``xp_at``); ``bias`` (3n,) is
    [b_ir + b_hr, b_iz + b_hz, b_in] and ``bias_n`` (n,) b_hn.  ``h_prev``, ``h``
    and ``hidden`` hold (B, H) blocks at ``hp_at``, ``h_at``, ``hn_at``, and
    ``gates`` a (B, 3H) block at ``g_at`` (each offset includes the part's first
    unit).  With ``keep``, [r, z, n] go to ``gates`` and W_hn h_{t-1} + b_hn to
    ``hidden``, for backward.
    """
    n = bias_n.size
    one = hp.dtype.type(1)
    for b in range(B):
        r, z, c = uint64(3 * b * n), uint64((3 * b + 1) * n), uint64((3 * b + 2) * n)
        xr, xz, xn = uint64(xp_at + 3 * b * n), uint64(xp_at + (3 * b + 1) * n), \
            uint64(xp_at + (3 * b + 2) * n)
        hb, pb, nb = uint64(h_at + b * H), uint64(hp_at + b * H), uint64(hn_at + b * H)
        for j in range(uint64(n)):
            hp[r + j] = sigmoid(hp[r + j] + xp[xr + j] + bias[j])
        for j in range(uint64(n)):
            hp[z + j] = sigmoid(hp[z + j] + xp[xz + j] + bias[uint64(n) + j])
        if keep:
            for j in range(uint64(n)):
                hidden[nb + j] = hp[c + j] + bias_n[j]
        for j in range(uint64(n)):
            hp[c + j] = tanh(xp[xn + j] + bias[uint64(2 * n) + j]
                             + hp[r + j] * (hp[c + j] + bias_n[j]))
        for j in range(uint64(n)):
            h[hb + j] = fma(one - hp[z + j], hp[c + j], hp[z + j] * h_prev[pb + j])
        if keep:
            for g in range(3):
                src, dst = uint64((3 * b + g) * n), uint64(g_at + (3 * b + g) * H)
                for j in range(uint64(n)):
                    gates[dst + j] = hp[src + j]


@njit(**JIT_OPTIONS)
def gru_forward_part(part, parts, counters, x, h0, w_ih, w_hh, bias_ih, bias_hh, out, h_n,
                     gates, hidden_n, xproj, lengths):
    """Part ``part`` of ``parts`` of ``gru_forward`` (see ``cpu_lstm.lstm_forward_part``)."""
    T, B = x.shape[0], x.shape[1]
    H = h0.shape[1]
    K = xproj.shape[0]
    keep_all = gates.shape[0] == T
    u0, u1 = unit_range(part, parts, H, h0.itemsize)
    n = u1 - u0
    rows, _, w_step, w_in = pack_part(x, w_ih, w_hh, np.int64(3), u0, u1, np.bool_(False))
    bias = bias_ih[rows]
    bias[:2 * n] += bias_hh[rows[:2 * n]]  # r and z add both biases; n keeps b_hn apart
    bias_n = bias_hh[rows[2 * n:]]
    xp = own_projection(xproj, np.int64(3), u0, u1)
    hp = np.empty((B, 3 * n), h0.dtype)
    inputs = np.empty((B, H), h0.dtype)
    x_f, xp_f, hp_f, out_f, h0_f = flat(x), flat(xp), flat(hp), flat(out), flat(h0)
    gates_f, hidden_f = flat(gates), flat(hidden_n)
    project_block(x, 0, K, w_in, xp, 0, B)
    for t in range(T):
        wait_for(counters, parts, t)  # every part's units of h_{t-1} are written
        prev, row_at = (h0_f, 0) if t == 0 else (out_f, (t - 1) * B * H)
        step_product(x_f, np.int64(0), np.int64(0), prev, row_at, inputs, w_step, hp)
        s = t if keep_all else 0
        _gru_state(hp_f, xp_f, t % K * B * 3 * n, bias, bias_n, prev, row_at + u0, out_f,
                   t * B * H + u0, gates_f, s * B * 3 * H + u0, hidden_f, s * B * H + u0,
                   keep_all or t == T - 1, B, H)
        take_final(t, lengths, out_f, t * B * H, H, u0, u1, 0, B, h_n)
        zero_past_ends(t, lengths, out_f, t * B * H, H, u0, u1, 0, B)
        arrive(counters, part, t + 1)  # this part's units of h_t are written
        project_block(x, t + 1, K, w_in, xp, 0, B)  # (in the time it would wait for h_t)


@njit(**JIT_OPTIONS)
def gru_forward(x, h0, w_ih, w_hh, bias_ih, bias_hh, out, h_n, gates, hidden_n, xproj,
                lengths=None):
    """Run one GRU layer over a sequence.

    Parameters
    ----------
    x : (T, B, D) float array, or (T, B) integer array of token ids
        Input sequence; token ids stand for one-hot vectors of width D = w_ih.shape[1].
    h0 : (B, H) array
        Initial hidden state.
    w_ih : (3H, D) array
    w_hh : (3H, H) array
        Weights, gate order r, z, n.
    bias_ih, bias_hh : (3H,) arrays
        The two biases (zeros for a layer without bias): b_hn sits inside r * (...).
    out : (T, B, H) array
        Receives h_t for every step.
    h_n : (B, H) array
        Receives the final hidden state.
    gates : (S, B, 3H) array
        Receives the gates [r, z, n].  S = T keeps every step for ``gru_backward``
        (training); S = 1 keeps only the last step (inference).
    hidden_n : (S, B, H) array
        Receives W_hn h_{t-1} + b_hn, with the same S.
    xproj : (K, B, 3H) array
        Work space for the input projection of K steps at a time, K >= 1.
    lengths : (B,) int64 array, optional
        Each row's sequence length (None: all T), as for ``cpu_lstm.lstm_forward``.
    """
    T, B = x.shape[0], x.shape[1]
    gru_forward_part(0, 1, np.zeros(COUNTER_STRIDE, np.int64), x, h0, w_ih, w_hh, bias_ih,
                     bias_hh, out, h_n, gates, hidden_n, xproj, sequence_lengths(lengths, T, B))


def gru_forward_threads(threads, x, h0, w_ih, w_hh, bias_ih, bias_hh, out, h_n, gates, hidden_n,
                        xproj, lengths=None):
    """``gru_forward`` shared by ``threads`` threads (the same bits for any number)."""
    run_parts(gru_forward_part, threads, x, h0, w_ih, w_hh, bias_ih, bias_hh, out, h_n, gates,
              hidden_n, xproj, full_lengths(lengths, x.shape[0], x.shape[1]))


@njit(**HELPER_OPTIONS)
def _gru_cell_backward(dh, h_prev, hp_at, gates, g_at, hidden, hn_at, dgates, direct, B, H):
    """One step back for this part's n units, over flat arrays: ``dh`` (B, n) into h_t
    -> the pre-activation gradients of the input side, written over this step's
    gates [r, z, n] (a (B, 3H) block at ``g_at``), and of the recurrent side, into
    the same block of ``dgates``; ``direct`` (B, n) receives z * dh, the part of
    dh_{t-1} that bypasses W_hh.  Offsets as in ``_gru_state``."""
    n = direct.shape[1]
    one = dh.dtype.type(1)
    d = flat(direct)
    for b in range(B):
        r, z, c = uint64(g_at + 3 * b * H), uint64(g_at + (3 * b + 1) * H), \
            uint64(g_at + (3 * b + 2) * H)
        q, pb, nb = uint64(b * n), uint64(hp_at + b * H), uint64(hn_at + b * H)
        for j in range(uint64(n)):
            g_r, g_z, g_n, dh_j = gates[r + j], gates[z + j], gates[c + j], dh[q + j]
            da_n = dh_j * (one - g_z) * (one - g_n * g_n)
            da_r = da_n * hidden[nb + j] * g_r * (one - g_r)
            da_z = dh_j * (h_prev[pb + j] - g_n) * g_z * (one - g_z)
            d[q + j] = dh_j * g_z
            gates[r + j], gates[z + j], gates[c + j] = da_r, da_z, da_n
            dgates[r + j], dgates[z + j], dgates[c + j] = da_r, da_z, da_n * g_r


@njit(**JIT_OPTIONS)
def gru_backward_part(part, parts, counters, x, h0, w_ih, w_hh, out, gates, hidden_n, dout, dh_n,
                      dx, dh0, dw_ih, dw_hh, dbias_ih, dbias_hh, dgates, lengths):
    """Part ``part`` of ``parts`` of ``gru_backward`` (see ``cpu_lstm.lstm_backward_part``)."""
    T, B = x.shape[0], x.shape[1]
    H = h0.shape[1]
    u0, u1, b0, b1, meet = loop_share(part, parts, B, w_hh.shape[0], H, h0.itemsize)
    n, m = u1 - u0, b1 - b0
    w_back = empty_packed(3 * H, n, h0)
    pack_columns(w_hh, u0, u1, w_back)
    dh_next = np.zeros((m, n), h0.dtype)  # (each row starts at its last step)
    dh = np.empty((m, n), h0.dtype)
    direct = np.empty((m, n), h0.dtype)
    da = np.empty((m, 3 * H), h0.dtype)
    dh_f, out_f, h0_f, dout_f = flat(dh), flat(out), flat(h0), flat(dout)
    gates_f, hidden_f, dgates_f = flat(gates), flat(hidden_n), flat(dgates)
    seq = 0
    for t in range(T - 1, -1, -1) if n and m else range(0):
        at = (t * B + b0) * H + u0  # this part's first row of step t, at its first unit
        step_gradient(t, lengths, dout_f, at, H, dh_n, dh_next, dh, b0, u0)
        prev, prev_at = (h0_f, b0 * H + u0) if t == 0 else (out_f, at - B * H)
        _gru_cell_backward(dh_f, prev, prev_at, gates_f, (t * B + b0) * 3 * H + u0, hidden_f,
                           at, dgates_f, direct, m, H)
        seq += 1
        barrier(counters, part, meet, seq)  # every part's units of these rows of da_t
        copy_block(dgates_f, (t * B + b0) * 3 * H, da)
        packed_product(da, w_back, dh_next, False)
        for b in range(m):
            for j in range(n):
                dh_next[b, j] += direct[b, j]
    for b in range(m):
        for j in range(n):
            dh0[b0 + b, u0 + j] = dh_next[b, j]
    barrier(counters, part, parts, T + 1)  # every gradient of every step is written
    input_and_weight_grads_part(part, parts, x, h0, out, w_ih, gates, dgates, dx, dw_ih, dw_hh,
                                dbias_ih, dbias_hh)


@njit(**JIT_OPTIONS)
def gru_backward(x, h0, w_ih, w_hh, out, gates, hidden_n, dout, dh_n, dx, dh0, dw_ih, dw_hh,
                 dbias_ih, dbias_hh, dgates, lengths=None):
    """Backpropagation through time for one GRU layer.

    Parameters
    ----------
    x, h0, w_ih, w_hh
        As given to the training ``gru_forward``.
    out, gates, hidden_n
        As filled by that forward (with S = T).  ``gates`` is consumed: on return
        it holds the input side's pre-activation gradients of every step.
    dout : (T, B, H) array
        Gradient of the loss with respect to ``out``.
    dh_n : (B, H) array
        Gradient flowing into the final state (zeros if none).
    dx : (T, B, D) array, or (0, B, D) when the input gradient is not wanted
    dh0 : (B, H) array
    dw_ih : (3H, D) array
    dw_hh : (3H, H) array
    dbias_ih, dbias_hh : (3H,) arrays
        Receive the gradients (overwritten, not accumulated).
    dgates : (T, B, 3H) array
        Work space: the recurrent side's pre-activation gradients of every step.
    lengths : (B,) int64 array, optional
        As given to the forward (see ``cpu_lstm.lstm_backward``).
    """
    T, B = x.shape[0], x.shape[1]
    gru_backward_part(0, 1, np.zeros(COUNTER_STRIDE, np.int64), x, h0, w_ih, w_hh, out, gates,
                      hidden_n, dout, dh_n, dx, dh0, dw_ih, dw_hh, dbias_ih, dbias_hh, dgates,
                      sequence_lengths(lengths, T, B))


def gru_backward_threads(threads, x, h0, w_ih, w_hh, out, gates, hidden_n, dout, dh_n, dx, dh0,
                         dw_ih, dw_hh, dbias_ih, dbias_hh, dgates, lengths=None):
    """``gru_backward`` shared by ``threads`` threads (the same bits for any number)."""
    run_parts(gru_backward_part, threads, x, h0, w_ih, w_hh, out, gates, hidden_n, dout, dh_n,
              dx, dh0, dw_ih, dw_hh, dbias_ih, dbias_hh, dgates,
              full_lengths(lengths, x.shape[0], x.shape[1]))
