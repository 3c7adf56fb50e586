"""The matrix product inside the time loops: a register-blocked tile, in LLVM IR.

Every product a CPU time loop runs per step has the form ``out = a @ w``, where
``a`` (B, K) is a batch of rows (the previous hidden state, or the gate
gradients) and ``w`` (K, R) is one thread's own packed slice of a weight,
laid out once per call so that its rows are contiguous::

    out[b, r] = sum_k a[b, k] * w[k, r]

``packed_product`` walks ``out`` in tiles of ``ROWS`` batch rows by ``VECTORS``
SIMD vectors of columns.  A tile's ``ROWS x VECTORS`` accumulators live in
registers for the whole sum over k; each k costs ``VECTORS`` vector loads of
``w``, ``ROWS`` broadcasts of ``a`` and ``ROWS x VECTORS`` fused multiply-adds.
numba's loop vectoriser does not produce this (it keeps the accumulators in
memory, or vectorises the sum over k and pays a horizontal sum per element), so
``product_tile`` writes the loop directly in LLVM IR with explicit vector types
and ``llvm.fma``; LLVM then only allocates registers.

Why not BLAS: a (16, 64) by (64, 128) product is a 2-3 microsecond call, and
its result depends on where a column sits in BLAS's own blocking, so two
threads that each multiply their half of the weight would not reproduce one
thread's bits.  Here every element is one chain of fused multiply-adds over
k = 0, 1, ..., K-1 from zero, whatever tile, thread or column it falls in:
results are bit-identical for any number of threads.

A product goes over k in chunks (``K_CHUNK``), so that the slice of ``w`` a
tile reads stays in the L1 cache; the next chunk's sums go on from the stored
partial sums, which changes nothing in the result.

Shapes: ``w`` has R_pad >= R columns, a multiple of ``tile_columns(dtype)``
(the padding is zeros); ``out`` has exactly the R columns wanted (the tile
stores only those) and any row stride; rows of ``a`` past B are never read.
"""
import llvmlite.binding as llvm
from llvmlite import ir
from numba import njit, types, uint64
from numba.core import cgutils
from numba.extending import intrinsic

from ._jit import JIT_OPTIONS
from ._views import flat

llvm.initialize_native_target()
# 512-bit vectors where the CPU has AVX-512 (32 vector registers), else 256-bit
# (16 registers); a tile's accumulators use half of them.
VECTOR_BYTES = 64 if "avx512f" in llvm.get_host_cpu_features().flatten() else 32
ROWS = 4
VECTORS = 4 if VECTOR_BYTES == 64 else 2


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


