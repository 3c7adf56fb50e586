"""Synchronisation between threads that run compiled code side by side.

numba has no atomics on the CPU, and a plain load in a spin loop may be hoisted
out of it by LLVM.  ``load_acquire`` and ``store_release`` emit LLVM's atomic
load and store with acquire/release ordering, which is all a barrier between
two or more threads needs (on x86 they compile to ordinary moves, but the
compiler may no longer cache or reorder them).
"""
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ._jit import HELPER_OPTIONS

# one counter per thread, a cache line apart, so that spinning on one does not
# stall the writes to another
COUNTER_STRIDE = 8


def _item_pointer(context, builder, signature, args):
    aryty = signature.args[0]
    ary = context.make_array(aryty)(context, builder, args[0])
    ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])
    return ptr, context.get_abi_alignment(context.get_data_type(aryty.dtype))


@intrinsic
def load_acquire(typingctx, arr, index):
    """``arr[index]``, read as an atomic load with acquire ordering."""
    def codegen(context, builder, signature, args):
        ptr, align = _item_pointer(context, builder, signature, args)
        return builder.load_atomic(ptr, "acquire", align)
    return arr.dtype(arr, index), codegen


@intrinsic
def store_release(typingctx, arr, index, value):
    """``arr[index] = value``, written as an atomic store with release ordering."""
    def codegen(context, builder, signature, args):
        ptr, align = _item_pointer(context, builder, signature, args)
        builder.store_atomic(args[2], ptr, "release", align)
        return context.get_dummy_value()
    return types.void(arr, index, arr.dtype), codegen


@intrinsic
def yield_core(typingctx):
    """``sched_yield()``: let another runnable thread have this core (libc's, by name,
    so that the compiled code stays cacheable)."""
    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []),
                                            "sched_yield")
        builder.call(fn, [])
        return context.get_dummy_value()
    return types.void(), codegen


# Spins before a waiting thread starts to yield its core: about 10 microseconds,
# well above a step's imbalance, well below a scheduler time slice.
SPINS_BEFORE_YIELD = 1 << 12


@njit(**HELPER_OPTIONS)
def arrive(counters, part, seq):
    """Tell the other threads that this one (``part``) has reached barrier number ``seq``
    (the first half of ``barrier``: what it wrote before is visible to a thread that
    then ``wait_for`` s the same number)."""
    store_release(counters, part * COUNTER_STRIDE, seq)


@njit(**HELPER_OPTIONS)
def wait_for(counters, parts, seq):
    """Wait until every one of ``parts`` threads has arrived at barrier number ``seq``
    (the second half of ``barrier``).  A thread that has waited ``SPINS_BEFORE_YIELD``
    spins yields its core at every further spin.  One thread: returns at once."""
    if parts == 1:
        return
    for other in range(parts):
        spins = 0
        while load_acquire(counters, other * COUNTER_STRIDE) < seq:
            # a partner that waits for a core (another process, a BLAS or OpenMP pool
            # spinning on it) gets one soon, instead of after this thread's time slice
            spins += 1
            if spins > SPINS_BEFORE_YIELD:
                yield_core()


@njit(**HELPER_OPTIONS)
def barrier(counters, part, parts, seq):
    """Wait until every one of ``parts`` threads has reached barrier number ``seq``.

    ``counters`` is an int64 array of ``parts * COUNTER_STRIDE`` zeros, shared by
    the threads; each thread calls with its own ``part`` and the same increasing
    ``seq`` (1, 2, 3, ...).  One thread: returns at once.  Work that needs nothing
    from the others may go between ``arrive`` and ``wait_for`` instead, in the time
    a thread would otherwise spend waiting.
    """
    if parts == 1:
        return
    arrive(counters, part, seq)
    wait_for(counters, parts, seq)
