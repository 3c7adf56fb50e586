"""The products after the backward time loop, shared by every cell, on the ``_tile`` product.

After the loop, ``dgates`` (T, B, G H) holds every step's pre-activation
gradients ``da``; with ``H_prev`` = [h0; h_1 .. h_{T-1}] (T B, H) the gradients
are::

    dx = da W_ih,   dW_ih = da^T x,   dW_hh = da^T H_prev,   dbias = sum_rows da

(The GRU's recurrent pre-activations differ from its input ones in the n block,
r * (W_hn h + b_hn), so it passes a second array ``dgates_hh`` for ``dW_hh`` and
``dbias_hh``; the other cells pass ``dgates`` twice.)

Each part of a threaded call takes its own share: the rows of ``dx``, and the
gate rows (columns of ``da``) of the weight gradients.  The weight gradients
are sums over T B rows, taken in chunks of at most ``ROWS_PER_CHUNK``: the
part's columns of a chunk of ``da`` are packed into a small private buffer, and
the ``_tile`` product adds chunk after chunk (``dW^T += x_chunk^T da_chunk``),
reading ``x_chunk^T`` (and H_prev's) as a transposed view: no copy.  Every
element is then one chain of multiply-adds in a fixed order, whichever part
computes it and wherever a chunk ends: any number of threads gives the same
bits.  (BLAS is not used in the kernels: its results depend on how the work is
split, and a BLAS thread pool woken between the time loops spins on the cores
they share.)

The input ``x`` of a layer is either a float (T, B, D) sequence or a (T, B)
integer array of token ids, which stands for the one-hot sequence of width
D = ``w_ih.shape[1]``.  For tokens, the weight gradient of ``W_ih`` is a
scatter-add (and the input projection a row lookup, ``_parts.project_part``):
no products with a matrix that is almost all zeros.
"""
import numpy as np
from numba import njit, uint64
from numba.extending import overload

from ._jit import HELPER_OPTIONS, JIT_OPTIONS, is_tokens
from ._parts import unit_range
from ._tile import VECTOR_BYTES, empty_packed, pack_columns, packed_product
from ._views import as_matrix, flat

# Rows of da per chunk of the weight gradients.  Each chunk's product reads x^T and
# H_prev^T as transposed views (a tile reads a few elements from each of the chunk's
# rows, one cache line each) beside a panel slice of the chunk, which every tile reads
# again: at 128 rows the two take half as much of the L1 cache as at 256.  One thread, both
# parts of two in turn, against 256 rows, alternating: (100, 16, 32, 64) 0.61 -> 0.55 ms,
# (100, 32, 64, 128) 3.84 -> 3.46, (100, 64, 128, 256) 33.1 -> 29.4, (50, 64, 512, 512)
# 97 -> 87 (AVX-512).  With AVX2's narrower panels 256 rows did better than 128 and 512 on
# a Zen 3 core, both threads, medians of three alternating processes: (100, 16, 32, 64)
# 1.03 -> 0.98 ms, (100, 64, 128, 256) 53.1 -> 48.8, (50, 64, 512, 512) 150.5 -> 140.3 (512
# rows: 0.98, 50.7, 151.2).  (The sums' order is the same for any chunk: the same bits.)
ROWS_PER_CHUNK = 128 if VECTOR_BYTES == 64 else 256


def input_weight_grad(x, da, c0, da_chunk, r0, r1, dWT_ih, first):
    """``dWT_ih (+)= x[r0:r1]^T da[r0:r1, c0:c0+n]`` over rows of x as (T B, D); ``da_chunk``:
    those rows of ``da``, packed (tokens: a scatter-add of ``da``); compiled use only."""
    raise NotImplementedError


@overload(input_weight_grad, jit_options=HELPER_OPTIONS)
def _input_weight_grad(x, da, c0, da_chunk, r0, r1, dWT_ih, first):
    if is_tokens(x):
        def scatter(x, da, c0, da_chunk, r0, r1, dWT_ih, first):
            if first:
                dWT_ih[:] = 0
            n = dWT_ih.shape[1]
            out, grads, tokens, GH = flat(dWT_ih), flat(da), flat(x), da.shape[1]
            for r in range(r0, r1):
                dst, src = uint64(tokens[r] * n), uint64(r * GH + c0)
                for q in range(uint64(n)):
                    out[dst + q] += grads[src + q]
        return scatter

    def product(x, da, c0, da_chunk, r0, r1, dWT_ih, first):
        T, B, D = x.shape
        packed_product(as_matrix(x, T * B, D)[r0:r1].T, da_chunk, dWT_ih, not first)
    return product


