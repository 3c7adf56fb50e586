"""Kernel-level tests of ``numbarnn.kernels.lstm_forward`` / ``lstm_backward``.

The kernels are called directly with preallocated arrays, as their docstrings
describe, and compared with the plain NumPy reference in ``tests/reference.py``.
Every output buffer is pre-filled with NaN, so a kernel that reads a buffer
before writing it (or accumulates into it) fails the comparison.
"""
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import reference as ref
from numbarnn import kernels

INPUTS = ("x", "h0", "c0", "w_ih", "w_hh", "bias", "dout", "dh_n", "dc_n")
RESULTS = ("out", "h_n", "c_n", "dx", "dh0", "dc0", "dw_ih", "dw_hh", "dbias")


def make_case(T, B, D, H, seed=0):
    """Random float64 inputs, weights and gradients arriving at the outputs and final state."""
    rng = np.random.default_rng(seed)

    def u(*shape):
        return rng.uniform(-1.0, 1.0, shape)

    return dict(x=u(T, B, D), h0=u(B, H), c0=u(B, H), w_ih=u(4 * H, D), w_hh=u(4 * H, H),
                bias=u(4 * H), dout=u(T, B, H), dh_n=u(B, H), dc_n=u(B, H))


def nan_array(shape, dtype):
    return np.full(shape, np.nan, dtype=dtype)


def kernel_forward(case, dtype=np.float64, S=None, K=None):
    """Run ``lstm_forward``; S = T (training) by default, K = T by default."""
    a = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in case.items()}
    T, B, _ = a["x"].shape
    H = a["h0"].shape[1]
    S = T if S is None else S
    K = T if K is None else K
    res = dict(out=nan_array((T, B, H), dtype), h_n=nan_array((B, H), dtype),
               c_n=nan_array((B, H), dtype), gates=nan_array((S, B, 4 * H), dtype),
               cells=nan_array((S, B, H), dtype))
    kernels.lstm_forward(a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"], a["bias"], res["out"],
                         res["h_n"], res["c_n"], res["gates"], res["cells"],
                         nan_array((K, B, 4 * H), dtype))
    return a, res


def kernel_run(case, dtype=np.float64, K=None):
    """Training forward then backward; the outputs, final state and every gradient."""
    a, res = kernel_forward(case, dtype, K=K)
    for name, like in (("dx", "x"), ("dh0", "h0"), ("dc0", "c0"), ("dw_ih", "w_ih"),
                       ("dw_hh", "w_hh"), ("dbias", "bias")):
        res[name] = nan_array(a[like].shape, dtype)
    kernels.lstm_backward(a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"], res["out"], res["gates"],
                          res["cells"], a["dout"], a["dh_n"], a["dc_n"], res["dx"], res["dh0"],
                          res["dc0"], res["dw_ih"], res["dw_hh"], res["dbias"])
    return res


def reference_run(case):
    out, h_n, c_n, cache = ref.lstm_forward(case["x"], case["h0"], case["c0"], case["w_ih"],
                                            case["w_hh"], case["bias"])
    grads = ref.lstm_backward(case["w_ih"], case["w_hh"], cache, case["dout"], case["dh_n"],
                              case["dc_n"])
    return dict(zip(RESULTS, (out, h_n, c_n) + grads))


def assert_results_close(got, want, rtol, atol):
    for name in RESULTS:
        np.testing.assert_allclose(got[name], want[name], rtol=rtol, atol=atol, err_msg=name)


SHAPES = [(1, 1, 1, 1), (1, 3, 2, 4), (5, 2, 3, 4), (7, 1, 4, 3), (4, 3, 1, 1)]


