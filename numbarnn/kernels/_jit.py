"""Compilation options and element-wise activations shared by every CPU kernel.

Two facts about this machine class drive the choices here:

* numba's default ``error_model='python'`` guards every division with a
  zero check, which stops LLVM from vectorising the loop; ``'numpy'`` does not.
* The llvmlite wheels carry no SVML, so ``math.tanh``/``math.exp`` stay scalar
  library calls of 70-100 ns per element.  In float32 we therefore use a
  rational approximation of tanh (plain multiply/add/divide, which vectorises)
  accurate to about 4e-7, and derive the sigmoid from it.  float64 keeps the
  exact library functions so that it agrees with a reference to ~1e-12.  The
  softmaxes (the loss, the sampler) take ``exp``: a polynomial and an exponent
  written into the float's bits, within an ulp in both dtypes, vectorised.

And one about numba: it compiles a function again for every literal argument a
caller passes it (a constant 4 is typed ``Literal[int](4)``, not int64).  The
kernels therefore pass constants to shared helpers as ``np.int64(...)``, so that
the cells share one compiled helper (and the token input's path shares the float
input's): the four float32 kernels' cold compile took 10.6-11.3 against 11.8-11.9 s,
measured alternating (and, with half of these changes, 11.4-12.1 against 12.8-13.3
s in a slower hour).
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types, uint64
from numba.core import cgutils
from numba.extending import intrinsic, overload

# 'contract' fuses multiply-adds.  No 'nnan'/'ninf': non-finite values must propagate,
# not be assumed away.  No 'reassoc' in the kernels: it lets LLVM order a loop's sums
# one way in its vector body and another in its remainder, so that a unit's result
# depended on where a thread's share of the units began (seen in the GRU on the AMD machines).
FASTMATH = {"nsz", "contract", "arcp"}
JIT_OPTIONS = dict(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
# Helpers that only compiled code calls: numba would otherwise generate, optimise and
# compile to machine code, for every one of them, the wrappers through which Python and C
# call a function (3 of the 19 s that the four float32 kernels took to compile cold).
HELPER_OPTIONS = dict(JIT_OPTIONS, no_cpython_wrapper=True, no_cfunc_wrapper=True)
# A reduction over whole arrays on one thread (a gradient norm) may reassociate: LLVM
# then vectorises the sum (24 times faster over 550,000 float32 values).
REDUCTION_OPTIONS = dict(JIT_OPTIONS, fastmath=FASTMATH | {"reassoc"})

# tanh(x) ~= x P(x^2) / Q(x^2) on |x| <= 9, a minimax fit made for this package
# (max abs error 4.2e-7 evaluated in float32); beyond 9, float32 tanh is +-1.
_CLAMP = np.float32(9.0)
_P0, _P1, _P2, _P3, _P4 = (np.float32(1.0), np.float32(0.13352013), np.float32(0.0034610133),
                           np.float32(2.004453e-05), np.float32(1.259771e-08))
_Q0, _Q1, _Q2, _Q3, _Q4 = (np.float32(1.0), np.float32(0.46685347), np.float32(0.02574565),
                           np.float32(0.00032291625), np.float32(7.460559e-07))


@njit(**HELPER_OPTIONS)
def tanh_f32(x):
    """Rational float32 tanh (|error| <= 4.2e-7); vectorises, unlike ``math.tanh``."""
    x = min(max(x, -_CLAMP), _CLAMP)
    s = x * x
    p = (((_P4 * s + _P3) * s + _P2) * s + _P1) * s + _P0
    q = (((_Q4 * s + _Q3) * s + _Q2) * s + _Q1) * s + _Q0
    return x * p / q


def tanh(x):
    """tanh for kernels: rational in float32, exact ``math.tanh`` in float64."""
    return math.tanh(x)


def sigmoid(x):
    """Logistic sigmoid for kernels, with the same float32/float64 split as ``tanh``."""
    return 1.0 / (1.0 + math.exp(-x))


@overload(tanh, jit_options=HELPER_OPTIONS)
def _tanh_typed(x):
    if x == types.float32:
        return lambda x: tanh_f32(x)
    return lambda x: math.tanh(x)


@overload(sigmoid, jit_options=HELPER_OPTIONS)
def _sigmoid_typed(x):
    if x == types.float32:
        half = np.float32(0.5)
        return lambda x: half + half * tanh_f32(half * x)
    return lambda x: 1.0 / (1.0 + math.exp(-x))


@intrinsic
def _pow2(typingctx, n, like):
    """``2.0 ** n`` in the float type of ``like``, written into the exponent bits: n (int64)
    must be a normal exponent (-1022..1023 in float64, -126..127 in float32)."""
    if not (isinstance(n, types.Integer) and isinstance(like, types.Float)):
        return None

    def codegen(context, builder, signature, args):
        bits = like.bitwidth
        mantissa, bias = (52, 1023) if bits == 64 else (23, 127)
        ty = ir.IntType(bits)
        exponent = args[0] if bits == 64 else builder.trunc(args[0], ty)
        biased = builder.shl(builder.add(exponent, ir.Constant(ty, bias)),
                             ir.Constant(ty, mantissa))
        return builder.bitcast(biased, context.get_value_type(like))
    return like(n, like), codegen


# exp(x) = 2^n e^r, n = round(x / ln 2), r = x - n ln 2 in two parts (|r| <= ln 2 / 2), e^r
# by a polynomial; 2^n is taken as 2 * 2^(n - 1), so that n may reach the largest exponent
# plus one.  x is clamped to [_LO, _HI]: above, inf (the last few finite results, from
# exp(88.72) to FLT_MAX in float32, are lost); below, 0 (results under 2^(lowest exponent
# + 1), normal or not).  The softmaxes' arguments are <= 0.
_LOG2E = 1.4426950408889634
# float32: Cephes' expf polynomial (Moshier), within 0.6 ulp
_LO32, _HI32 = np.float32(-86.64), np.float32(88.72)
_C1_32, _C2_32 = np.float32(0.693359375), np.float32(-2.12194440e-4)
_E0, _E1, _E2, _E3, _E4, _E5 = (np.float32(1.9875691500e-4), np.float32(1.3981999507e-3),
                                np.float32(8.3334519073e-3), np.float32(4.1665795894e-2),
                                np.float32(1.6666665459e-1), np.float32(5.0000001201e-1))
# float64: e^r by its Taylor series to r^13 (|r| <= 0.347: the rest is below 2e-16), within 1 ulp
_LO64, _HI64 = -707.7, 709.78
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_TAYLOR = tuple(1.0 / math.factorial(k) for k in range(13, -1, -1))


@njit(**HELPER_OPTIONS)
def exp_f32(x):
    """exp for float32 that vectorises (within 0.6 ulp; below 2.4e-38, 0)."""
    y = min(max(x, _LO32), _HI32)
    n = math.floor(y * np.float32(_LOG2E) + np.float32(0.5))
    r = (y - n * _C1_32) - n * _C2_32
    p = ((((_E0 * r + _E1) * r + _E2) * r + _E3) * r + _E4) * r + _E5
    e = (p * (r * r) + r + np.float32(1)) * _pow2(np.int64(n) - 1, y) * np.float32(2)
    e = np.float32(0) if x < _LO32 else e
    e = np.float32(np.inf) if x > _HI32 else e
    return x if x != x else e


@njit(**HELPER_OPTIONS)
def exp_f64(x):
    """exp for float64 that vectorises (within 1 ulp; below 4.5e-308, 0)."""
    y = min(max(x, _LO64), _HI64)
    n = math.floor(y * _LOG2E + 0.5)
    r = (y - n * _LN2_HI) - n * _LN2_LO
    p = 0.0
    for c in _TAYLOR:
        p = p * r + c
    e = p * _pow2(np.int64(n) - 1, y) * 2.0
    e = 0.0 if x < _LO64 else e
    e = math.inf if x > _HI64 else e
    return x if x != x else e


def exp(x):
    """exp for the softmaxes: ``exp_f32`` or ``exp_f64`` by the argument's type."""
    return math.exp(x)


