"""LSTM time loop on the CPU: forward and backpropagation through time.

One layer, gate order i, f, g, o (PyTorch's)::

    a_t = W_ih x_t + W_hh h_{t-1} + b          (4H pre-activations)
    i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Design: the time loop is shared by P threads (``_parts``), each owning a slice
of the hidden units and the 4 n rows of ``W_ih`` and ``W_hh`` that feed them,
packed once per call.  Per step a part computes its rows of ``W_hh h_{t-1}``
for the whole batch with the register-blocked ``_tile`` product (no BLAS call
inside the loop), adds its rows of the input projection (projected ``K`` steps
at a time, by the same product, into its share of ``xproj``) and the bias,
applies the gate maths, writes h and c for its units and meets the others at a
barrier: one per step.  (How the parts touch the arrays they share: ``_parts``.)  Backward runs the same way: each part turns (dh, dc) of
its units into their pre-activation gradients, written over the stored gates
(which are not needed again); after the step's barrier it computes its units'
``dh_{t-1} = da_t W_hh[:, own]``.  The input and weight gradients are large
GEMMs after the loop (``_gemm.input_and_weight_grads``), where BLAS is at its
best.  Each element-wise loop writes one run of one array, which keeps it
vectorisable.  Any number of parts gives bit-identical results.

``lstm_forward`` and ``lstm_backward`` are the one-thread kernels (callable from
other ``@njit`` code); ``lstm_forward_threads`` and ``lstm_backward_threads``
take a thread count first and run the parts side by side.

All arrays are C-contiguous and share one dtype (float32 or float64); the
callers (``numbarnn.layers``) allocate and check them.
"""
import numpy as np
from numba import njit, uint64

from ._gemm import input_and_weight_grads
from ._jit import JIT_OPTIONS, sigmoid, tanh
from ._parts import (copy_block, flat, gate_rows, own_projection, project_part, run_parts,
                     unit_range)
from ._sync import COUNTER_STRIDE, barrier
from ._tile import pack_columns, pack_transposed_rows, packed_product, padded_columns


@njit(**JIT_OPTIONS)
def _lstm_cell(xa, xa_at, ha, bias, c_prev, cp_at, gates, g_at, c, c_at, h, h_at, B, H):
    """One step for a batch and this part's n units, over flat arrays.

    ``xa[xa_at:]`` and ``ha``, both (B, 4n), and ``bias`` (4n,) are the part's
    packed rows of the input projection, the recurrent product and the bias.
    ``c_prev``, ``c``, ``h`` hold (B, H) blocks and ``gates`` a (B, 4H) block
    starting at the matching ``*_at`` offset, which includes the part's first
    unit u0: the part reads and writes its n units of each row.
    """
    n = bias.size // 4
    for b in range(B):
        for k in range(4):
            xk, hk, bk = uint64(xa_at + (4 * b + k) * n), uint64((4 * b + k) * n), uint64(k * n)
            gk = uint64(g_at + (4 * b + k) * H)
            if k == 2:
                for j in range(uint64(n)):
                    gates[gk + j] = tanh(xa[xk + j] + ha[hk + j] + bias[bk + j])
            else:
                for j in range(uint64(n)):
                    gates[gk + j] = sigmoid(xa[xk + j] + ha[hk + j] + bias[bk + j])
        i, f = uint64(g_at + 4 * b * H), uint64(g_at + (4 * b + 1) * H)
        g, o = uint64(g_at + (4 * b + 2) * H), uint64(g_at + (4 * b + 3) * H)
        cp, cb, hb = uint64(cp_at + b * H), uint64(c_at + b * H), uint64(h_at + b * H)
        for j in range(uint64(n)):
            c[cb + j] = gates[f + j] * c_prev[cp + j] + gates[i + j] * gates[g + j]
        for j in range(uint64(n)):
            h[hb + j] = gates[o + j] * tanh(c[cb + j])


@njit(**JIT_OPTIONS)
def lstm_forward_part(part, parts, counters, x, h0, c0, w_ih, w_hh, bias, out, h_n, c_n,
                      gates, cells, xproj):
    """Part ``part`` of ``parts`` of ``lstm_forward`` (the arguments after ``counters``
    are its own); ``counters``: zeros, ``parts * COUNTER_STRIDE`` int64, shared."""
    T, B = x.shape[0], x.shape[1]
    H = h0.shape[1]
    K = xproj.shape[0]
    keep_all = cells.shape[0] == T
    u0, u1 = unit_range(part, parts, H, h0.itemsize)
    rows = gate_rows(4, H, u0, u1)
    R_pad = padded_columns(rows.size, h0.itemsize)
    w_in = np.empty((w_ih.shape[1], R_pad), h0.dtype)
    w_rec = np.empty((H, R_pad), h0.dtype)
    pack_transposed_rows(w_ih, rows, w_in)
    pack_transposed_rows(w_hh, rows, w_rec)
    own_bias = bias[rows]
    xp = own_projection(xproj, 4, u0, u1)
    hp = np.empty((B, rows.size), h0.dtype)
    h_prev = np.empty((B, H), h0.dtype)
    xp_f, hp_f, out_f, gates_f, cells_f = flat(xp), flat(hp), flat(out), flat(gates), flat(cells)
    h0_f, c0_f = flat(h0), flat(c0)
    seq = 0
    for t0 in range(0, T, K):
        n = min(K, T - t0)
        project_part(x, t0, n, w_in, xp)
        for t in range(t0, t0 + n):
            # one streaming copy of h_{t-1}, most of which the other parts wrote: the
            # product's scattered reads of it would each wait for a line from another core
            if t == 0:
                copy_block(h0_f, 0, h_prev)
            else:
                copy_block(out_f, (t - 1) * B * H, h_prev)
            packed_product(h_prev, w_rec, hp)
            s = t if keep_all else 0
            c_src, cp_at = (c0_f, u0) if t == 0 else (cells_f, (s - 1 if keep_all else 0) * B * H + u0)
            _lstm_cell(xp_f, (t - t0) * B * rows.size, hp_f, own_bias, c_src, cp_at, gates_f,
                       s * B * 4 * H + u0, cells_f, s * B * H + u0, out_f, t * B * H + u0, B, H)
            seq += 1
            barrier(counters, part, parts, seq)  # h_t is complete: the next step reads it all
    last = T - 1 if keep_all else 0
    for b in range(B):
        for j in range(u0, u1):
            h_n[b, j] = out[T - 1, b, j]
            c_n[b, j] = cells[last, b, j]


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
    lstm_forward_part(0, 1, np.zeros(COUNTER_STRIDE, np.int64), x, h0, c0, w_ih, w_hh, bias,
                      out, h_n, c_n, gates, cells, xproj)


