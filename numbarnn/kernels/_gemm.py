"""The products after the backward time loop, shared by every cell: BLAS GEMMs in blocks.

After the loop, ``dgates`` (T, B, G H) holds every step's pre-activation
gradients ``da``, and the input and weight gradients are large products::

    dx = da W_ih,   dW_ih = da^T x,   dW_hh = da^T [h0; h_1 .. h_{T-1}],   dbias = sum da

They are computed in fixed blocks (``ROW_BLOCK`` rows of ``dx``,
``GATE_BLOCK`` rows of the weight gradients), each one BLAS call on one thread
(``blas_gemm``, which takes sub-matrices in place, transposed or not, so no
block is copied); the parts of a threaded call share out the blocks.  A block's
result does not depend on who computes it, so any number of threads gives the
same bits, and no BLAS thread pool is woken to spin on the cores the time loop
shares.

The input ``x`` of a layer is either a float (T, B, D) sequence or a (T, B)
integer array of token ids, which stands for the one-hot sequence of width
D = ``w_ih.shape[1]``.  For tokens, the weight gradient of ``W_ih`` is a
scatter-add (and the input projection a row lookup, ``_parts.project_part``):
no products with a matrix that is almost all zeros.  ``input_weight_grad``
picks the form at compile time from the type of ``x``.
"""
import numpy as np
from llvmlite import ir
from numba import njit, types, uint64
from numba.core import cgutils
from numba.extending import intrinsic, overload
from numba.np.linalg import ensure_blas

from ._jit import JIT_OPTIONS

ensure_blas()  # numba's BLAS entry point calls SciPy's

ROW_BLOCK = 1024  # rows of dx per block
GATE_BLOCK = 128  # rows of dW_ih, dW_hh per block


@intrinsic
def blas_gemm(typingctx, a, transpose_a, b, transpose_b, c, accumulate):
    """``c = op(a) @ op(b)`` (``+ c`` with ``accumulate``), op = transpose or not.

    Any 2-D arrays or views whose rows are contiguous (a column slice of a C
    array is fine: its row stride is BLAS's leading dimension).  Calls numba's
    own BLAS entry point, the one ``np.dot`` uses, with the sub-matrices in place.
    """
    def codegen(context, builder, signature, args):
        a_ty, _, b_ty, _, c_ty, _ = signature.args
        arrays = [context.make_array(ty)(context, builder, arg)
                  for ty, arg in ((a_ty, args[0]), (b_ty, args[2]), (c_ty, args[4]))]
        intp = context.get_value_type(types.intp)
        char = ir.IntType(8)
        itemsize = ir.Constant(intp, context.get_abi_sizeof(context.get_data_type(c_ty.dtype)))

        def leading(arr):  # elements between rows, at least one row's length (BLAS checks)
            rows, cols = cgutils.unpack_tuple(builder, arr.shape, 2)
            stride = builder.sdiv(cgutils.unpack_tuple(builder, arr.strides, 2)[0], itemsize)
            wide = builder.icmp_signed(">", stride, cols)
            ld = builder.select(wide, stride, cols)
            one = ir.Constant(intp, 1)
            return builder.select(builder.icmp_signed(">", ld, one), ld, one)

        A, Bm, C = arrays
        m, n = cgutils.unpack_tuple(builder, C.shape, 2)
        a_rows, a_cols = cgutils.unpack_tuple(builder, A.shape, 2)
        k = builder.select(args[1], a_rows, a_cols)

        def flag(transposed):
            return builder.select(transposed, ir.Constant(char, ord("t")), ir.Constant(char, ord("n")))

        dtype = c_ty.dtype
        alpha = cgutils.alloca_once_value(builder, context.get_constant(dtype, 1.0))
        beta = cgutils.alloca_once_value(builder, builder.select(
            args[5], context.get_constant(dtype, 1.0), context.get_constant(dtype, 0.0)))
        voidp = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.IntType(32), [char, char, char, intp, intp, intp, voidp, voidp,
                                                intp, voidp, intp, voidp, voidp, intp])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        kind = ir.Constant(char, ord("s" if dtype == types.float32 else "d"))
        # BLAS is column-major: the row-major c = op(a) op(b) is c^T = op(b)^T op(a)^T
        nonempty = builder.and_(builder.icmp_signed(">", m, ir.Constant(intp, 0)),
                                builder.icmp_signed(">", n, ir.Constant(intp, 0)))
        with builder.if_then(nonempty):
            builder.call(fn, [kind, flag(args[3]), flag(args[1]), n, m, k,
                              builder.bitcast(alpha, voidp), builder.bitcast(Bm.data, voidp),
                              leading(Bm), builder.bitcast(A.data, voidp), leading(A),
                              builder.bitcast(beta, voidp), builder.bitcast(C.data, voidp),
                              leading(C)])
        return context.get_dummy_value()

    return types.void(a, transpose_a, b, transpose_b, c, accumulate), codegen


