"""Kernel-level tests of ``numbarnn.kernels.rnn_forward`` / ``rnn_backward``.

The kernels are called directly with preallocated arrays, as their docstrings
describe, and compared with the plain NumPy reference in ``tests/reference.py``
for both nonlinearities.  Every output buffer is pre-filled with NaN, so a
kernel that reads a buffer before writing it (or accumulates into it) fails.
"""
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import reference as ref
from numbarnn import kernels

INPUTS = ("x", "h0", "w_ih", "w_hh", "bias", "dout", "dh_n")
RESULTS = ("out", "h_n", "dx", "dh0", "dw_ih", "dw_hh", "dbias")
NONLINEARITIES = pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
CODES = {"tanh": kernels.TANH, "relu": kernels.RELU}


def make_case(T, B, D, H, seed=0):
    """Random float64 inputs, weights and gradients arriving at the outputs and final state."""
    rng = np.random.default_rng(seed)

    def u(*shape):
        return rng.uniform(-1.0, 1.0, shape)

    return dict(x=u(T, B, D), h0=u(B, H), w_ih=u(H, D), w_hh=u(H, H), bias=u(H),
                dout=u(T, B, H), dh_n=u(B, H))


def nan_array(shape, dtype):
    return np.full(shape, np.nan, dtype=dtype)


def kernel_forward(case, nonlinearity, dtype=np.float64, K=None):
    a = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in case.items()}
    T, B, _ = a["x"].shape
    H = a["h0"].shape[1]
    K = T if K is None else K
    res = dict(out=nan_array((T, B, H), dtype), h_n=nan_array((B, H), dtype))
    kernels.rnn_forward(a["x"], a["h0"], a["w_ih"], a["w_hh"], a["bias"], CODES[nonlinearity],
                        res["out"], res["h_n"], nan_array((K, B, H), dtype))
    return a, res


def kernel_backward(a, res, nonlinearity):
    dtype = a["x"].dtype
    for name, like in (("dx", "x"), ("dh0", "h0"), ("dw_ih", "w_ih"), ("dw_hh", "w_hh"),
                       ("dbias", "bias")):
        res[name] = nan_array(a[like].shape, dtype)
    kernels.rnn_backward(a["x"], a["h0"], a["w_ih"], a["w_hh"], CODES[nonlinearity], res["out"],
                         a["dout"], a["dh_n"], res["dx"], res["dh0"], res["dw_ih"], res["dw_hh"],
                         res["dbias"], nan_array(res["out"].shape, dtype))
    return res


def kernel_run(case, nonlinearity, dtype=np.float64, K=None):
    """Forward then backward; the outputs, final state and every gradient."""
    a, res = kernel_forward(case, nonlinearity, dtype, K)
    return kernel_backward(a, res, nonlinearity)


def reference_run(case, nonlinearity):
    out, h_n, cache = ref.rnn_forward(case["x"], case["h0"], case["w_ih"], case["w_hh"],
                                      case["bias"], nonlinearity)
    grads = ref.rnn_backward(case["w_ih"], case["w_hh"], cache, case["dout"], case["dh_n"],
                             nonlinearity)
    return dict(zip(RESULTS, (out, h_n) + grads))


def assert_results_close(got, want, rtol, atol):
    for name in RESULTS:
        np.testing.assert_allclose(got[name], want[name], rtol=rtol, atol=atol, err_msg=name)


SHAPES = [(1, 1, 1, 1), (1, 3, 2, 4), (5, 2, 3, 4), (7, 1, 4, 3), (4, 3, 1, 1)]


@NONLINEARITIES
@pytest.mark.parametrize("T,B,D,H", SHAPES)
def test_float64_matches_reference(T, B, D, H, nonlinearity):
    case = make_case(T, B, D, H, seed=T * 1000 + B * 100 + D * 10 + H)
    want = reference_run(case, nonlinearity)
    assert_results_close(kernel_run(case, nonlinearity), want, rtol=1e-12, atol=1e-12)


@NONLINEARITIES
@pytest.mark.parametrize("source", ["dout", "dh_n"])
def test_each_gradient_source_alone(source, nonlinearity):
    """Only dout or only dh_n is nonzero: each path into the past is right on its own."""
    case = make_case(4, 2, 3, 3, seed=7)
    other = "dh_n" if source == "dout" else "dout"
    case[other] = np.zeros_like(case[other])
    got, want = kernel_run(case, nonlinearity), reference_run(case, nonlinearity)
    assert np.abs(want["dh0"]).max() > 1e-3
    assert_results_close(got, want, rtol=1e-12, atol=1e-12)


def test_nonlinearities_differ():
    """The code selects the activation: relu output is nonnegative, tanh's is not, on one case."""
    case = make_case(3, 4, 3, 5, seed=2)
    tanh_out = kernel_run(case, "tanh")["out"]
    relu_out = kernel_run(case, "relu")["out"]
    assert relu_out.min() == 0.0 and (relu_out > 0).any()
    assert tanh_out.min() < 0


@NONLINEARITIES
def test_float32_matches_float64_reference(nonlinearity):
    case = make_case(6, 3, 4, 5, seed=3)
    got = kernel_run(case, nonlinearity, np.float32)
    for name in RESULTS:
        assert got[name].dtype == np.float32, name
    assert_results_close(got, reference_run(case, nonlinearity), rtol=1e-5, atol=1e-5)


@NONLINEARITIES
def test_does_not_modify_its_inputs(nonlinearity):
    case = make_case(4, 2, 3, 3, seed=11)
    a, res = kernel_forward(case, nonlinearity)
    before = {k: v.copy() for k, v in a.items()}
    kernel_backward(a, res, nonlinearity)
    for name in INPUTS:
        np.testing.assert_array_equal(a[name], before[name], err_msg=name)


CHUNK_T = 5


@NONLINEARITIES
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("K", [1, 3, CHUNK_T, CHUNK_T + 4], ids=["K=1", "K=3", "K=T", "K>T"])
def test_chunked_forward_matches_unchunked(K, dtype, rtol, nonlinearity):
    case = make_case(CHUNK_T, 2, 3, 4, seed=5)
    _, want = kernel_forward(case, nonlinearity, dtype)
    _, got = kernel_forward(case, nonlinearity, dtype, K=K)
    for name in ("out", "h_n"):
        np.testing.assert_allclose(got[name], want[name], rtol=rtol, atol=rtol, err_msg=name)


@NONLINEARITIES
def test_chunked_forward_backward_matches_reference(nonlinearity):
    case = make_case(7, 2, 3, 4, seed=9)
    want = reference_run(case, nonlinearity)
    assert_results_close(kernel_run(case, nonlinearity, K=3), want, rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 6), B=st.integers(1, 6), D=st.integers(1, 6), H=st.integers(1, 6),
       nonlinearity=st.sampled_from(["tanh", "relu"]), seed=st.integers(0, 2**32 - 1))
@example(T=1, B=1, D=1, H=1, nonlinearity="tanh", seed=0)
@example(T=1, B=1, D=1, H=1, nonlinearity="relu", seed=0)
@example(T=6, B=1, D=2, H=1, nonlinearity="relu", seed=1)
@example(T=1, B=6, D=6, H=6, nonlinearity="tanh", seed=2)
def test_random_shapes_match_reference(T, B, D, H, nonlinearity, seed):
    case = make_case(T, B, D, H, seed)
    want = reference_run(case, nonlinearity)
    assert_results_close(kernel_run(case, nonlinearity), want, rtol=1e-12, atol=1e-12)