def lstm_forward_threads(threads, x, h0, c0, w_ih, w_hh, bias, out, h_n, c_n, gates, cells,
                         xproj):
    """``lstm_forward`` shared by ``threads`` threads (the same bits for any number)."""
    run_parts(lstm_forward_part, threads, x, h0, c0, w_ih, w_hh, bias, out, h_n, c_n, gates,
              cells, xproj)


@njit(**JIT_OPTIONS)
def _lstm_cell_backward(dh, dc, c_prev, cp_at, gates, g_at, c, c_at, tmp, B, H):
    """One step back for this part's n units, over flat arrays: (dh, dc) (B, n) into
    h_t, c_t -> the pre-activation gradients, written over this step's activated
    gates (a (B, 4H) block at ``g_at``; ``c_prev``, ``c``: (B, H) blocks, offsets as
    in ``_lstm_cell``).

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
def lstm_backward_part(part, parts, counters, x, h0, c0, w_hh, out, gates, cells, dout, dh_n,
                       dc_n, dh0, dc0):
    """Part ``part`` of ``parts`` of the time loop of ``lstm_backward``: fills the
    pre-activation gradients (over ``gates``) and this part's units of dh0, dc0."""
    T, B = x.shape[0], x.shape[1]
    H = h0.shape[1]
    u0, u1 = unit_range(part, parts, H, h0.itemsize)
    n = u1 - u0
    w_back = np.empty((4 * H, padded_columns(n, h0.itemsize)), h0.dtype)
    pack_columns(w_hh, u0, u1, w_back)
    dh_next = dh_n[:, u0:u1].copy()  # (copies: the inputs are never written)
    dc = dc_n[:, u0:u1].copy()
    dh = np.empty((B, n), h0.dtype)
    da = np.empty((B, 4 * H), h0.dtype)
    tmp = np.empty(n, h0.dtype)
    dh_f, dc_f, next_f = flat(dh), flat(dc), flat(dh_next)
    gates_f, cells_f, dout_f, c0_f = flat(gates), flat(cells), flat(dout), flat(c0)
    seq = 0
    for t in range(T - 1, -1, -1):
        for b in range(B):
            src, r = uint64((t * B + b) * H + u0), uint64(b * n)
            for j in range(uint64(n)):
                dh_f[r + j] = dout_f[src + j] + next_f[r + j]
        c_src, cp_at = (c0_f, u0) if t == 0 else (cells_f, (t - 1) * B * H + u0)
        _lstm_cell_backward(dh_f, dc_f, c_src, cp_at, gates_f, t * B * 4 * H + u0, cells_f,
                            t * B * H + u0, tmp, B, H)
        seq += 1
        barrier(counters, part, parts, seq)  # every part's rows of da_t are written
        copy_block(gates_f, t * B * 4 * H, da)  # (a streaming copy, as h_{t-1} forward)
        packed_product(da, w_back, dh_next)
    for b in range(B):
        for j in range(n):
            dh0[b, u0 + j] = dh_next[b, j]
            dc0[b, u0 + j] = dc[b, j]


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
    lstm_backward_part(0, 1, np.zeros(COUNTER_STRIDE, np.int64), x, h0, c0, w_hh, out, gates,
                       cells, dout, dh_n, dc_n, dh0, dc0)
    input_and_weight_grads(x, h0, out, w_ih, gates, dx, dw_ih, dw_hh, dbias)


def lstm_backward_threads(threads, x, h0, c0, w_ih, w_hh, out, gates, cells, dout, dh_n, dc_n,
                          dx, dh0, dc0, dw_ih, dw_hh, dbias):
    """``lstm_backward`` with its time loop shared by ``threads`` threads; the GEMMs
    after it use BLAS's own threads."""
    run_parts(lstm_backward_part, threads, x, h0, c0, w_hh, out, gates, cells, dout, dh_n, dc_n,
              dh0, dc0)
    input_and_weight_grads(x, h0, out, w_ih, gates, dx, dw_ih, dw_hh, dbias)
