"""Where a layer's arrays live: the CPU (NumPy) or an NVIDIA GPU (numba device arrays).

A layer talks to its device through the few operations below, so the layer code
is the same on both; the kernels it calls are the device's (``cpu_lstm`` or
``cuda_lstm``, ...), which share their argument order.  Bidirectional layers and
sequences of several lengths need three more: ``reverse_time`` (each sequence
read from its own end), ``join_directions`` and ``feature_block`` (the two
directions' halves of a layer's output).
"""
import math
from types import SimpleNamespace

import numpy as np

from ._checks import as_float_array, check_finite, is_gpu_array

DEVICES = ("cpu", "cuda")


class CPU:
    name = "cpu"
    # Elements of the input-projection work space: enough steps per GEMM to keep it
    # efficient, few enough that inference memory does not grow with T.
    projection_elements = 1 << 18
    # whether the kernels may project a sequence's inputs into the array that then
    # receives its gates (LSTM, training) or outputs (RNN): see CUDA
    projects_in_place = False

    def __init__(self):
        from .kernels import cpu_gru, cpu_lstm, cpu_rnn

        # the kernels' one-thread signatures, each call shared by the threads that
        # kernel_threads chooses for its size (w_hh is argument 4 of the LSTM's, 3 of the
        # RNN's and the GRU's)
        self.lstm = SimpleNamespace(lstm_forward=_shared(cpu_lstm.lstm_forward_threads, 4),
                                    lstm_backward=_shared(cpu_lstm.lstm_backward_threads, 4))
        self.rnn = SimpleNamespace(rnn_forward=_shared(cpu_rnn.rnn_forward_threads, 3),
                                   rnn_backward=_shared(cpu_rnn.rnn_backward_threads, 3))
        self.gru = SimpleNamespace(gru_forward=_shared(cpu_gru.gru_forward_threads, 3),
                                   gru_backward=_shared(cpu_gru.gru_backward_threads, 3))

    def empty(self, shape, dtype):
        dtype = np.dtype(dtype)
        if math.prod(shape) * dtype.itemsize < SMALL_BYTES:
            return np.empty(shape, dtype)
        return aligned_empty(shape, dtype)

    def zeros(self, shape, dtype):
        arr = self.empty(shape, dtype)
        arr[...] = 0
        return arr

    def array(self, name, value, dtype):
        """A C-contiguous array of ``dtype`` on this device, and the kind to return results in."""
        arr = as_float_array(name, value, dtype)
        # read-only input (np.frombuffer, a view of another library's memory) is
        # copied: for such arrays numba would compile every kernel a second time
        return (arr if arr.flags.writeable else arr.copy()), None

    def check_finite_all(self, pairs):
        """``check_finite`` for every (name, array) pair, in order; a long check shared
        by two threads, each over its half of every array (``_parts.pass_threads``)."""
        from .kernels._parts import in_parts, pass_threads

        parts = pass_threads(sum(arr.nbytes for _, arr in pairs))
        if parts > 1:
            from .kernels._jit import all_finite

            flats = [arr.reshape(-1) for _, arr in pairs]

            def finite(part):
                return all(all_finite(_share(f, part, parts)) for f in flats)
            if all(in_parts(finite, parts)):
                return
        for name, arr in pairs:  # (one thread, or a bad value to find and name)
            check_finite(name, arr)

    def side_by_side(self, calls, B, GH, H, itemsize):
        """Run independent ``calls`` (kernels of a layer's two directions, batch ``B``,
        (GH, H) recurrent weights of ``itemsize`` bytes) at once where the cores and the
        caches allow (``kernels._parts.side_by_side``)."""
        from .kernels._parts import side_by_side

        side_by_side(calls, B, GH, H, itemsize)

    def copy(self, arr):
        return arr.copy()

    def swap_first_axes(self, arr):
        """(A, B, F) -> a new C-contiguous (B, A, F): batch-first <-> time-major (always a
        copy: ``np.ascontiguousarray`` returns a view where A or B is 1)."""
        return arr.transpose(1, 0, 2).copy()

    def add(self, a, b, out):
        np.add(a, b, out=out)

    def reverse_time(self, arr, lengths, out=None):
        """A (T, B, ...) array whose row b holds sequence b backwards from its own last
        step (``lengths``; None: all T), its padded steps left in place: ``out`` (an
        array of the same shape and dtype) or a new one.  Its own inverse: applied
        twice it gives ``arr`` back."""
        out = self.empty(arr.shape, arr.dtype) if out is None else out
        backwards = _backwards(arr, lengths)

        def reverse(t0, t1):
            out[t0:t1] = backwards(t0, t1)
        if np.may_share_memory(out, arr):  # in one piece: a part would overwrite the other's
            reverse(0, arr.shape[0])
        else:
            _by_steps(reverse, arr.shape[0], 2 * arr.nbytes)
        return out

    def join_directions(self, forward, backward, lengths):
        """A bidirectional layer's output, (T, B, 2H), from its two directions' (T, B, H)
        outputs, ``backward`` in its own (reversed) time order: written in one pass (a
        reversed copy, then a concatenation, cost 5 ms a forward at T B H = 50 * 64 * 512)."""
        T, B, H = forward.shape
        out = np.empty((T, B, 2 * H), forward.dtype)
        backwards = _backwards(backward, lengths)

        def join(t0, t1):
            out[t0:t1, :, :H] = forward[t0:t1]
            out[t0:t1, :, H:] = backwards(t0, t1)
        _by_steps(join, T, 2 * out.nbytes)
        return out

    def feature_block(self, arr, d, H):
        """Features ``d H : (d + 1) H`` of a (T, B, F) array, as a new contiguous array."""
        out = self.empty(arr.shape[:2] + (H,), arr.dtype)

        def copy(t0, t1):
            out[t0:t1] = arr[t0:t1, :, d * H:(d + 1) * H]
        _by_steps(copy, arr.shape[0], 2 * out.nbytes)
        return out

    def multiply(self, a, b, out=None):
        return np.multiply(a, b, out=out)

    def assign(self, dst, src):
        dst[...] = src

    def upload(self, host):
        return host

    def to_host(self, arr):
        return np.asarray(arr)

    def download(self, dst, src):
        """Copy ``src`` (an array on this device) into the host array ``dst``."""
        dst[...] = src

    def as_kind(self, arr, kind):
        return arr


