"""Input validation shared by the layers: one clear ``ValueError`` per mistake."""
import numpy as np
from numba import njit

from .kernels._jit import JIT_OPTIONS

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@njit(**JIT_OPTIONS)
def _all_finite(flat):
    for v in flat:
        if not np.isfinite(v):
            return False
    return True


def check_dtype(dtype):
    """The layer dtype as ``np.dtype``; float32 or float64 only."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in SUPPORTED_DTYPES:
        raise ValueError(f"dtype: got {dtype!r}, expected np.float32 or np.float64")
    return dt


def is_gpu_array(value):
    """A numba device array (also the simulator's) or any ``__cuda_array_interface__`` object."""
    return bool(getattr(value, "__cuda_ndarray__", False)
                or hasattr(value, "__cuda_array_interface__"))


def as_float_array(name, value, dtype):
    """``value`` as a C-contiguous array of ``dtype``; floating-point input only.

    Other float widths are converted; integers, booleans and complex numbers are
    refused, since they are almost always a mistake (token ids instead of
    embeddings, say).
    """
    if is_gpu_array(value):
        raise ValueError(f"{name}: got a GPU array, expected a host (NumPy) array here "
                         "(a layer on the CPU takes host arrays; move it with layer.to('cuda'))")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # e.g. a torch tensor that requires grad
        raise ValueError(f"{name}: cannot be read as an array ({exc})") from None
    if arr.dtype.kind != "f":
        raise ValueError(f"{name}: got dtype {arr.dtype}, expected floating point "
                         f"(the layer computes in {np.dtype(dtype).name})")
    return np.ascontiguousarray(arr, dtype=dtype)


def check_shape(name, arr, expected, meaning):
    """``expected`` is a tuple of ints; ``meaning`` names the axes, e.g. '(T, B, input_size)'."""
    if arr.shape != tuple(expected):
        raise ValueError(f"{name}: got shape {arr.shape}, expected {tuple(expected)} {meaning}")


def check_finite(name, arr):
    if not _all_finite(arr.reshape(-1)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name}: contains a non-finite value (NaN or inf) at index "
                         f"{tuple(int(i) for i in bad)}; expected only finite numbers")


def check_tokens(name, value, vocab_size):
    """``value`` as an integer array of token ids, each in [0, vocab_size)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: got dtype {arr.dtype}, expected integer token ids")
    if arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        raise ValueError(f"{name}: token ids must lie in [0, {vocab_size}); got values from "
                         f"{arr.min()} to {arr.max()}")
    return arr


def as_seed_sequence(seed):
    """``seed`` (None, an int, or a ``SeedSequence``) as a ``np.random.SeedSequence``."""
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