def input_weight_grad(x, da, c0, c1, dw_ih):
    """``dw_ih[c0:c1] = da[:, c0:c1]^T x`` with ``da`` (T B, G H); compiled use only."""
    raise NotImplementedError


def is_tokens(x):
    """Whether the numba type of ``x`` is a (T, B) integer array of token ids."""
    return isinstance(x, types.Array) and x.ndim == 2 and isinstance(x.dtype, types.Integer)


@overload(input_weight_grad, jit_options=JIT_OPTIONS)
def _input_weight_grad(x, da, c0, c1, dw_ih):
    if is_tokens(x):
        def scatter(x, da, c0, c1, dw_ih):
            D, m = dw_ih.shape[1], c1 - c0
            rows = np.zeros(D * m, dtype=da.dtype)  # one contiguous row per token
            tokens, grads = x.reshape(x.size), da.reshape(da.size)
            for r in range(tokens.size):
                dst, src = uint64(tokens[r] * m), uint64(r * da.shape[1] + c0)
                for q in range(uint64(m)):
                    rows[dst + q] += grads[src + q]
            dw_ih[c0:c1] = rows.reshape(D, m).T
        return scatter

    def product(x, da, c0, c1, dw_ih):
        T, B, D = x.shape
        blas_gemm(da[:, c0:c1], True, x.reshape(T * B, D), False, dw_ih[c0:c1], False)
    return product


@njit(**JIT_OPTIONS)
def input_and_weight_grads_part(part, parts, x, h0, out, w_ih, dgates, dx, dw_ih, dw_hh, dbias):
    """After the time loop: dx, dW_ih, dW_hh and the bias gradient (overwritten), or
    part ``part`` of ``parts`` of them: every ``parts``-th block.

    Shared by every cell: ``dgates`` is (T, B, G H).  A ``dx`` of shape (0, B, D)
    skips the input gradient (token inputs have none).
    """
    T, B = x.shape[0], x.shape[1]
    H = out.shape[2]
    GH = dgates.shape[2]
    da = dgates.reshape(T * B, GH)
    if dx.shape[0] == T:  # an empty dx: the caller needs no input gradient
        dx_rows = dx.reshape(T * B, dx.shape[2])
        for r0 in range((part * ROW_BLOCK), T * B, parts * ROW_BLOCK):
            r1 = min(T * B, r0 + ROW_BLOCK)
            blas_gemm(da[r0:r1], False, w_ih, False, dx_rows[r0:r1], False)
    h_rest = out[:T - 1].reshape((T - 1) * B, H)  # h_{t-1} for t >= 1; the first is h0
    for c0 in range(part * GATE_BLOCK, GH, parts * GATE_BLOCK):
        c1 = min(GH, c0 + GATE_BLOCK)
        input_weight_grad(x, da, c0, c1, dw_ih)
        blas_gemm(da[:B, c0:c1], True, h0, False, dw_hh[c0:c1], False)
        if T > 1:
            blas_gemm(da[B:, c0:c1], True, h_rest, False, dw_hh[c0:c1], True)
        sums = np.zeros(c1 - c0, dgates.dtype)
        grads = dgates.reshape(dgates.size)  # (flat, unsigned: see _parts)
        for r in range(T * B):
            src = uint64(r * GH + c0)
            for q in range(uint64(c1 - c0)):
                sums[q] += grads[src + q]
        dbias[c0:c1] = sums