@njit(**HELPER_OPTIONS)
def add_column_sums(packed, rows, sums):
    """``sums[q] +=`` column q of rows ``0:rows`` of the packed ``packed`` (panels, K, step),
    row after row, for every column of its whole panels (``sums``: panels * step).

    Read from the packed copy, whose rows are contiguous: summing the strided view of
    ``da`` took 0.55 of the 4.7 ms after an LSTM's loop at (32, 100, 64, 128) on one
    thread.  The sums run over the rows in order, as before.
    """
    panels, K, step = packed.shape
    src = flat(packed)
    for p in range(panels):
        to = uint64(p * step)
        for r in range(rows):
            at = uint64((p * K + r) * step)
            for j in range(uint64(step)):
                sums[to + j] += src[at + j]


@njit(**JIT_OPTIONS)
def input_and_weight_grads_part(part, parts, x, h0, out, w_ih, dgates, dgates_hh, dx, dw_ih,
                                dw_hh, dbias, dbias_hh):
    """After the time loop: dx, dW_ih, dW_hh and the bias gradients (overwritten), or
    part ``part`` of ``parts`` of them (its rows of dx, its gate rows of the rest).

    Shared by every cell: ``dgates`` is (T, B, G H), the pre-activation gradients
    of the input side (dx, dW_ih, ``dbias``), and ``dgates_hh`` those of the
    recurrent side (dW_hh, ``dbias_hh``); for a cell whose two are the same both
    may be one array (and both biases one array).  A ``dx`` of shape (0, B, D)
    skips the input gradient (token inputs have none).  The parts read only
    what every part has finished writing, and each writes its own rows.
    """
    T, B = x.shape[0], x.shape[1]
    H = out.shape[2]
    GH = dgates.shape[2]
    D = w_ih.shape[1]
    TB = T * B
    da = as_matrix(dgates, TB, GH)
    dt = dgates.dtype
    if dx.shape[0] == T:  # an empty dx: the caller needs no input gradient
        r0, r1 = part * TB // parts, (part + 1) * TB // parts
        w = empty_packed(GH, D, dx)
        pack_columns(w_ih, np.int64(0), D, w)
        packed_product(da[r0:r1], w, as_matrix(dx, TB, D)[r0:r1], False)
    c0, c1 = unit_range(part, parts, GH, dgates.itemsize)  # gate rows, in whole cache lines
    n = c1 - c0
    if n == 0:
        return
    chunk = empty_packed(np.int64(ROWS_PER_CHUNK), n, dgates)
    one_side = dgates_hh.ctypes.data == dgates.ctypes.data
    da_hh = as_matrix(dgates_hh, TB, GH)
    chunk_hh = chunk if one_side else np.empty_like(chunk)
    dWT_ih, dWT_hh = np.empty((D, n), dt), np.empty((H, n), dt)
    sums = np.zeros(chunk.shape[0] * chunk.shape[2], dt)  # (whole panels: see add_column_sums)
    sums_hh = sums if one_side else np.zeros_like(sums)
    h_prev = as_matrix(out, TB, H)  # rows B onwards of H_prev = [h0; h_1 .. h_{T-1}]
    r0 = 0
    while r0 < TB:  # chunks of h0's rows, then of out's (H_prev's two sources)
        r1 = min(r0 + ROWS_PER_CHUNK, B if r0 < B else TB)
        pack_columns(da[r0:r1], c0, c1, chunk)
        add_column_sums(chunk, r1 - r0, sums)
        if not one_side:
            pack_columns(da_hh[r0:r1], c0, c1, chunk_hh)
            add_column_sums(chunk_hh, r1 - r0, sums_hh)
        input_weight_grad(x, da, c0, chunk, r0, r1, dWT_ih, r0 == 0)
        h_chunk = h0[r0:r1].T if r0 < B else h_prev[r0 - B:r1 - B].T  # (transposed views)
        packed_product(h_chunk, chunk_hh, dWT_hh, r0 > 0)
        r0 = r1
    for q in range(n):  # (element by element: an array assignment compiles its error path)
        for k in range(D):
            dw_ih[c0 + q, k] = dWT_ih[k, q]
        for k in range(H):
            dw_hh[c0 + q, k] = dWT_hh[k, q]
        dbias[c0 + q] = sums[q]
        dbias_hh[c0 + q] = sums_hh[q]

