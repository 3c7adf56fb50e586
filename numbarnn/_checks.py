"""Input validation shared by the library: one clear ``ValueError`` per mistake, worded
``name: got X, expected Y``.

Light to import (NumPy only): the configurations that the command line reads at
start-up use it; the one compiled check (``check_finite``) loads numba when first used.
"""
import math
import numbers
import os

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_int(name, value, low=1, expected=None):
    """``value`` as an ``int`` >= ``low``; booleans, floats and strings are refused.

    ``expected`` replaces the wording of what was expected.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        if expected is None:
            expected = {0: "a non-negative integer", 1: "a positive integer"}.get(
                low, f"an integer >= {low}")
        raise ValueError(f"{name}: got {value!r}, expected {expected}")
    return int(value)


def check_number(name, value, low=-math.inf, high=math.inf, low_open=False, high_open=False,
                 expected=None):
    """``value`` as a finite ``float`` in the interval from ``low`` to ``high``."""
    ok = (not isinstance(value, bool) and isinstance(value, numbers.Real)
          and math.isfinite(value) and (value > low if low_open else value >= low)
          and (value < high if high_open else value <= high))
    if not ok:
        if expected is None:
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            expected = f"a number in {left}{low:g}, {high:g}{right}"
        raise ValueError(f"{name}: got {value!r}, expected {expected}")
    return float(value)


def available_memory():
    """Bytes of memory this process could still allocate (Linux: MemAvailable; elsewhere
    the physical memory), or None where the system does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(what, needed):
    """Refuse, before allocating it, what needs more memory than the machine has:
    ``what`` names it (``"hidden_size 100000"``), ``needed`` is in bytes."""
    have = available_memory()
    if have is not None and needed > have:
        raise ValueError(f"{what}: needs about {needed / 2**30:.1f} GiB of memory, and this "
                         f"machine has {have / 2**30:.1f} GiB available; choose a smaller size")


def check_choice(name, value, allowed):
    """``value`` if it is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name}: got {value!r}, expected one of {', '.join(map(str, allowed))}")
    return value


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


def from_torch(value):
    """A torch tensor on the CPU (as a user coming from torch.nn passes it) as its NumPy
    array, detached from autograd; anything else (a CUDA tensor too) unchanged."""
    if hasattr(value, "detach") and getattr(getattr(value, "device", None), "type", "") == "cpu":
        try:
            return value.detach().numpy()
        except (TypeError, RuntimeError) as e:  # (bfloat16, sparse, ...: no NumPy twin)
            raise ValueError(f"a torch tensor that NumPy cannot read ({e})") from None
    return value


def as_float_array(name, value, dtype):
    """``value`` as a C-contiguous array of ``dtype``; floating-point input only.

    Other float widths are converted; integers, booleans and complex numbers are
    refused, since they are almost always a mistake (token ids instead of
    embeddings, say).  A torch tensor on the CPU is read as its NumPy array.
    """
    if is_gpu_array(value):
        raise ValueError(f"{name}: got a GPU array, expected a host (NumPy) array here "
                         "(a layer on the CPU takes host arrays; move it with layer.to('cuda'))")
    try:
        value = from_torch(value)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None
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


_all_finite = None


def check_finite(name, arr):
    global _all_finite
    if _all_finite is None:  # numba loads here, on the first check, not at import
        from .kernels._jit import all_finite as _all_finite
    if not _all_finite(arr.reshape(-1)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name}: contains a non-finite value (NaN or inf) at index "
                         f"{tuple(int(i) for i in bad)}; expected only finite numbers")


def check_tokens(name, value, vocab_size):
    """``value`` as an integer array of token ids, each in [0, vocab_size)."""
    try:
        arr = np.asarray(from_torch(value))
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: got dtype {arr.dtype}, expected integer token ids")
    if arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        raise ValueError(f"{name}: token ids must lie in [0, {vocab_size}); got values from "
                         f"{arr.min()} to {arr.max()}")
    return arr


def as_seed_sequence(seed):
    """``seed`` (None, an int, or a ``SeedSequence``) as a ``np.random.SeedSequence``."""
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)


def read_bytes(path, expected="a file", missing="no such file", error=ValueError):
    """The bytes of the file at ``path``.  A directory, a missing or an unreadable file is
    one ``error`` naming the path (``expected`` and ``missing`` word the first two)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise error(f"{path}: is a directory, expected {expected}")
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise error(f"{path}: {missing}") from None
    except OSError as e:
        raise error(f"{path}: cannot read it ({e.strerror})") from None

