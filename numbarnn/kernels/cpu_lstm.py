"""LSTM time loop on the CPU: forward and backpropagation through time.

One layer, gate order i, f, g, o (PyTorch's)::

    a_t = W_ih x_t + W_hh h_{t-1} + b          (4H pre-activations)
    i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Design: the time loop is shared by P threads (``_parts``), each owning a slice
of the hidden units and the 4 n rows of ``W_ih`` and ``W_hh`` that feed them,
packed once per call (the g rows doubled, so that one sigmoid serves all four
gates: tanh(a) = 2 sigmoid(2a) - 1).  Per step a part multiplies
``[x_t, h_{t-1}]`` by its packed ``[W_ih; W_hh]`` for the whole batch with the
register-blocked ``_tile`` product (inputs too wide for that are projected
``K`` steps at a time into its share of ``xproj`` instead), applies the gate
maths, writes h and c for its units and meets the others at a barrier: one per
step, in two halves (``_sync.arrive``, ``_sync.wait_for``); where the inputs are
projected, every K steps a part projects the next K between the two, in the time it
would otherwise wait for the others' h_t.  Backward runs the same way: each part
turns (dh, dc) of its units into their pre-activation gradients, written over the
stored gates (which are not needed again); after the step's barrier it computes its
units' ``dh_{t-1} = da_t W_hh[:, own]``.  After the loop each part computes its share
of the input and weight gradients (``_gemm.input_and_weight_grads_part``).
Every sum runs in a fixed order, so any number of parts gives bit-identical
results.  (How the parts touch the arrays they share: ``_parts``.)

``lstm_forward`` and ``lstm_backward`` are the one-thread kernels (callable from
other ``@njit`` code); ``lstm_forward_threads`` and ``lstm_backward_threads``
take a thread count first and run the parts side by side.

All arrays are C-contiguous and share one dtype (float32 or float64); the
callers (``numbarnn.layers``) allocate and check them.
"""
import numpy as np
from numba import njit, uint64

from ._gemm import input_and_weight_grads_part
from ._jit import HELPER_OPTIONS, JIT_OPTIONS, fma, prefetch_run, sigmoid, tanh
from ._parts import (carried_gradient, copy_block, full_lengths, loop_share, own_projection,
                     pack_part, project_block, run_parts, sequence_lengths, step_gradient,
                     step_product, step_share, take_final, zero_past_ends)
from ._sync import COUNTER_STRIDE, arrive, barrier, wait_for
from ._tile import empty_packed, pack_columns, packed_product
from ._views import flat


@njit(**HELPER_OPTIONS)
def _activate(act, xp, xp_at, bias, B):
    """``act = sigmoid(act + xp[xp_at:] + bias)`` row by row over the part's packed
    (B, 4n) pre-activations (``xp_at < 0``: the inputs are already in ``act``).

    The g rows of the packed weights and bias are doubled, so that one sigmoid
    serves all four gates: tanh(a) = 2 sigmoid(2a) - 1 (doubling is exact).
    """
    R = bias.size
    for b in range(B):
        r = uint64(b * R)
        if xp_at < 0:
            for q in range(uint64(R)):
                act[r + q] = sigmoid(act[r + q] + bias[q])
        else:
            x = uint64(xp_at + b * R)
            for q in range(uint64(R)):
                act[r + q] = sigmoid(act[r + q] + xp[x + q] + bias[q])


# Rows ahead of the one it works on that the gate maths asks for the lines of the state
# it will read and write.  Those lines were last touched a step (or a call) ago; since
# then the step's product has streamed a part's weights through the L2 cache, so they
# come from L3 or memory, and a loop that waits for each row's lines in turn took 0.95
# against 0.21 ms a call on each thread with them in cache (inference, B = 64, D = H =
# 512; with the requests 0.6 ms; 2, 3 and 6 rows ahead alike).
ROWS_AHEAD = 3