@overload(exp, jit_options=HELPER_OPTIONS)
def _exp_typed(x):
    if x == types.float32:
        return lambda x: exp_f32(x)
    return lambda x: exp_f64(x)


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` with one rounding (``llvm.fma``), three float32 or three float64.

    For a sum of two products, ``x * y + z * w``: allowed to fuse ('contract'), LLVM
    may fuse either product, and vectorised code and the scalar loop after it chose
    differently, so a unit's bits depended on where a thread's share began.
    """
    if not (a == b == c and isinstance(a, types.Float)):
        return None

    def codegen(context, builder, signature, args):
        ty = context.get_value_type(signature.return_type)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ty, [ty] * 3),
                                            f"llvm.fma.f{a.bitwidth}")
        return builder.call(fn, args)
    return a(a, b, c), codegen


@intrinsic
def prefetch_for_write(typingctx, arr, index):
    """Ask the CPU to bring the cache line of ``arr[index]`` (a 1-D array, index not
    checked) for writing: ``llvm.prefetch``, a hint that never faults."""
    if not (isinstance(arr, types.Array) and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.bitcast(builder.gep(ary.data, [args[1]]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32]),
            "llvm.prefetch.p0")
        # (write, keep in every cache level, data)
        builder.call(fn, [ptr, ir.Constant(i32, 1), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return types.void(arr, index), codegen


@njit(**HELPER_OPTIONS)
def prefetch_run(a, at, n):
    """``prefetch_for_write`` every cache line of ``a[at:at + n]`` (flat ``a``, n >= 1; the
    last element's too, for a run that does not start on a line)."""
    line = uint64(64 // a.itemsize)
    for j in range(uint64(0), uint64(n), line):
        prefetch_for_write(a, uint64(at) + j)
    prefetch_for_write(a, uint64(at + n - 1))


# all_finite's block: long enough for its count to vectorise, short enough to stop soon
FINITE_BLOCK = 1024


@njit(**REDUCTION_OPTIONS)
def all_finite(flat):
    """Whether every element of the 1-D float array ``flat`` is finite, block by block:
    ``x * 0`` is 0 for a finite ``x`` and NaN for NaN and inf, so a block's sum of them is
    0 or NaN.  (The flags leave out 'nnan' and 'ninf', so LLVM may not fold ``x * 0`` to
    0; 'reassoc' lets it vectorise the sum; unsigned indices need no wraparound test.)"""
    n = flat.size
    for start in range(0, n, FINITE_BLOCK):
        total = flat[start] * 0
        for k in range(uint64(start + 1), uint64(min(start + FINITE_BLOCK, n))):
            total += flat[k] * 0
        if total != 0:
            return False
    return True


def is_tokens(x):
    """Whether the numba type ``x`` is a (T, B) integer array of token ids (for overloads
    that pick the one-hot form of an input at compile time)."""
    return isinstance(x, types.Array) and x.ndim == 2 and isinstance(x.dtype, types.Integer)
