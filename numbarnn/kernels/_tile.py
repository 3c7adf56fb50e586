"""The matrix product inside the time loops: a register-blocked tile, in LLVM IR.

Every product a CPU time loop runs per step has the form ``out = a @ w``, where
``a`` (B, K) is a batch of rows (the previous hidden state, or the gate
gradients) and ``w`` (K, R) is one thread's own slice of a weight, packed once
per call::

    out[b, r] = sum_k a[b, k] * w[k, r]

``packed_product`` walks ``out`` in tiles of ``ROWS`` batch rows by ``VECTORS``
SIMD vectors of columns.  A tile's ``ROWS x VECTORS`` accumulators live in
registers for the whole sum over k; each k costs ``VECTORS`` vector loads of
``w``, ``ROWS`` broadcasts of ``a`` and ``ROWS x VECTORS`` fused multiply-adds.
numba's loop vectoriser does not produce this (it keeps the accumulators in
memory, or vectorises the sum over k and pays a horizontal sum per element), so
``product_tile`` writes the loop directly in LLVM IR with explicit vector types
and ``llvm.fma``; LLVM then only allocates registers.

The packed layout is a (panels, K, ``tile_columns``) array: panel p holds
columns ``p * tile_columns`` onwards of every row k, one after the other, so a
tile reads one contiguous stream.  (With the plain (K, R) layout the rows a tile
reads lie R elements apart; at R = 256 float32 that is 1 KiB, which maps them
onto a few sets of the L1 cache, where they evict each other: 143 to 169 against
222 GFLOP/s on one core for a (64, 256) by (256, 256) product on this project's
AMD machines.)  Columns past R in the last panel are zeros.

Why not BLAS: a (16, 64) by (64, 128) product is a 2-3 microsecond call, and
its result depends on where a column sits in BLAS's own blocking, so two
threads that each multiply their half of the weight would not reproduce one
thread's bits.  Here every element is one chain of fused multiply-adds over
k = 0, 1, ..., K-1 from zero, whatever tile, thread or column it falls in:
results are bit-identical for any number of threads.

A product goes over k in chunks (``K_CHUNK``), so that the slice of a panel
that every batch tile reads again stays in the cache; the next chunk's sums go
on from the stored partial sums, which changes nothing in the result.

Shapes: ``out`` has exactly the R columns wanted (the tile stores only those)
and any row stride; K is ``a.shape[1]``, and ``w`` may hold more rows than that
(the rest are never read); rows of ``a`` past B are never read either, and ``a``
may be a transposed view (the weight gradients' ``x^T da``).
"""
import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import njit, types, uint64
from numba.core import cgutils
from numba.extending import intrinsic

from ._jit import JIT_OPTIONS
from ._views import flat

llvm.initialize_native_target()


def vector_bytes(features):
    """The tile's vector width in bytes for a CPU of ``features`` (llvmlite's feature map:
    ``{name: bool}``): 512-bit vectors where the CPU has AVX-512 (32 vector registers),
    else 256-bit (16 registers).

    The map's flat form lists every feature, '+avx512f' or '-avx512f': read as a
    substring, it had given AVX2 machines 512-bit tiles, which LLVM split into pairs
    that spilled (30 against 88 GFLOP/s on a Zen 3 core)."""
    return 64 if features.get("avx512f", False) else 32


VECTOR_BYTES = vector_bytes(llvm.get_host_cpu_features())
# A tile's accumulators use half of the 32 registers, or 12 of the 16: with AVX2 a 4 by 3
# tile against 4 by 2 on a Zen 3 core, medians of three alternating processes, took the
# LSTM's gradient products after the loop from 177 to 149 ms at B = 64, D = H = 512 and
# from 55 to 51 ms at D = 128, H = 256, inference the same (81 ms; 33 -> 34 ms); 6 by 2:
# 159 and 54 ms, inference 83 and 35 ms.
ROWS = 4
VECTORS = 4 if VECTOR_BYTES == 64 else 3


