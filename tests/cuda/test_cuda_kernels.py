"""The CUDA kernels against their CPU twins, which are the reference.

Shapes are small because the simulator runs one Python thread per CUDA thread.
Even so the per-step launches need several blocks (warp design: one warp per
unit and group of rows, four to a block; tiled design: see ``conftest``) and the
LSTM's GEMMs several tiles (4H = 20 > 16); the warp design's cooperative loop,
which the simulator runs as one block, strides over the units.  Every test runs
with each time-loop design and launch mode (the ``time_loop`` fixture).
"""
import functools

import numpy as np
import pytest
from numba import cuda

from numbarnn.kernels import (RELU, TANH, _cuda_arrays, _cuda_loop, cpu_gru, cpu_lstm, cpu_rnn,
                              cuda_gru, cuda_lstm, cuda_rnn)

SMALL = (2, 5, 3, 5)  # T, B, D, H: B = 5 is one full group of ROWS = 4 rows and one partial
TOL = {np.float64: 1e-12, np.float32: 1e-5}


def random_inputs(rng, dtype, T, B, D, G, H):
    arrays = dict(x=(T, B, D), h0=(B, H), c0=(B, H), w_ih=(G * H, D), w_hh=(G * H, H),
                  bias=(G * H,), bias_hh=(G * H,), dout=(T, B, H), dh_n=(B, H), dc_n=(B, H))
    return {k: (rng.standard_normal(s) * 0.5).astype(dtype) for k, s in arrays.items()}


def run_lstm(module, to_device, a, T, B, H, K, in_place=False, lengths=None):
    """Forward and backward; ``in_place``: the gates are the projection work space (as a
    layer on the GPU trains), else a separate one of K steps."""
    dt = a["x"].dtype
    dev = {k: to_device(v) for k, v in a.items()}
    out, h_n, c_n = (to_device(np.empty(s, dt)) for s in [(T, B, H), (B, H), (B, H)])
    gates, cells = to_device(np.empty((T, B, 4 * H), dt)), to_device(np.empty((T, B, H), dt))
    xproj = gates if in_place else to_device(np.empty((K, B, 4 * H), dt))
    module.lstm_forward(dev["x"], dev["h0"], dev["c0"], dev["w_ih"], dev["w_hh"], dev["bias"],
                        out, h_n, c_n, gates, cells, xproj, lengths)
    results = [np.array(v) for v in (out, h_n, c_n)]
    grads = [to_device(np.empty_like(a[k])) for k in ("x", "h0", "c0", "w_ih", "w_hh", "bias")]
    module.lstm_backward(dev["x"], dev["h0"], dev["c0"], dev["w_ih"], dev["w_hh"], out, gates,
                         cells, dev["dout"], dev["dh_n"], dev["dc_n"], *grads, lengths)
    return results + [np.array(g) for g in grads]


def run_lstm_inference(module, to_device, a, T, B, H, K):
    dt = a["x"].dtype
    dev = {k: to_device(v) for k, v in a.items()}
    out, h_n, c_n = (to_device(np.empty(s, dt)) for s in [(T, B, H), (B, H), (B, H)])
    module.lstm_forward(dev["x"], dev["h0"], dev["c0"], dev["w_ih"], dev["w_hh"], dev["bias"],
                        out, h_n, c_n, to_device(np.empty((1, B, 4 * H), dt)),
                        to_device(np.empty((1, B, H), dt)), to_device(np.empty((K, B, 4 * H), dt)))
    return [np.array(v) for v in (out, h_n, c_n)]


def run_rnn(module, to_device, a, T, B, H, K, act, in_place=False, lengths=None):
    """As ``run_lstm``; ``in_place``: the outputs are the projection work space."""
    dt = a["x"].dtype
    dev = {k: to_device(v) for k, v in a.items()}
    out, h_n = to_device(np.empty((T, B, H), dt)), to_device(np.empty((B, H), dt))
    xproj = out if in_place else to_device(np.empty((K, B, H), dt))
    module.rnn_forward(dev["x"], dev["h0"], dev["w_ih"], dev["w_hh"], dev["bias"], act, out, h_n,
                       xproj, lengths)
    results = [np.array(out), np.array(h_n)]
    grads = [to_device(np.empty_like(a[k])) for k in ("x", "h0", "w_ih", "w_hh", "bias")]
    module.rnn_backward(dev["x"], dev["h0"], dev["w_ih"], dev["w_hh"], act, out, dev["dout"],
                        dev["dh_n"], *grads, to_device(np.empty((T, B, H), dt)), lengths)
    return results + [np.array(g) for g in grads]


def run_gru(module, to_device, a, T, B, H, K, in_place=False, lengths=None):
    """As ``run_lstm`` (``bias`` and ``bias_hh`` are the GRU's two biases)."""
    dt = a["x"].dtype
    dev = {k: to_device(v) for k, v in a.items()}
    out, h_n = to_device(np.empty((T, B, H), dt)), to_device(np.empty((B, H), dt))
    gates, hidden = to_device(np.empty((T, B, 3 * H), dt)), to_device(np.empty((T, B, H), dt))
    xproj = gates if in_place else to_device(np.empty((K, B, 3 * H), dt))
    module.gru_forward(dev["x"], dev["h0"], dev["w_ih"], dev["w_hh"], dev["bias"], dev["bias_hh"],
                       out, h_n, gates, hidden, xproj, lengths)
    results = [np.array(out), np.array(h_n)]
    grads = [to_device(np.empty_like(a[k])) for k in ("x", "h0", "w_ih", "w_hh", "bias",
                                                        "bias_hh")]
    module.gru_backward(dev["x"], dev["h0"], dev["w_ih"], dev["w_hh"], out, gates, hidden,
                        dev["dout"], dev["dh_n"], *grads, to_device(np.empty((T, B, 3 * H), dt)),
                        lengths)
    return results + [np.array(g) for g in grads]


