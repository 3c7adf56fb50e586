"""Views of C-contiguous arrays under another shape, without ``reshape``.

numba's ``reshape`` compiles the formatting of its error message (a shape
mismatch) into every caller: several seconds of a cold start, for a check that
the kernels never need, since they only view whole C-contiguous arrays.  These
views share the array's memory and keep it alive, as ``reshape`` does.
"""
from numba import types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array


def _view(context, builder, src_ty, src_value, out_ty, shape):
    src = make_array(src_ty)(context, builder, src_value)
    out = make_array(out_ty)(context, builder)
    itemsize = src.itemsize
    strides, stride = [], itemsize
    for extent in reversed(shape):
        strides.insert(0, stride)
        stride = builder.mul(stride, extent)
    populate_array(out, data=src.data, shape=shape, strides=strides, itemsize=itemsize,
                   meminfo=src.meminfo, parent=src.parent)
    return impl_ret_borrowed(context, builder, out_ty, out._getvalue())


@intrinsic
def flat(typingctx, a):
    """The C-contiguous array ``a`` as a 1-D view of all its elements."""
    out_ty = types.Array(a.dtype, 1, "C", readonly=not a.mutable)

    def codegen(context, builder, signature, args):
        src = make_array(a)(context, builder, args[0])
        size = cgutils.unpack_tuple(builder, src.shape, a.ndim)
        total = size[0]
        for extent in size[1:]:
            total = builder.mul(total, extent)
        return _view(context, builder, a, args[0], out_ty, [total])
    return out_ty(a), codegen


@intrinsic
def as_matrix(typingctx, a, rows, cols):
    """The first ``rows * cols`` elements of the C-contiguous ``a`` as a (rows, cols) view
    (the caller makes sure that ``a`` has them)."""
    out_ty = types.Array(a.dtype, 2, "C", readonly=not a.mutable)

    def codegen(context, builder, signature, args):
        return _view(context, builder, a, args[0], out_ty, [args[1], args[2]])
    return out_ty(a, rows, cols), codegen