@njit(**JIT_OPTIONS)
def tile_columns(itemsize):
    """Columns of one tile: ``VECTORS`` vectors of ``VECTOR_BYTES // itemsize`` lanes."""
    return VECTORS * (VECTOR_BYTES // itemsize)


def _masked(builder, name, vec, left):
    """The ``llvm.masked.*`` intrinsic ``name`` for ``vec``, and the mask of the lanes
    below ``left`` (a runtime count: all lanes when it is ``lanes`` or more)."""
    i64 = ir.IntType(64)
    lanes = vec.count
    suffix = "f32" if vec.element == ir.FloatType() else "f64"
    mask_ty = ir.VectorType(ir.IntType(1), lanes)
    if name == "store":
        fnty = ir.FunctionType(ir.VoidType(), [vec, vec.as_pointer(), ir.IntType(32), mask_ty])
    else:
        fnty = ir.FunctionType(vec, [vec.as_pointer(), ir.IntType(32), mask_ty, vec])
    fn = cgutils.get_or_insert_function(builder.module, fnty,
                                        f"llvm.masked.{name}.v{lanes}{suffix}.p0")
    splat = builder.shuffle_vector(
        builder.insert_element(ir.Constant(ir.VectorType(i64, lanes), None), left,
                               ir.Constant(ir.IntType(32), 0)),
        ir.Constant(ir.VectorType(i64, lanes), None),
        ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes))
    mask = builder.icmp_signed("<", ir.Constant(ir.VectorType(i64, lanes), list(range(lanes))),
                               splat)
    return fn, mask


# Masked loads and stores only where a vector runs past R: AMD's masked stores are
# microcoded, and a tile's twelve took a tenth of its time at K = 256 on a Zen 3 core (the
# tile product on two cores 168 -> 184 GFLOP/s; the LSTM's training at B = 64, D = H = 512
# 272 -> 248 ms, medians of three processes).
def _move_sums(builder, name, vec, acc, ptr, left, whole, align):
    """'load': ``acc`` = the ``vec`` at ``ptr``, its lanes from ``left`` on as zeros;
    'store': the ``vec`` at ``ptr`` = ``acc`` in its lanes before ``left`` only.  A plain
    vector move where ``whole`` (the vector lies before R), else a masked one."""
    with builder.if_else(whole) as (plain, masked):
        with plain:
            if name == "load":
                builder.store(builder.load(ptr, align=4), acc)
            else:
                builder.store(builder.load(acc), ptr, align=4)
        with masked:
            move, mask = _masked(builder, name, vec, left)
            if name == "load":
                zeros = ir.Constant(vec, [0.0] * vec.count)
                builder.store(builder.call(move, [ptr, align, mask, zeros]), acc)
            else:
                builder.call(move, [builder.load(acc), ptr, align, mask])


