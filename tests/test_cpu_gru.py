"""Kernel-level tests of ``numbarnn.kernels.gru_forward`` / ``gru_backward``.

As for the LSTM (test_cpu_lstm.py): the kernels are called directly with
preallocated, NaN-filled output buffers and compared with the NumPy reference
in ``tests/reference.py``.
"""
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import reference as ref
from numbarnn import kernels

INPUTS = ("x", "h0", "w_ih", "w_hh", "bias_ih", "bias_hh", "dout", "dh_n")
RESULTS = ("out", "h_n", "dx", "dh0", "dw_ih", "dw_hh", "dbias_ih", "dbias_hh")


def make_case(T, B, D, H, seed=0):
    rng = np.random.default_rng(seed)

    def u(*shape):
        return rng.uniform(-1.0, 1.0, shape)

    return dict(x=u(T, B, D), h0=u(B, H), w_ih=u(3 * H, D), w_hh=u(3 * H, H),
                bias_ih=u(3 * H), bias_hh=u(3 * H), dout=u(T, B, H), dh_n=u(B, H))


def nan_array(shape, dtype):
    return np.full(shape, np.nan, dtype=dtype)


def kernel_forward(case, dtype=np.float64, S=None, K=None):
    """Run ``gru_forward``; S = T (training) by default, K = T by default."""
    a = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in case.items()}
    T, B, _ = a["x"].shape
    H = a["h0"].shape[1]
    S = T if S is None else S
    K = T if K is None else K
    res = dict(out=nan_array((T, B, H), dtype), h_n=nan_array((B, H), dtype),
               gates=nan_array((S, B, 3 * H), dtype), hidden_n=nan_array((S, B, H), dtype))
    kernels.gru_forward(a["x"], a["h0"], a["w_ih"], a["w_hh"], a["bias_ih"], a["bias_hh"],
                        res["out"], res["h_n"], res["gates"], res["hidden_n"],
                        nan_array((K, B, 3 * H), dtype))
    return a, res


def kernel_run(case, dtype=np.float64, K=None):
    a, res = kernel_forward(case, dtype, K=K)
    for name, like in (("dx", "x"), ("dh0", "h0"), ("dw_ih", "w_ih"), ("dw_hh", "w_hh"),
                       ("dbias_ih", "bias_ih"), ("dbias_hh", "bias_hh")):
        res[name] = nan_array(a[like].shape, dtype)
    T, B, _ = a["x"].shape
    kernels.gru_backward(a["x"], a["h0"], a["w_ih"], a["w_hh"], res["out"], res["gates"],
                         res["hidden_n"], a["dout"], a["dh_n"], res["dx"], res["dh0"],
                         res["dw_ih"], res["dw_hh"], res["dbias_ih"], res["dbias_hh"],
                         nan_array((T, B, a["w_ih"].shape[0]), dtype))
    return res


def reference_run(case):
    out, h_n, cache = ref.gru_forward(case["x"], case["h0"], case["w_ih"], case["w_hh"],
                                      case["bias_ih"], case["bias_hh"])
    grads = ref.gru_backward(case["w_ih"], case["w_hh"], cache, case["dout"], case["dh_n"])
    return dict(zip(RESULTS, (out, h_n) + grads))