@intrinsic
def product_tile(typingctx, a, w, out, b0, r0, k0, k1, accumulate):
    """``out[b0:b0+ROWS, r0:r0+tile_columns] (+)= a[b0:b0+ROWS, k0:k1] @ w[k0:k1, r0:r0+tile_columns]``.

    With ``accumulate`` the sums go on from what ``out`` holds (the next chunk
    of k), else they start from zero.  Rows past ``a.shape[0]`` and columns past
    ``out.shape[1]`` are left alone.  Each array's rows must be contiguous, at
    any row stride (views of leading rows or columns are fine); ``w`` must hold
    whole tiles of columns.
    """
    lanes = VECTOR_BYTES * 8 // a.dtype.bitwidth

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
        w_stride = builder.sdiv(cgutils.unpack_tuple(builder, W.strides, 2)[0], item)
        scalar = context.get_data_type(a_ty.dtype)
        vec = ir.VectorType(scalar, lanes)
        suffix = "f32" if a_ty.dtype == types.float32 else "f64"
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec] * 3),
                                             f"llvm.fma.v{lanes}{suffix}")
        zero_lanes = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)
        # rows past the batch read its last row (their sums are never stored)
        last = builder.sub(B, ir.Constant(i64, 1))
        rows, row_valid = [], []
        for i in range(ROWS):
            b = builder.add(b0, ir.Constant(i64, i))
            row_valid.append(builder.icmp_signed("<", b, B))
            rows.append(builder.select(row_valid[-1], b, last))
        a_stride = builder.sdiv(cgutils.unpack_tuple(builder, A.strides, 2)[0], item)
        a_rows = [builder.gep(A.data, [builder.mul(b, a_stride)]) for b in rows]
        w_cols = builder.gep(W.data, [r0])
        accs = [[cgutils.alloca_once_value(builder, ir.Constant(vec, [0.0] * lanes))
                 for _ in range(VECTORS)] for _ in range(ROWS)]
        out_rows = [builder.gep(O.data, [builder.add(builder.mul(rows[i], out_stride), r0)])
                    for i in range(ROWS)]
        align = ir.Constant(ir.IntType(32), a.dtype.bitwidth // 8)
        zeros = ir.Constant(vec, [0.0] * lanes)
        lefts = [builder.sub(R, builder.add(r0, ir.Constant(i64, j * lanes)))
                 for j in range(VECTORS)]
        for i in range(ROWS):  # alloca_once_value stores in the entry block: set per call
            for j in range(VECTORS):
                builder.store(zeros, accs[i][j])
                with builder.if_then(accumulate):  # the sums so far, lanes past R as zeros
                    load, mask = _masked(builder, "load", vec, lefts[j])
                    ptr = builder.bitcast(builder.gep(out_rows[i], [ir.Constant(i64, j * lanes)]),
                                          vec.as_pointer())
                    builder.store(builder.call(load, [ptr, align, mask, zeros]), accs[i][j])
        with cgutils.for_range_slice(builder, k0, k1, ir.Constant(i64, 1)) as (k, _):
            w_k = builder.gep(w_cols, [builder.mul(k, w_stride)])
            w_vecs = [builder.load(builder.bitcast(builder.gep(w_k, [ir.Constant(i64, j * lanes)]),
                                                   vec.as_pointer()), align=4)
                      for j in range(VECTORS)]
            for i in range(ROWS):
                x = builder.load(builder.gep(a_rows[i], [k]))
                x = builder.shuffle_vector(builder.insert_element(
                    ir.Constant(vec, None), x, ir.Constant(ir.IntType(32), 0)),
                    ir.Constant(vec, None), zero_lanes)
                for j in range(VECTORS):
                    builder.store(builder.call(fma, [x, w_vecs[j], builder.load(accs[i][j])]),
                                  accs[i][j])
        for i in range(ROWS):
            with builder.if_then(row_valid[i]):
                for j in range(VECTORS):  # the lanes before R only
                    store, mask = _masked(builder, "store", vec, lefts[j])
                    ptr = builder.bitcast(builder.gep(out_rows[i], [ir.Constant(i64, j * lanes)]),
                                          vec.as_pointer())
                    builder.call(store, [builder.load(accs[i][j]), ptr, align, mask])
        return context.get_dummy_value()

    return types.void(a, w, out, b0, r0, k0, k1, accumulate), codegen


# Rows of ``w`` per pass: a tile's slice of them (32 KiB) stays in the L1 cache.
K_CHUNK = 128


@njit(**JIT_OPTIONS)
def packed_product(a, w, out, accumulate):
    """``out = a @ w[:, :R]`` (``+=`` with ``accumulate``) for ``a`` (B, K), packed
    ``w`` (K, R_pad), ``out`` (B, R).

    Chunks of ``K_CHUNK`` rows of ``w`` outside, then column tiles, then batch
    tiles: a tile's slice of a chunk is read once from memory and then from the
    L1 cache for every batch tile.  The chunks depend on K only, so each sum
    still runs over k in the same order everywhere.
    """
    B, R = out.shape
    K = a.shape[1]
    step = tile_columns(a.itemsize)
    for k0 in range(0, max(K, 1), K_CHUNK):
        k1 = min(K, k0 + K_CHUNK)
        for r0 in range(0, R, step):
            for b0 in range(0, B, ROWS):
                product_tile(a, w, out, b0, r0, k0, k1, accumulate or k0 > 0)


@njit(**JIT_OPTIONS)
def padded_columns(R, itemsize):
    """``R`` rounded up to whole tiles: the column count of a packed weight."""
    step = tile_columns(itemsize)
    return (R + step - 1) // step * step


@njit(**JIT_OPTIONS)
def pack_transposed_rows(w, rows, out):
    """``out[:, :len(rows)] = w[rows].T`` and zeros in the padding columns.

    Contiguous writes, gathered reads; flat unsigned indices, since the
    threads of a time loop pack from one shared weight at once (see ``_parts``).
    """
    K, R, R_pad = w.shape[1], rows.size, out.shape[1]
    assert out.shape[0] == K and R_pad >= R
    src, dst = flat(w), flat(out)
    for k in range(K):
        at = uint64(k * R_pad)
        for q in range(R):
            dst[at + uint64(q)] = src[uint64(rows[q] * K + k)]
        for q in range(R, R_pad):
            dst[at + uint64(q)] = 0


@njit(**JIT_OPTIONS)
def pack_columns(w, u0, u1, out):
    """``out[:, :u1-u0] = w[:, u0:u1]`` and zeros in the padding columns."""
    C, n, R_pad = w.shape[1], u1 - u0, out.shape[1]
    src, dst = flat(w), flat(out)
    for k in range(w.shape[0]):
        at, frm = uint64(k * R_pad), uint64(k * C + u0)
        for q in range(uint64(n)):
            dst[at + q] = src[frm + q]
        for q in range(n, R_pad):
            dst[at + uint64(q)] = 0

