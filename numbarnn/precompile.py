"""A first run's kernels compiled on two cores: the forward here, the backward beside it.

numba compiles one function at a time, under one lock, in one process, and a
recurrent layer's forward and backward kernels take about as long each (8 to 9 s
for the float32 LSTM on this project's machines).  Where neither is in numba's
on-disk cache (``cache=True``) and a second core is free, ``compile_layer``
starts a child process that compiles the backward kernel (its layer runs
``backward`` after a forward whose kernel does nothing) and writes it to the
cache, compiles the forward in this process meanwhile, waits for the child, and
then loads the backward from the cache: the wall time of the slower of the two,
plus a second of start-up.  Where the child cannot run, or fails, this process
compiles everything itself, as before.
"""
import os
import subprocess
import sys
import threading
import time

import numpy as np

# the child: the layer's backward kernel compiled for the same types as the parent's
_CHILD = """
import sys
from numbarnn.precompile import _compile_backward
_compile_backward(sys.argv[1], sys.argv[2], sys.argv[3] == "tokens")
"""


def _tiny_layer(cell, dtype, tokens):
    """A layer of ``cell`` and an input of the kind a run feeds it (token ids or floats)."""
    from .layers import LAYERS

    layer = LAYERS[cell](5 if tokens else 3, 8, dtype=np.dtype(dtype))
    x = np.zeros((2, 1), np.int64) if tokens else np.zeros((2, 1, 3), dtype)
    return layer, x


def _compile_head(dtype):
    """The kernels of the linear head every model puts on its layers (``Linear``)."""
    from .layers import Linear

    head = Linear(3, 2, dtype=np.dtype(dtype))
    head.backward(np.zeros_like(head.forward(np.zeros((2, 3), dtype))))


def _kernels(cell):
    from .kernels import cpu_gru, cpu_lstm, cpu_rnn

    module = {"lstm": cpu_lstm, "rnn": cpu_rnn, "gru": cpu_gru}[cell]
    return [getattr(module, f"{cell}_{side}_part") for side in ("forward", "backward")]


def _compile_backward(cell, dtype, tokens):
    """(In the child.)  Compile the backward kernel alone: a forward whose kernel does
    nothing leaves the layer's buffers (of the right types) for its backward."""
    from types import SimpleNamespace

    layer, x = _tiny_layer(cell, dtype, tokens)
    kernels = getattr(layer._dev, cell)
    setattr(layer._dev, cell, SimpleNamespace(**{**vars(kernels),
                                                 f"{cell}_forward": lambda *args: None}))
    out, _ = layer.forward(x)
    layer.backward(np.zeros_like(out))


def layer_cached(cell, dtype="float32"):
    """Whether numba's cache holds both CPU kernels of ``cell`` (any dtype it was asked for)."""
    from ._cache import kernels_cached

    return kernels_cached(*_kernels(cell))


def compile_layer(cell, dtype="float32", tokens=False, parallel=None):
    """Compile (or load from the cache) the CPU kernels a layer of ``cell`` trains with, and
    those of the linear head on it.

    Parameters
    ----------
    cell : {'lstm', 'rnn', 'gru'}
    dtype : {'float32', 'float64'}
    tokens : bool
        Whether the layer is fed token ids (the text model's one-hot input) rather
        than floats: the kernels are compiled for that input.
    parallel : bool, optional
        Compile the backward kernel in a child process while this one compiles the
        forward; None: where they are not cached, two cores are free and this is the
        main thread (elsewhere the caller already runs work side by side: a Dask
        worker, the trainer's threads).

    Returns
    -------
    float
        Seconds taken.
    """
    from numba.core import config

    from .kernels._parts import usable_cores

    start = time.perf_counter()
    if parallel is None:
        parallel = (not config.DISABLE_JIT and usable_cores() >= 2
                    and threading.current_thread() is threading.main_thread()
                    and not layer_cached(cell, dtype))
    child = None
    if parallel:
        # the child imports this very numbarnn, and caches where this process does
        # (numbarnn._cache may have moved the cache)
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [here] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        if config.CACHE_DIR:
            env["NUMBA_CACHE_DIR"] = config.CACHE_DIR
        try:
            child = subprocess.Popen([sys.executable, "-c", _CHILD, cell, str(np.dtype(dtype)),
                                      "tokens" if tokens else "floats"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:  # no process to spare: compile both here
            child = None
    try:
        layer, x = _tiny_layer(cell, dtype, tokens)
        out, _ = layer.forward(x)  # the forward kernel, here
        _compile_head(dtype)  # (while the child compiles the backward)
        if child is not None:
            child.wait()  # a child that failed leaves the backward to this process
    finally:
        if child is not None and child.poll() is None:  # Ctrl-C, an error: no orphan left
            child.kill()
            child.wait()
    layer.backward(np.zeros_like(out))  # from the cache the child filled, or compiled here
    return time.perf_counter() - start


# Cold compile of a layer's kernels with ``compile_layer`` (two cores), float32, measured on
# this project's 2-core machines (their speed drifts by a factor of up to two; 2026-12-02:
# 7.4 to 9.4 s, and 8.5 to 9.1 s for train-text's whole first step), rounded up: the "about
# N s" of the first-run message, by (cell, token input).  Serially they took 15 to 20 s.
COMPILE_ESTIMATE = {("lstm", False): 9, ("gru", False): 10, ("rnn", False): 8,
                    ("lstm", True): 9, ("gru", True): 8, ("rnn", True): 10}
_compiled = set()


def compile_for_run(cell, dtype, device="cpu", tokens=False, progress=None, warm_up=None):
    """Compile (or load from the cache) what a training run of ``cell`` needs before its
    first step, once per process, so that its step times, rate and time left count
    training only; say so first (``progress.log``) when the kernels are not cached.

    ``warm_up`` (a callable) runs after the layer's kernels, for the rest a run
    compiles (its loss, its optimiser).  On the GPU only ``warm_up`` runs.

    Returns
    -------
    float
        The compile seconds: 0 when the kernels came from the cache, or were already
        loaded in this process.
    """
    key = (cell, str(np.dtype(dtype)), device, bool(tokens), warm_up is not None)
    if key in _compiled:
        return 0.0
    _compiled.add(key)
    cached = device == "cpu" and layer_cached(cell, dtype)
    if not cached and progress is not None:
        progress.log(f"compiling the kernels, first run only: about "
                     f"{COMPILE_ESTIMATE.get((cell, bool(tokens)), 12)} s")
    start = time.perf_counter()
    if not cached and device == "cpu":
        compile_layer(cell, dtype, tokens)
    if warm_up is not None:
        warm_up()
    seconds = time.perf_counter() - start
    if not cached and progress is not None:
        progress.log(f"kernels compiled in {seconds:.1f} s")
    return 0.0 if cached else seconds