@pytest.mark.parametrize("T,B,D,H", SHAPES)
def test_float64_matches_reference(T, B, D, H):
    case = make_case(T, B, D, H, seed=T * 1000 + B * 100 + D * 10 + H)
    assert_results_close(kernel_run(case), reference_run(case), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("source", ["dout", "dh_n", "dc_n"])
def test_each_gradient_source_alone(source):
    """Only one of dout, dh_n, dc_n is nonzero: each path into the past is right on its own."""
    case = make_case(4, 2, 3, 3, seed=7)
    for name in ("dout", "dh_n", "dc_n"):
        if name != source:
            case[name] = np.zeros_like(case[name])
    got, want = kernel_run(case), reference_run(case)
    assert np.abs(want["dh0"]).max() > 1e-3 and np.abs(want["dc0"]).max() > 1e-3
    assert_results_close(got, want, rtol=1e-12, atol=1e-12)


def test_float32_matches_float64_reference():
    case = make_case(6, 3, 4, 5, seed=3)
    got = kernel_run(case, np.float32)
    for name in RESULTS:
        assert got[name].dtype == np.float32, name
    assert_results_close(got, reference_run(case), rtol=1e-5, atol=1e-5)


def test_does_not_modify_its_inputs():
    case = make_case(4, 2, 3, 3, seed=11)
    a, res = kernel_forward(case)
    before = {k: v.copy() for k, v in a.items()}
    grads = [np.empty_like(a[k]) for k in ("x", "h0", "c0", "w_ih", "w_hh", "bias")]
    kernels.lstm_backward(a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"], res["out"], res["gates"],
                          res["cells"], a["dout"], a["dh_n"], a["dc_n"], *grads)
    for name in INPUTS:
        np.testing.assert_array_equal(a[name], before[name], err_msg=name)


CHUNK_T = 5


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("S", [1, CHUNK_T], ids=["S=1", "S=T"])
@pytest.mark.parametrize("K", [1, 3, CHUNK_T, CHUNK_T + 4], ids=["K=1", "K=3", "K=T", "K>T"])
def test_chunked_and_inference_forward_match_training_forward(K, S, dtype, rtol):
    """S = 1 (inference) and any projection chunk K give the training forward's results."""
    case = make_case(CHUNK_T, 2, 3, 4, seed=5)
    _, want = kernel_forward(case, dtype)
    _, got = kernel_forward(case, dtype, S=S, K=K)
    for name in ("out", "h_n", "c_n"):
        np.testing.assert_allclose(got[name], want[name], rtol=rtol, atol=rtol, err_msg=name)
    # what is kept: every step for S = T, the last step for S = 1
    for name in ("gates", "cells"):
        np.testing.assert_allclose(got[name], want[name][CHUNK_T - S:], rtol=rtol, atol=rtol,
                                   err_msg=name)


def test_chunked_training_forward_backward_matches_reference():
    case = make_case(7, 2, 3, 4, seed=9)
    assert_results_close(kernel_run(case, K=3), reference_run(case), rtol=1e-12, atol=1e-12)


def test_weight_gradients_over_several_chunks_of_rows():
    # T B = 355 rows: the weight gradients add more than one chunk of rows at every vector
    # width (_gemm.ROWS_PER_CHUNK), the first chunk ending at h0's rows
    from numbarnn.kernels._gemm import ROWS_PER_CHUNK

    case = make_case(71, 5, 3, 4, seed=10)
    assert 71 * 5 > ROWS_PER_CHUNK + 5
    assert_results_close(kernel_run(case), reference_run(case), rtol=1e-11, atol=1e-11)


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 6), B=st.integers(1, 6), D=st.integers(1, 6), H=st.integers(1, 6),
       seed=st.integers(0, 2**32 - 1))
@example(T=1, B=1, D=1, H=1, seed=0)
@example(T=6, B=1, D=2, H=1, seed=1)
@example(T=1, B=6, D=6, H=6, seed=2)
def test_random_shapes_match_reference(T, B, D, H, seed):
    case = make_case(T, B, D, H, seed)
    assert_results_close(kernel_run(case), reference_run(case), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------- the worked example (DESIGN.md)
# One unit, PyTorch's gate order i, f, g, o.  The figures in DESIGN.md are rounded to four
# decimals, so they are checked to half a unit in the last place (5e-5).  Every other order
# of the gate blocks misses at least one figure by more than 1e-4 (swapping i and f, for
# instance, gives short-term 0.9861, long-term 2.9360 and -0.0070 for the first sequence).
WORKED = dict(w_ih=np.array([[1.65], [1.63], [0.94], [-0.19]]),
              w_hh=np.array([[2.00], [2.70], [1.41], [4.38]]),
              bias=np.array([0.62, 1.62, -0.32, 0.59]))
WORKED_TOL = 5e-5


def worked_forward(inputs, h0, c0, dtype):
    case = dict(WORKED, x=np.array(inputs, float).reshape(-1, 1, 1),
                h0=np.full((1, 1), h0), c0=np.full((1, 1), c0))
    _, res = kernel_forward(case, dtype)
    return res["h_n"].item(), res["c_n"].item()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_worked_example_one_step(dtype):
    short, long = worked_forward([1.0], h0=1.0, c0=2.0, dtype=dtype)
    assert long == pytest.approx(2.9476, abs=WORKED_TOL)
    assert short == pytest.approx(0.9862, abs=WORKED_TOL)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("inputs,expected", [([0, 0.5, 0.25, 1], 0.0064),
                                             ([1, 0.5, 0.25, 1], 0.9694)])
def test_worked_example_four_days(inputs, expected, dtype):
    short, _ = worked_forward(inputs, h0=0.0, c0=0.0, dtype=dtype)
    assert short == pytest.approx(expected, abs=WORKED_TOL)