@njit(**HELPER_OPTIONS)
def _lstm_state(act, c_prev, cp_at, c, c_at, h, h_at, gates, g_at, keep_gates, tmp, B, H):
    """c and h of this part's n units from the activated packed rows ``act`` (B, 4n);
    with ``keep_gates`` the gates [i, f, g, o] go to their (B, 4H) rows too.

    ``c_prev``, ``c``, ``h`` hold (B, H) blocks and ``gates`` a (B, 4H) block
    starting at the matching ``*_at`` offset, which includes the part's first
    unit u0: each row's n units of the part are read or written.  ``tmp`` (n,) is
    scratch: a row's new c goes there first, since in inference c_prev and c are one
    block, and LLVM vectorises a loop only after checking at run time that what it
    writes overlaps nothing it reads (in place, a scalar loop: 3 times slower).
    """
    n = tmp.size
    one, two = act.dtype.type(1), act.dtype.type(2)
    for b in range(B):
        i, f, g, o = uint64(4 * b * n), uint64((4 * b + 1) * n), uint64((4 * b + 2) * n), \
            uint64((4 * b + 3) * n)
        cp, cb, hb = uint64(cp_at + b * H), uint64(c_at + b * H), uint64(h_at + b * H)
        if b + ROWS_AHEAD < B:  # (see ROWS_AHEAD)
            ahead = (b + ROWS_AHEAD) * H
            prefetch_run(c_prev, cp_at + ahead, n)
            prefetch_run(c, c_at + ahead, n)
            prefetch_run(h, h_at + ahead, n)
            for q in range(4 if keep_gates else 0):
                prefetch_run(gates, g_at + (4 * (b + ROWS_AHEAD) + q) * H, n)
        for j in range(uint64(n)):
            tmp[j] = fma(act[f + j], c_prev[cp + j], act[i + j] * (two * act[g + j] - one))
        for j in range(uint64(n)):
            c[cb + j] = tmp[j]
        for j in range(uint64(n)):
            h[hb + j] = act[o + j] * tanh(tmp[j])
        if keep_gates:
            gi, gf = uint64(g_at + 4 * b * H), uint64(g_at + (4 * b + 1) * H)
            gg, go = uint64(g_at + (4 * b + 2) * H), uint64(g_at + (4 * b + 3) * H)
            for j in range(uint64(n)):
                gates[gi + j] = act[i + j]
            for j in range(uint64(n)):
                gates[gf + j] = act[f + j]
            for j in range(uint64(n)):
                gates[gg + j] = two * act[g + j] - one
            for j in range(uint64(n)):
                gates[go + j] = act[o + j]


