"""Tests of ``numbarnn.losses``: fused softmax cross-entropy, MSE and MAE.

The cross-entropy is checked against a NumPy log-sum-exp reference (float64 to
1e-12, float32 to ~1e-6), its gradient against central finite differences, with
huge logits, and with the gradient written over the logits.  MSE and MAE are
checked against numbers worked out by hand.
"""
import numpy as np
import pytest

from numbarnn.losses import cross_entropy, mae_loss, mse_loss, softmax_cross_entropy


def reference_cross_entropy(logits, targets):
    """Mean negative log-likelihood in float64, via a max-shifted log-sum-exp."""
    x = np.asarray(logits, np.float64)
    top = x.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(x - top).sum(axis=1))
    return float(np.mean(lse - x[np.arange(len(x)), targets]))


def reference_gradient(logits, targets):
    x = np.asarray(logits, np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    grad = e / e.sum(axis=1, keepdims=True)
    grad[np.arange(len(x)), targets] -= 1.0
    return grad / len(x)


def random_problem(n=5, v=7, dtype=np.float64, seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    logits = (scale * rng.normal(size=(n, v))).astype(dtype)
    targets = rng.integers(0, v, size=n).astype(np.int64)
    return logits, targets


TOL = {np.float64: 1e-12, np.float32: 1e-6}


# --------------------------------------------------------------------------- values
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_matches_reference(dtype):
    logits, targets = random_problem(dtype=dtype)
    expected = reference_cross_entropy(logits, targets)
    assert cross_entropy(logits, targets) == pytest.approx(expected, rel=TOL[dtype])
    dlogits = np.empty_like(logits)
    loss = softmax_cross_entropy(logits, targets, dlogits)
    assert loss == pytest.approx(expected, rel=TOL[dtype])
    np.testing.assert_allclose(dlogits, reference_gradient(logits, targets),
                               rtol=TOL[dtype] * 10, atol=TOL[dtype] / 10)


def test_cross_entropy_by_hand():
    # uniform logits over 4 classes: loss log 4; one confident correct row: ~0
    logits = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 50.0, 0.0]])
    targets = np.array([1, 2])
    expected = (np.log(4.0) + np.log1p(3 * np.exp(-50.0))) / 2
    assert cross_entropy(logits, targets) == pytest.approx(expected, rel=1e-14)
    dlogits = np.zeros_like(logits)
    softmax_cross_entropy(logits, targets, dlogits)
    np.testing.assert_allclose(dlogits[0], [0.125, -0.375, 0.125, 0.125], rtol=1e-14)


@pytest.mark.parametrize("target_dtype", [np.int64, np.int32, np.intp])
def test_targets_of_any_integer_type(target_dtype):
    logits, targets = random_problem(n=3, v=4)
    expected = reference_cross_entropy(logits, targets)
    assert cross_entropy(logits, targets.astype(target_dtype)) == pytest.approx(expected,
                                                                                rel=1e-12)