def _share(flat, part, parts):
    """Part ``part`` of ``parts`` of the 1-D array ``flat``, as even as can be."""
    n = flat.size
    return flat[n * part // parts:n * (part + 1) // parts]


def _backwards(arr, lengths):
    """``steps(t0, t1)``: steps t0:t1 of ``CPU.reverse_time(arr, lengths)``, read from
    ``arr`` (a view, or a new array where the sequences' lengths differ)."""
    if lengths is None:
        flipped = arr[::-1]
        return lambda t0, t1: flipped[t0:t1]
    T, B = arr.shape[:2]
    t = np.arange(T)[:, None]
    steps, rows = np.where(t < lengths, lengths - 1 - t, t), np.arange(B)
    return lambda t0, t1: arr[steps[t0:t1], rows]


def _by_steps(fill, T, nbytes):
    """``fill(t0, t1)`` for the steps 0:T of a pass over ``nbytes`` of memory: in one
    piece, or one piece per thread at once where the pass is long
    (``_parts.pass_threads``)."""
    from .kernels._parts import in_parts, pass_threads

    parts = max(1, min(T, pass_threads(nbytes)))
    in_parts(lambda p: fill(T * p // parts, T * (p + 1) // parts), parts)


# Below this size an array is a few hundred cache lines at most, and the lines that two
# threads would share at its seams cost less than aligning it: 1.7 microseconds against
# 0.2 for np.empty, four times a training step at B = 1 (final states, dx, dh0, dc0).
SMALL_BYTES = 16 << 10


def aligned_empty(shape, dtype, alignment=64):
    """``np.empty`` whose data start on a cache line (NumPy promises 16 bytes).

    The threads of a CPU time loop write their own units of each row; rows that
    start mid-line would make two cores share the lines at the seams.
    """
    dtype = np.dtype(dtype)
    count = math.prod(shape)
    raw = np.empty(count * dtype.itemsize + alignment, np.uint8)
    skip = -raw.ctypes.data % alignment
    return raw[skip:skip + count * dtype.itemsize].view(dtype).reshape(shape)


def _shared(threaded_kernel, w_hh_index):
    """A kernel with its one-thread signature that runs ``threaded_kernel`` on as many
    threads as ``kernel_threads`` chooses for the batch and weight of the call."""
    from .kernels._parts import kernel_threads

    def kernel(*args):
        h0, w_hh = args[1], args[w_hh_index]
        threaded_kernel(kernel_threads(h0.shape[0], w_hh.shape[0], w_hh.shape[1]), *args)
    return kernel


class CUDA:
    name = "cuda"
    # Every chunk of the projection costs a GEMM and a launch of the time loop (which,
    # in the tiled design, reloads its weights); a GPU has the memory for fewer chunks.
    projection_elements = 1 << 24
    # Each GPU thread reads its unit's pre-activations before it overwrites them, so
    # the gates (LSTM, training) or outputs (RNN) can hold the whole sequence's
    # projection: one GEMM, one launch, no work space.  (The CPU keeps its bounded
    # work space: there nothing is launched, and a GEMM of K steps is as fast.)
    projects_in_place = True

    def __init__(self):
        self.cuda = require_cuda()
        from .kernels import _cuda_arrays, _cuda_gemm, _cuda_loop, cuda_gru, cuda_lstm, cuda_rnn

        self.lstm, self.rnn, self.gru, self.arrays = cuda_lstm, cuda_rnn, cuda_gru, _cuda_arrays
        _cuda_loop.loop_design()  # a bad NUMBARNN_CUDA_LOOP or NUMBARNN_CUDA_GEMM fails here,
        _cuda_gemm.gemm_backend()  # before any work, not at the first forward

    def empty(self, shape, dtype):
        return self.cuda.device_array(shape, dtype=dtype)

    def zeros(self, shape, dtype):
        arr = self.cuda.device_array(shape, dtype=dtype)
        self.arrays.fill(arr, 0)
        return arr

    def array(self, name, value, dtype):
        """Device arrays stay where they are (converted only if the dtype differs);
        host data are checked and copied over.  The second value records the
        input's kind ('numpy', 'numba' or 'cupy') so results can be returned alike."""
        if is_gpu_array(value):
            if self.cuda.devicearray.is_cuda_ndarray(value):
                arr, kind = value, "numba"
            else:
                arr = self.cuda.as_cuda_array(value)
                kind = "cupy" if type(value).__module__.startswith("cupy") else "numba"
            if arr.dtype.kind != "f":
                raise ValueError(f"{name}: got dtype {arr.dtype}, expected floating point")
            if arr.dtype != dtype or not arr.is_c_contiguous():
                arr = self.cuda.to_device(np.ascontiguousarray(arr.copy_to_host(), dtype=dtype))
            return arr, kind
        return self.cuda.to_device(as_float_array(name, value, dtype)), "numpy"

    def check_finite_all(self, pairs):
        """Count non-finite values of all arrays on the device, then synchronise once."""
        if pairs and not self.arrays.all_finite([arr for _, arr in pairs]):
            for name, arr in pairs:  # rare: find and name the first bad index
                check_finite(name, arr.copy_to_host())

    def side_by_side(self, calls, B, GH, H, itemsize):
        """One after the other: the GPU's launches queue on one stream anyway."""
        for call in calls:
            call()

    def copy(self, arr):
        out = self.cuda.device_array(arr.shape, dtype=arr.dtype)
        self.arrays.device_copy(out, arr)  # the layers' device arrays are C-contiguous
        return out

    def swap_first_axes(self, arr):
        return self.arrays.swap_first_axes(arr)

    def add(self, a, b, out):
        self.arrays.add(a, b, out)

    def reverse_time(self, arr, lengths, out=None):
        T, B = arr.shape[:2]
        return self.arrays.reverse_time(arr, self.arrays.device_lengths(lengths, T, B), out)

    def join_directions(self, forward, backward, lengths):
        T, B, H = forward.shape  # (the simulator's shapes take no negative index)
        out = self.cuda.device_array((T, B, 2 * H), dtype=forward.dtype)
        self.arrays.copy_features(forward, 0, out, 0, H)
        self.arrays.copy_features(self.reverse_time(backward, lengths), 0, out, H, H)
        return out

    def feature_block(self, arr, d, H):
        out = self.cuda.device_array((arr.shape[0], arr.shape[1], H), dtype=arr.dtype)
        self.arrays.copy_features(arr, d * H, out, 0, H)
        return out

    def multiply(self, a, b, out=None):
        out = self.cuda.device_array_like(a) if out is None else out
        self.arrays.multiply(a, b, out)
        return out

    def assign(self, dst, src):
        """``dst[...] = src``; ``src`` on the host, or one of the layers' device arrays."""
        if self.cuda.devicearray.is_cuda_ndarray(src):
            self.arrays.device_copy(dst, src)
        else:
            dst.copy_to_device(src)

    def upload(self, host):
        return self.cuda.to_device(host)

    def to_host(self, arr):
        return arr.copy_to_host()

    def download(self, dst, src):
        src.copy_to_host(dst)

    def as_kind(self, arr, kind):
        if kind == "numpy":
            return arr.copy_to_host()
        if kind == "cupy":
            import cupy

            return cupy.asarray(arr)
        return arr


def require_cuda():
    """``numba.cuda`` when CUDA kernels can run here (a GPU, or the simulator), else a clear error."""
    from .info import cuda_info

    status = cuda_info()
    if not status["available"]:
        raise ValueError(f"device: got 'cuda', but CUDA is not available here "
                         f"({status['detail']}). Install the GPU extra "
                         "(pip install 'numbarnn[cuda]') on a machine with an NVIDIA GPU and "
                         "driver, or set NUMBA_ENABLE_CUDASIM=1 for the (slow) simulator; "
                         "`numbarnn info` shows what was found")
    from numba import cuda

    return cuda


_DEVICES = {}


def get_device(name):
    """The device object for 'cpu' or 'cuda' (created once, so CUDA is probed once)."""
    if name not in DEVICES:
        raise ValueError(f"device: got {name!r}, expected one of {DEVICES}")
    if name not in _DEVICES:
        _DEVICES[name] = CPU() if name == "cpu" else CUDA()
    return _DEVICES[name]