def assert_all_close(got, want, dtype):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=TOL[dtype], atol=TOL[dtype])


CASES = [(SMALL, np.float64), (SMALL, np.float32)]


@pytest.mark.parametrize("shape, dtype", CASES)
def test_lstm_matches_cpu(dtype, shape, time_loop):
    T, B, D, H = shape
    a = random_inputs(np.random.default_rng(sum(shape)), dtype, T, B, D, 4, H)
    want = run_lstm(cpu_lstm, lambda v: v, a, T, B, H, K=2)
    got = run_lstm(cuda_lstm, cuda.to_device, a, T, B, H, K=None, in_place=True)
    assert_all_close(got, want, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lstm_inference_matches_cpu(dtype, time_loop):
    T, B, D, H = SMALL
    a = random_inputs(np.random.default_rng(7), dtype, T, B, D, 4, H)
    want = run_lstm(cpu_lstm, lambda v: v, a, T, B, H, K=T)[:3]
    assert_all_close(run_lstm_inference(cuda_lstm, cuda.to_device, a, T, B, H, K=1), want, dtype)


@pytest.mark.parametrize("shape, dtype", CASES)
def test_gru_matches_cpu(dtype, shape, time_loop):
    T, B, D, H = shape
    a = random_inputs(np.random.default_rng(sum(shape) + 3), dtype, T, B, D, 3, H)
    want = run_gru(cpu_gru, lambda v: v, a, T, B, H, K=1)
    got = run_gru(cuda_gru, cuda.to_device, a, T, B, H, K=None, in_place=True)
    assert_all_close(got, want, dtype)


@pytest.mark.parametrize("time_loop", ["warp-cooperative", "tiled-per-step"], indirect=True)
@pytest.mark.parametrize("cell", ["lstm", "rnn", "gru"])
def test_lengths_match_cpu(cell, time_loop):
    """A padded batch with every length from 1 to T (T = 3), against the CPU kernels."""
    T, B, D, H = 3, 5, 2, 5
    G = {"lstm": 4, "rnn": 1, "gru": 3}[cell]
    a = random_inputs(np.random.default_rng(G), np.float64, T, B, D, G, H)
    lengths = np.array([2, 3, 1, 3, 2], np.int64)
    run, cpu, gpu = {"lstm": (run_lstm, cpu_lstm, cuda_lstm),
                     "rnn": (functools.partial(run_rnn, act=TANH), cpu_rnn, cuda_rnn),
                     "gru": (run_gru, cpu_gru, cuda_gru)}[cell]
    want = run(cpu, lambda v: v, a, T, B, H, K=1, lengths=lengths)
    got = run(gpu, cuda.to_device, a, T, B, H, K=None, in_place=True,
              lengths=cuda.to_device(lengths))
    assert_all_close(got, want, np.float64)
    assert (want[0][1:, 2] == 0).all()  # (the padded outputs are zero on both)


@pytest.mark.parametrize("shape, dtype, act", [case + (TANH,) for case in CASES]
                         + [(SMALL, np.float64, RELU)])  # the cell maths, shared by both designs
def test_rnn_matches_cpu(dtype, shape, act, time_loop):
    T, B, D, H = shape
    a = random_inputs(np.random.default_rng(sum(shape) + act), dtype, T, B, D, 1, H)
    want = run_rnn(cpu_rnn, lambda v: v, a, T, B, H, K=1, act=act)
    got = run_rnn(cuda_rnn, cuda.to_device, a, T, B, H, K=None, act=act, in_place=True)
    assert_all_close(got, want, dtype)


@pytest.mark.parametrize("G", [4, 1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_time_loop_runs_as_the_fixture_says(G, dtype, time_loop):
    """The SMALL shape really takes the design asked for, with the blocks the mode needs,
    and the tiled kernels take each way through a block's pairs (see ``conftest``)."""
    design, mode = time_loop
    T, B, D, H = SMALL
    plan = _cuda_loop.plan_time_loop(G, B, H, dtype)
    assert plan.design == design
    if design == "tiled":
        (J,) = plan.head
        assert plan.blocks == -(-H // J)
        assert (plan.blocks == 1) == (mode == "cooperative")
        geometry = _cuda_loop.GEOMETRY
        pairs = J * min(B, geometry.batch_tile)
        splits = _cuda_loop.column_splits(J, B, geometry.threads, geometry.batch_tile)
        if mode == "cooperative":
            assert splits == 1 and pairs > geometry.threads  # some threads hold two pairs
        elif G == 4:  # split columns, some threads idle, partial sums in several rounds
            assert splits > 1 and pairs * splits < geometry.threads
            assert geometry.tile_elements(dtype) // geometry.threads < G
        else:
            assert splits == 1



def test_device_copy_copies_and_refuses_a_mismatch():
    src = cuda.to_device(np.arange(6.0).reshape(2, 3))
    dst = cuda.device_array((2, 3))
    _cuda_arrays.device_copy(dst, src)
    np.testing.assert_array_equal(dst.copy_to_host(), np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match="device_copy"):
        _cuda_arrays.device_copy(cuda.device_array((3, 2)), src)
    with pytest.raises(ValueError, match="device_copy"):
        _cuda_arrays.device_copy(cuda.device_array((2, 3), np.float32), src)