# -------------------------------------------------------------------------- gradient
def test_gradient_matches_central_differences():
    logits, targets = random_problem(n=4, v=6, seed=3, scale=1.0)
    dlogits = np.empty_like(logits)
    softmax_cross_entropy(logits, targets, dlogits)
    eps = 1e-6
    numeric = np.empty_like(logits)
    for index in np.ndindex(logits.shape):
        plus, minus = logits.copy(), logits.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = (cross_entropy(plus, targets) - cross_entropy(minus, targets)) / (2 * eps)
    np.testing.assert_allclose(dlogits, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_rows_sum_to_zero(dtype):
    logits, targets = random_problem(n=6, v=9, dtype=dtype, seed=5)
    dlogits = np.empty_like(logits)
    softmax_cross_entropy(logits, targets, dlogits)
    np.testing.assert_allclose(dlogits.astype(np.float64).sum(axis=1), 0.0,
                               atol=1e-15 if dtype == np.float64 else 1e-7)
    # the target column is the only negative entry of each row
    n = np.arange(len(targets))
    assert np.all(dlogits[n, targets] < 0)
    mask = np.ones(dlogits.shape, bool)
    mask[n, targets] = False
    assert np.all(dlogits[mask] > 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_may_overwrite_the_logits(dtype):
    logits, targets = random_problem(n=4, v=5, dtype=dtype, seed=2)
    separate = np.empty_like(logits)
    expected_loss = softmax_cross_entropy(logits, targets, separate)
    inplace = logits.copy()
    loss = softmax_cross_entropy(inplace, targets, inplace)
    # the same maths; only the vectorisation may differ (the compiler cannot assume
    # that aliased arrays do not overlap), so allow a few units in the last place
    assert loss == pytest.approx(expected_loss, rel=float(4 * np.finfo(dtype).eps))
    np.testing.assert_allclose(inplace, separate, rtol=4 * np.finfo(dtype).eps, atol=0)
    np.testing.assert_allclose(inplace, reference_gradient(logits, targets),
                               rtol=TOL[dtype] * 10, atol=TOL[dtype] / 10)


# ------------------------------------------------------------------------- stability
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_huge_logits_give_finite_correct_values(dtype):
    logits = np.array([[1e4, 0.0, -1e4],
                       [1e4, 1e4, -1e4],
                       [-1e4, -1e4, -1e4],
                       [1e4, -1e4, 0.0]], dtype)
    targets = np.array([0, 1, 2, 1])
    # rows: log(1 + e^-1e4 + ...) ~ 0; log 2; log 3; 2e4
    expected = (0.0 + np.log(2.0) + np.log(3.0) + 2e4) / 4
    loss = cross_entropy(logits, targets)
    assert np.isfinite(loss)
    assert loss == pytest.approx(expected, rel=TOL[dtype])
    assert loss == pytest.approx(reference_cross_entropy(logits, targets), rel=TOL[dtype])
    dlogits = np.empty_like(logits)
    assert softmax_cross_entropy(logits, targets, dlogits) == pytest.approx(expected,
                                                                            rel=TOL[dtype])
    assert np.all(np.isfinite(dlogits))
    expected_grad = np.array([[0.0, 0.0, 0.0],
                              [0.5, -0.5, 0.0],
                              [1 / 3, 1 / 3, -2 / 3],
                              [1.0, -1.0, 0.0]]) / 4
    np.testing.assert_allclose(dlogits, expected_grad, atol=1e-7)


def test_nan_logits_propagate():
    logits = np.array([[0.0, np.nan, 1.0]])
    assert np.isnan(cross_entropy(logits, np.array([0])))


# ---------------------------------------------------------------------------- MSE, MAE
def test_mse_loss_by_hand():
    pred = np.array([[1.0, 2.0], [3.0, 4.0]])
    target = np.array([[0.0, 2.0], [5.0, 3.5]])
    loss, grad = mse_loss(pred, target)
    # diffs 1, 0, -2, 0.5: mean of squares (1 + 0 + 4 + 0.25) / 4
    assert loss == pytest.approx(1.3125, rel=1e-15)
    assert isinstance(loss, float)
    np.testing.assert_allclose(grad, [[0.5, 0.0], [-1.0, 0.25]], rtol=1e-15)
    assert grad.shape == pred.shape
    np.testing.assert_array_equal(pred, [[1.0, 2.0], [3.0, 4.0]])    # inputs untouched


def test_mae_loss_by_hand():
    pred = np.array([1.0, 2.0, 3.0, 4.0])
    target = np.array([0.0, 2.0, 5.0, 3.5])
    loss, grad = mae_loss(pred, target)
    assert loss == pytest.approx(3.5 / 4, rel=1e-15)
    assert isinstance(loss, float)
    np.testing.assert_array_equal(grad, [0.25, 0.0, -0.25, 0.25])


@pytest.mark.parametrize("loss_fn", [mse_loss, mae_loss])
def test_regression_gradients_match_central_differences(loss_fn):
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    _, grad = loss_fn(pred, target)
    eps = 1e-6
    for index in np.ndindex(pred.shape):
        plus, minus = pred.copy(), pred.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric = (loss_fn(plus, target)[0] - loss_fn(minus, target)[0]) / (2 * eps)
        assert grad[index] == pytest.approx(numeric, rel=1e-6, abs=1e-10)


@pytest.mark.parametrize("loss_fn", [mse_loss, mae_loss])
def test_regression_loss_keeps_float32(loss_fn):
    pred = np.array([1.0, -1.0], np.float32)
    _, grad = loss_fn(pred, np.zeros(2, np.float32))
    assert grad.dtype == np.float32


@pytest.mark.parametrize("dtype, ulps, low, high", [
    (np.float32, 0.6, -86.6, 88.7), (np.float64, 1.0, -707.0, 709.7)])
def test_softmax_exp_is_within_an_ulp(dtype, ulps, low, high):
    from numba import njit

    from numbarnn.kernels._jit import exp

    @njit
    def exp_all(a, out):
        for i in range(a.size):
            out[i] = exp(a[i])

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(low, high, 100_000), rng.uniform(-1, 1, 10_000),
                        [0.0, -0.0, 1e-30, low, high]]).astype(dtype)
    out = np.full_like(x, np.nan)
    exp_all(x, out)
    exact = np.exp(x.astype(np.longdouble))
    error = np.abs(out.astype(np.longdouble) - exact) / np.spacing(exact.astype(dtype))
    assert float(error.max()) <= ulps
    specials = np.array([-np.inf, np.inf, np.nan, -1e4, 1e4], dtype)
    out = np.empty_like(specials)
    exp_all(specials, out)
    assert out[0] == 0 and out[1] == np.inf and np.isnan(out[2]) and out[3] == 0 \
        and out[4] == np.inf