@njit(**HELPER_OPTIONS)
def _double_g(w, n):
    """Double the g block (columns 2n:3n) of packed weights (``_tile``'s panels)."""
    step = w.shape[2]
    for q in range(2 * n, 3 * n):
        for k in range(w.shape[1]):
            w[q // step, k, q % step] *= 2


@njit(**JIT_OPTIONS)
def lstm_forward_part(part, parts, counters, x, h0, c0, w_ih, w_hh, bias, out, h_n, c_n,
                      gates, cells, xproj, lengths):
    """Part ``part`` of ``parts`` of ``lstm_forward`` (the arguments after ``counters``
    are its own); ``counters``: zeros, ``parts * COUNTER_STRIDE`` int64, shared."""
    T, B = x.shape[0], x.shape[1]
    H = h0.shape[1]
    K = xproj.shape[0]
    keep_all = cells.shape[0] == T
    u0, u1, b0, b1, meet = step_share(part, parts, x, np.int64(4), H, h0.itemsize)
    n, m = u1 - u0, b1 - b0
    rows, D, w_step, w_in = pack_part(x, w_ih, w_hh, np.int64(4), u0, u1, np.bool_(True))
    own_bias = bias[rows]
    _double_g(w_step, n)
    _double_g(w_in, n)
    for q in range(2 * n, 3 * n):
        own_bias[q] *= 2
    xp = own_projection(xproj, np.int64(4), u0, u1)  # (rows split: each part its own rows)
    act = np.empty((m, 4 * n), h0.dtype)
    inputs = np.empty((m, D + H), h0.dtype)
    tmp = np.empty(n, h0.dtype)
    x_f, xp_f, act_f, out_f, gates_f, cells_f = flat(x), flat(xp), flat(act), flat(out), \
        flat(gates), flat(cells)
    h0_f, c0_f = flat(h0), flat(c0)
    if D == 0 and m:
        project_block(x, 0, K, w_in, xp, b0, b1)
    for t in range(T) if m else range(0):
        wait_for(counters, meet, t)  # every part's units of h_{t-1} are written
        s = t if keep_all else 0
        h_at, c_at = (t * B + b0) * H + u0, (s * B + b0) * H + u0  # this part's rows
        h_src, hp_at = (h0_f, b0 * H) if t == 0 else (out_f, h_at - u0 - B * H)
        step_product(x_f, D, (t * B + b0) * D, h_src, hp_at, inputs, w_step, act)
        _activate(act_f, xp_f, -1 if D else (t % K * B + b0) * 4 * n, own_bias, m)
        c_src, cp_at = (c0_f, b0 * H + u0) if t == 0 else \
            (cells_f, c_at - B * H if keep_all else c_at)
        _lstm_state(act_f, c_src, cp_at, cells_f, c_at, out_f, h_at, gates_f,
                    (s * B + b0) * 4 * H + u0, keep_all or t == T - 1, tmp, m, H)
        take_final(t, lengths, out_f, t * B * H, H, u0, u1, b0, b1, h_n)
        take_final(t, lengths, cells_f, s * B * H, H, u0, u1, b0, b1, c_n)
        zero_past_ends(t, lengths, out_f, t * B * H, H, u0, u1, b0, b1)
        arrive(counters, part, t + 1)  # this part's units of h_t are written
        if D == 0:  # (in the time it would wait for h_t)
            project_block(x, t + 1, K, w_in, xp, b0, b1)


@njit(**JIT_OPTIONS)
def lstm_forward(x, h0, c0, w_ih, w_hh, bias, out, h_n, c_n, gates, cells, xproj,
                 lengths=None):
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
        Work space for the input projection of K steps at a time, K >= 1 (unused
        when each step multiplies its inputs itself: ``_parts.fused_inputs``).
    lengths : (B,) int64 array, optional
        Each row's sequence length, 1 <= lengths[b] <= T (None: all T).  Row b's
        outputs after its last step are zero and its final state is the one at
        that step (as a packed sequence in torch).
    """
    T, B = x.shape[0], x.shape[1]
    lstm_forward_part(0, 1, np.zeros(COUNTER_STRIDE, np.int64), x, h0, c0, w_ih, w_hh, bias,
                      out, h_n, c_n, gates, cells, xproj, sequence_lengths(lengths, T, B))


def lstm_forward_threads(threads, x, h0, c0, w_ih, w_hh, bias, out, h_n, c_n, gates, cells,
                         xproj, lengths=None):
    """``lstm_forward`` shared by ``threads`` threads (the same bits for any number)."""
    run_parts(lstm_forward_part, threads, x, h0, c0, w_ih, w_hh, bias, out, h_n, c_n, gates,
              cells, xproj, full_lengths(lengths, x.shape[0], x.shape[1]))


@njit(**HELPER_OPTIONS)
def _lstm_cell_backward(dh, dc, c_prev, cp_at, gates, g_at, c, c_at, tmp, B, H):
    """One step back for this part's n units, over flat arrays: (dh, dc) (B, n) into
    h_t, c_t -> the pre-activation gradients, written over this step's activated
    gates (a (B, 4H) block at ``g_at``; ``c_prev``, ``c``: (B, H) blocks, offsets as
    in ``_lstm_state``).

    ``tmp`` (n,) is scratch.  On return ``dc`` holds the gradient flowing into
    c_{t-1}.  The loops are ordered so that each gate is read for the last time
    before its gradient replaces it.
    """
    n = tmp.size
    one = tmp.dtype.type(1)
    for b in range(B):
        r = uint64(b * n)
        i, f = uint64(g_at + 4 * b * H), uint64(g_at + (4 * b + 1) * H)
        g, o = uint64(g_at + (4 * b + 2) * H), uint64(g_at + (4 * b + 3) * H)
        cb, cp = uint64(c_at + b * H), uint64(cp_at + b * H)
        for j in range(uint64(n)):
            tmp[j] = tanh(c[cb + j])
        for j in range(uint64(n)):
            dc[r + j] += dh[r + j] * gates[o + j] * (one - tmp[j] * tmp[j])
        for j in range(uint64(n)):
            gates[o + j] = dh[r + j] * tmp[j] * gates[o + j] * (one - gates[o + j])
        for j in range(uint64(n)):
            tmp[j] = gates[i + j]
        for j in range(uint64(n)):
            gates[i + j] = dc[r + j] * gates[g + j] * gates[i + j] * (one - gates[i + j])
        for j in range(uint64(n)):
            gates[g + j] = dc[r + j] * tmp[j] * (one - gates[g + j] * gates[g + j])
        for j in range(uint64(n)):
            tmp[j] = gates[f + j]
        for j in range(uint64(n)):
            gates[f + j] = dc[r + j] * c_prev[cp + j] * gates[f + j] * (one - gates[f + j])
        for j in range(uint64(n)):
            dc[r + j] *= tmp[j]


@njit(**JIT_OPTIONS)
def lstm_backward_part(part, parts, counters, x, h0, c0, w_ih, w_hh, out, gates, cells, dout,
                       dh_n, dc_n, dx, dh0, dc0, dw_ih, dw_hh, dbias, lengths):
    """Part ``part`` of ``parts`` of ``lstm_backward`` (the arguments after ``counters``
    are its own): its units of the time loop, then its blocks of the GEMMs."""
    T, B = x.shape[0], x.shape[1]
    H = h0.shape[1]
    u0, u1, b0, b1, meet = loop_share(part, parts, B, w_hh.shape[0], H, h0.itemsize)
    n, m = u1 - u0, b1 - b0
    w_back = empty_packed(4 * H, n, h0)
    pack_columns(w_hh, u0, u1, w_back)
    dh_next = np.zeros((m, n), h0.dtype)  # (each row starts at its last step)
    dc = np.zeros((m, n), h0.dtype)
    dh = np.empty((m, n), h0.dtype)
    da = np.empty((m, 4 * H), h0.dtype)
    tmp = np.empty(n, h0.dtype)
    dh_f, dc_f = flat(dh), flat(dc)
    gates_f, cells_f, c0_f, dout_f = flat(gates), flat(cells), flat(c0), flat(dout)
    seq = 0
    for t in range(T - 1, -1, -1) if n and m else range(0):
        at = (t * B + b0) * H + u0  # this part's first row of step t, at its first unit
        step_gradient(t, lengths, dout_f, at, H, dh_n, dh_next, dh, b0, u0)
        carried_gradient(t, lengths, dc_n, dc, b0, u0)
        c_src, cp_at = (c0_f, b0 * H + u0) if t == 0 else (cells_f, at - B * H)
        _lstm_cell_backward(dh_f, dc_f, c_src, cp_at, gates_f, (t * B + b0) * 4 * H + u0,
                            cells_f, at, tmp, m, H)
        seq += 1
        barrier(counters, part, meet, seq)  # every part's units of these rows of da_t
        copy_block(gates_f, (t * B + b0) * 4 * H, da)
        packed_product(da, w_back, dh_next, False)
    for b in range(m):
        for j in range(n):
            dh0[b0 + b, u0 + j] = dh_next[b, j]
            dc0[b0 + b, u0 + j] = dc[b, j]
    barrier(counters, part, parts, T + 1)  # every gradient of every step is in gates
    input_and_weight_grads_part(part, parts, x, h0, out, w_ih, gates, gates, dx, dw_ih, dw_hh,
                                dbias, dbias)


@njit(**JIT_OPTIONS)
def lstm_backward(x, h0, c0, w_ih, w_hh, out, gates, cells, dout, dh_n, dc_n,
                  dx, dh0, dc0, dw_ih, dw_hh, dbias, lengths=None):
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
    lengths : (B,) int64 array, optional
        As given to the forward: row b's backward starts at its last step, where
        (dh_n, dc_n) enter; its padded steps get zero gradient (and ``dout``
        there is ignored).
    """
    T, B = x.shape[0], x.shape[1]
    lstm_backward_part(0, 1, np.zeros(COUNTER_STRIDE, np.int64), x, h0, c0, w_ih, w_hh, out,
                       gates, cells, dout, dh_n, dc_n, dx, dh0, dc0, dw_ih, dw_hh, dbias,
                       sequence_lengths(lengths, T, B))


def lstm_backward_threads(threads, x, h0, c0, w_ih, w_hh, out, gates, cells, dout, dh_n, dc_n,
                          dx, dh0, dc0, dw_ih, dw_hh, dbias, lengths=None):
    """``lstm_backward`` shared by ``threads`` threads (the same bits for any number)."""
    run_parts(lstm_backward_part, threads, x, h0, c0, w_ih, w_hh, out, gates, cells, dout, dh_n,
              dc_n, dx, dh0, dc0, dw_ih, dw_hh, dbias, full_lengths(lengths, x.shape[0],
                                                                   x.shape[1]))