def assert_results_close(got, want, rtol, atol):
    for name in RESULTS:
        np.testing.assert_allclose(got[name], want[name], rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("T,B,D,H", [(1, 1, 1, 1), (1, 3, 2, 4), (5, 2, 3, 4), (7, 1, 4, 3)])
def test_float64_matches_reference(T, B, D, H):
    case = make_case(T, B, D, H, seed=T * 1000 + B * 100 + D * 10 + H)
    assert_results_close(kernel_run(case), reference_run(case), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("source", ["dout", "dh_n"])
def test_each_gradient_source_alone(source):
    case = make_case(4, 2, 3, 3, seed=7)
    other = "dh_n" if source == "dout" else "dout"
    case[other] = np.zeros_like(case[other])
    got, want = kernel_run(case), reference_run(case)
    assert np.abs(want["dh0"]).max() > 1e-3
    assert_results_close(got, want, rtol=1e-12, atol=1e-12)


def test_the_n_gate_keeps_its_recurrent_bias_apart():
    """b_hn sits inside r * (W_hn h + b_hn): moving it into b_in changes the result (so
    the kernel cannot be adding the two biases as the LSTM's kernel may)."""
    case = make_case(3, 2, 2, 3, seed=8)
    _, a = kernel_forward(case)
    H = 3
    moved = dict(case, bias_ih=case["bias_ih"].copy(), bias_hh=case["bias_hh"].copy())
    moved["bias_ih"][2 * H:] += moved["bias_hh"][2 * H:]
    moved["bias_hh"][2 * H:] = 0
    _, b = kernel_forward(moved)
    assert np.abs(a["out"] - b["out"]).max() > 1e-3
    np.testing.assert_allclose(a["out"], reference_run(case)["out"], rtol=1e-12, atol=1e-12)


def test_float32_matches_float64_reference():
    case = make_case(6, 3, 4, 5, seed=3)
    got = kernel_run(case, np.float32)
    for name in RESULTS:
        assert got[name].dtype == np.float32, name
    assert_results_close(got, reference_run(case), rtol=1e-5, atol=1e-5)


def test_does_not_modify_its_inputs():
    case = make_case(4, 2, 3, 3, seed=11)
    a = {k: np.ascontiguousarray(v) for k, v in case.items()}
    before = {k: v.copy() for k, v in a.items()}
    res = kernel_run(a)
    assert not np.isnan(res["dx"]).any()
    for name in INPUTS:
        np.testing.assert_array_equal(a[name], before[name], err_msg=name)


@pytest.mark.parametrize("S", [1, 5], ids=["S=1", "S=T"])
@pytest.mark.parametrize("K", [1, 3, 5, 9], ids=["K=1", "K=3", "K=T", "K>T"])
def test_chunked_and_inference_forward_match_training_forward(K, S):
    case = make_case(5, 2, 3, 4, seed=5)
    _, want = kernel_forward(case)
    _, got = kernel_forward(case, S=S, K=K)
    for name in ("out", "h_n"):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-13, atol=1e-13, err_msg=name)
    for name in ("gates", "hidden_n"):  # every step kept for S = T, the last for S = 1
        np.testing.assert_allclose(got[name], want[name][5 - S:], rtol=1e-13, atol=1e-13,
                                   err_msg=name)


def test_chunked_training_forward_backward_matches_reference():
    case = make_case(7, 2, 3, 4, seed=9)
    assert_results_close(kernel_run(case, K=3), reference_run(case), rtol=1e-12, atol=1e-12)


def test_token_ids_equal_one_hot_inputs():
    rng = np.random.default_rng(12)
    T, B, V, H = 5, 3, 6, 4
    case = make_case(T, B, V, H, seed=12)
    tokens = rng.integers(0, V, (T, B))
    case["x"] = np.eye(V)[tokens]
    want = kernel_run(case)
    out, h_n = np.full((T, B, H), np.nan), np.full((B, H), np.nan)
    gates, hidden = np.full((T, B, 3 * H), np.nan), np.full((T, B, H), np.nan)
    kernels.gru_forward(tokens, case["h0"], case["w_ih"], case["w_hh"], case["bias_ih"],
                        case["bias_hh"], out, h_n, gates, hidden, np.full((2, B, 3 * H), np.nan))
    np.testing.assert_allclose(out, want["out"], rtol=1e-13, atol=1e-14)
    grads = [np.full(s, np.nan) for s in ((0, B, V), (B, H), (3 * H, V), (3 * H, H), (3 * H,),
                                          (3 * H,))]
    kernels.gru_backward(tokens, case["h0"], case["w_ih"], case["w_hh"], out, gates, hidden,
                         case["dout"], case["dh_n"], *grads, np.full((T, B, 3 * H), np.nan))
    for got_g, name in zip(grads[1:], ("dh0", "dw_ih", "dw_hh", "dbias_ih", "dbias_hh")):
        np.testing.assert_allclose(got_g, want[name], rtol=1e-12, atol=1e-13, err_msg=name)


@settings(max_examples=20, deadline=None)
@given(T=st.integers(1, 6), B=st.integers(1, 6), D=st.integers(1, 6), H=st.integers(1, 6),
       seed=st.integers(0, 2**32 - 1))
@example(T=1, B=1, D=1, H=1, seed=0)
@example(T=6, B=1, D=2, H=1, seed=1)
def test_random_shapes_match_reference(T, B, D, H, seed):
    case = make_case(T, B, D, H, seed)
    assert_results_close(kernel_run(case), reference_run(case), rtol=1e-12, atol=1e-12)


def test_lengths_stop_each_sequence_at_its_own_end():
    """With ``lengths`` each row is its own sequence alone: outputs, final state and
    gradients (dh_n entering at the row's last step) as the reference on its prefix."""
    T, B, D, H = 5, 3, 2, 4
    case = make_case(T, B, D, H, seed=13)
    lengths = np.array([5, 2, 1], np.int64)
    a = {k: np.ascontiguousarray(v) for k, v in case.items()}
    out, h_n = nan_array((T, B, H), np.float64), nan_array((B, H), np.float64)
    gates, hidden = nan_array((T, B, 3 * H), np.float64), nan_array((T, B, H), np.float64)
    kernels.gru_forward(a["x"], a["h0"], a["w_ih"], a["w_hh"], a["bias_ih"], a["bias_hh"], out,
                        h_n, gates, hidden, nan_array((2, B, 3 * H), np.float64), lengths)
    dx, dh0 = nan_array((T, B, D), np.float64), nan_array((B, H), np.float64)
    kernels.gru_backward(a["x"], a["h0"], a["w_ih"], a["w_hh"], out, gates, hidden, a["dout"],
                         a["dh_n"], dx, dh0, nan_array((3 * H, D), np.float64),
                         nan_array((3 * H, H), np.float64), nan_array((3 * H,), np.float64),
                         nan_array((3 * H,), np.float64), nan_array((T, B, 3 * H), np.float64),
                         lengths)
    for b, n in enumerate(lengths):
        one = {k: (v[:n, b:b + 1] if k in ("x", "dout") else v[b:b + 1] if k in ("h0", "dh_n")
                   else v) for k, v in case.items()}
        want = reference_run(one)
        np.testing.assert_allclose(out[:n, b:b + 1], want["out"], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(h_n[b:b + 1], want["h_n"], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(dx[:n, b:b + 1], want["dx"], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(dh0[b:b + 1], want["dh0"], rtol=1e-12, atol=1e-13)
        assert (out[n:, b] == 0).all() and (dx[n:, b] == 0).all()