def _tile(tile_rows, tile_panels=1):
    """The intrinsic for tiles of ``tile_rows`` batch rows by ``tile_panels`` panels of
    columns, side by side (``product_tile``: ``ROWS`` by 1)."""

    @intrinsic
    def product_tile(typingctx, a, w, out, b0, r0, k0, k1, accumulate):
        """``out[b0:b0+n, r0:r0+m] (+)= a[b0:b0+n, k0:k1] @ w[p:p+P, k0:k1]`` (the panels
        side by side) for ``n = tile_rows``, ``P = tile_panels``, ``m = P tile_columns``,
        ``p = r0 // tile_columns`` and a packed ``w`` (panels, K, tile_columns); every
        one of the P panels must exist.

        With ``accumulate`` the sums go on from what ``out`` holds (the next chunk
        of k), else they start from zero.  Rows past ``a.shape[0]`` and columns past
        ``out.shape[1]`` are left alone.  The rows of ``out`` must be contiguous, at
        any row stride (views of leading rows or columns are fine); ``a`` may have
        any strides (a transposed view reads n neighbouring elements per k);
        ``r0`` is a multiple of tile_columns.
        """
        lanes = VECTOR_BYTES * 8 // a.dtype.bitwidth
        vectors = VECTORS * tile_panels  # accumulators per row

        def codegen(context, builder, signature, args):
            a_ty, w_ty, out_ty = signature.args[:3]
            A = context.make_array(a_ty)(context, builder, args[0])
            W = context.make_array(w_ty)(context, builder, args[1])
            O = context.make_array(out_ty)(context, builder, args[2])
            b0, r0, k0, k1, accumulate = args[3:8]
            i64 = ir.IntType(64)
            B, K = cgutils.unpack_tuple(builder, A.shape, 2)
            R = cgutils.unpack_tuple(builder, O.shape, 2)[1]
            item = ir.Constant(i64, a.dtype.bitwidth // 8)
            out_stride = builder.sdiv(cgutils.unpack_tuple(builder, O.strides, 2)[0], item)
            panel_stride, w_stride = [builder.sdiv(stride, item) for stride in
                                      cgutils.unpack_tuple(builder, W.strides, 3)[:2]]
            scalar = context.get_data_type(a_ty.dtype)
            vec = ir.VectorType(scalar, lanes)
            suffix = "f32" if a_ty.dtype == types.float32 else "f64"
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec] * 3),
                                                 f"llvm.fma.v{lanes}{suffix}")
            zero_lanes = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)
            # rows past the batch read its last row (their sums are never stored)
            last = builder.sub(B, ir.Constant(i64, 1))
            rows, row_valid = [], []
            for i in range(tile_rows):
                b = builder.add(b0, ir.Constant(i64, i))
                row_valid.append(builder.icmp_signed("<", b, B))
                rows.append(builder.select(row_valid[-1], b, last))
            a_stride, a_k_stride = [builder.sdiv(stride, item)
                                    for stride in cgutils.unpack_tuple(builder, A.strides, 2)]
            a_rows = [builder.gep(A.data, [builder.mul(b, a_stride)]) for b in rows]
            panel = builder.sdiv(r0, ir.Constant(i64, lanes * VECTORS))
            w_cols = [builder.gep(W.data, [builder.mul(builder.add(panel, ir.Constant(i64, q)),
                                                       panel_stride)])
                      for q in range(tile_panels)]
            accs = [[cgutils.alloca_once_value(builder, ir.Constant(vec, [0.0] * lanes))
                     for _ in range(vectors)] for _ in range(tile_rows)]
            out_rows = [builder.gep(O.data, [builder.add(builder.mul(rows[i], out_stride), r0)])
                        for i in range(tile_rows)]
            align = ir.Constant(ir.IntType(32), a.dtype.bitwidth // 8)
            zeros = ir.Constant(vec, [0.0] * lanes)
            lefts = [builder.sub(R, builder.add(r0, ir.Constant(i64, j * lanes)))
                     for j in range(vectors)]
            whole = [builder.icmp_signed(">=", left, ir.Constant(i64, lanes)) for left in lefts]

            def sums_at(i, j):  # (row i's vector j of out)
                return builder.bitcast(builder.gep(out_rows[i], [ir.Constant(i64, j * lanes)]),
                                       vec.as_pointer())
            for i in range(tile_rows):  # alloca_once_value stores in the entry block: set per call
                for j in range(vectors):
                    builder.store(zeros, accs[i][j])
                    with builder.if_then(accumulate):  # the sums so far, lanes past R as zeros
                        _move_sums(builder, "load", vec, accs[i][j], sums_at(i, j), lefts[j],
                                   whole[j], align)
            with cgutils.for_range_slice(builder, k0, k1, ir.Constant(i64, 1)) as (k, _):
                w_k = [builder.gep(w_q, [builder.mul(k, w_stride)]) for w_q in w_cols]
                a_k = k if a_ty.layout == "C" else builder.mul(k, a_k_stride)
                w_vecs = [builder.load(builder.bitcast(
                    builder.gep(w_k[j // VECTORS], [ir.Constant(i64, j % VECTORS * lanes)]),
                    vec.as_pointer()), align=4) for j in range(vectors)]
                for i in range(tile_rows):
                    x = builder.load(builder.gep(a_rows[i], [a_k]))
                    x = builder.shuffle_vector(builder.insert_element(
                        ir.Constant(vec, None), x, ir.Constant(ir.IntType(32), 0)),
                        ir.Constant(vec, None), zero_lanes)
                    for j in range(vectors):
                        builder.store(builder.call(fma, [x, w_vecs[j], builder.load(accs[i][j])]),
                                      accs[i][j])
            for i in range(tile_rows):
                with builder.if_then(row_valid[i]):
                    for j in range(vectors):  # the lanes before R only
                        _move_sums(builder, "store", vec, accs[i][j], sums_at(i, j), lefts[j],
                                   whole[j], align)
            return context.get_dummy_value()

        return types.void(a, w, out, b0, r0, k0, k1, accumulate), codegen

    return product_tile


product_tile = _tile(ROWS)
product_row = _tile(1)  # one row: a quarter of product_tile's multiply-adds at B = 1
# A row's sums over k are chains of dependent multiply-adds, one per vector of columns:
# one panel's VECTORS chains keep the FMA units a quarter busy.  ROW_PANELS panels at
# once give a row as many independent chains as a whole tile has (the sampler's
# (1, 256) by (256, 512) product: 2.8 against 4.4 microseconds panel by panel).
ROW_PANELS = ROWS
product_wide_row = _tile(1, ROW_PANELS)


# Rows of a panel per pass: the slice every batch tile reads again, 64 KiB, from the L1 or
# L2 cache (AVX-512: 256 rows; 128 and 512 measured within a few per cent of it; AVX2 with
# 4 by 2 tiles on a Zen 3 core: 1024 rows, against 256 rows' 16 KiB, took the LSTM's
# inference at B = 64, D = H = 512 from 87.9 to 82.2 ms and its training from 342 to 305
# ms, medians of three alternating processes; at D = 128, H = 256 inference 35.2 -> 33.4,
# training 121 -> 124.  With the 4 by 3 tiles the same 64 KiB is 682 rows.)
K_CHUNK = 65536 // (VECTORS * VECTOR_BYTES)


@njit(**JIT_OPTIONS)
def packed_product(a, w, out, accumulate):
    """``out = a @ w`` (``+=`` with ``accumulate``) for ``a`` (B, K), packed ``w``
    (panels, >= K, tile_columns) holding R <= panels * tile_columns columns, ``out`` (B, R).

    Chunks of ``K_CHUNK`` rows outside, then panels, then batch tiles: a tile's
    slice of a panel is read once from memory and then from the L1 cache for
    every batch tile.  One or two rows left over after whole tiles go one by one,
    ``ROW_PANELS`` panels at a time, then panel by panel (a tile would compute rows
    that are not there).  The chunks depend on K only, and a row's sums are the same
    chain in every kind of tile, so each sum still runs over k in the same order
    everywhere.
    """
    B, R = out.shape
    K = a.shape[1]
    step = tile_columns(a.itemsize)
    tiled = B if B % ROWS > ROWS // 2 else B - B % ROWS  # (rows past it: one by one)
    for k0 in range(0, max(K, 1), K_CHUNK):
        k1 = min(K, k0 + K_CHUNK)
        for r0 in range(0, R, step):
            for b0 in range(0, tiled, ROWS):
                product_tile(a, w, out, b0, r0, k0, k1, accumulate or k0 > 0)
        for b in range(tiled, B):
            wide = R // (step * ROW_PANELS) * step * ROW_PANELS  # (the rest: panel by panel)
            for r0 in range(0, wide, step * ROW_PANELS):
                product_wide_row(a, w, out, b, r0, k0, k1, accumulate or k0 > 0)
            for r0 in range(wide, R, step):
                product_row(a, w, out, b, r0, k0, k1, accumulate or k0 > 0)


@njit(**JIT_OPTIONS)
def panels(R, itemsize):
    """How many panels (whole tiles of columns) hold R columns."""
    step = tile_columns(itemsize)
    return (R + step - 1) // step


@njit(**JIT_OPTIONS)
def empty_packed(K, R, like):
    """An uninitialised packed array for K rows of R columns, of ``like``'s dtype:
    (panels, K, tile_columns)."""
    return np.empty((panels(R, like.itemsize), K, tile_columns(like.itemsize)), like.dtype)


# Rows of a panel that pack_transposed_rows fills per pass over the panel's columns.
PACK_BLOCK = 16


@njit(**JIT_OPTIONS)
def pack_transposed_rows(w, rows, out, k0):
    """Rows ``k0:k0+K`` of the packed ``out`` = ``w[rows].T`` (``w`` (., K)), with zeros
    in the padding columns.

    A panel is filled ``PACK_BLOCK`` rows at a time, column by column: each column
    reads a short contiguous piece of one row of ``w``.  (Reading one element of every
    column's row per packed row read lines K elements apart, which at K = 512 float32
    fall into two sets of the L1 cache: 1.1 against 0.3 ms for a thread's half of an
    LSTM's 512 by 2048 weights, twice.)  Flat unsigned indices, since the threads of
    a time loop pack from one shared weight at once (see ``_parts``).
    """
    K, R = w.shape[1], rows.size
    panels, rows_out, step = out.shape
    assert panels * step >= R and rows_out >= k0 + K
    src, dst = flat(w), flat(out)
    zero = out.dtype.type(0)
    for p in range(panels):
        for kb in range(0, K, PACK_BLOCK):
            n = uint64(min(PACK_BLOCK, K - kb))
            for j in range(step):
                q = p * step + j
                at = uint64((p * rows_out + k0 + kb) * step + j)
                if q < R:
                    frm = uint64(rows[q] * K + kb)
                    for i in range(n):
                        dst[at + i * uint64(step)] = src[frm + i]
                else:
                    for i in range(n):
                        dst[at + i * uint64(step)] = zero


@njit(**JIT_OPTIONS)
def pack_columns(w, u0, u1, out):
    """Rows ``0:len(w)`` of the packed ``out`` = ``w[:, u0:u1]``, with zeros in the padding
    columns (``w`` may be a view of leading rows)."""
    C = w.shape[1]
    panels, rows_out, step = out.shape
    src, dst = flat(w), flat(out)
    for p in range(panels):
        for k in range(w.shape[0]):
            at, frm = uint64((p * rows_out + k) * step), uint64(k * C + u0 + p * step)
            n = min(step, u1 - u0 - p * step)
            for j in range(uint64(n)):
                dst[at + j] = src[frm + j]
            for j in range(n, step):
                dst[at + uint64(j)] = 0
