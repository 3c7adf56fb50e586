"""The linear head's kernels (``kernels/cpu_linear.py``) and ``numbarnn.layers.Linear``:
against NumPy, finite differences and torch."""
import numpy as np
import pytest

from numbarnn.kernels.cpu_linear import linear_backward, linear_forward
from numbarnn.layers import Linear


def _arrays(N, I, O, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, I)).astype(dtype), rng.standard_normal((O, I)).astype(dtype),
            rng.standard_normal(O).astype(dtype), rng.standard_normal((N, O)).astype(dtype))


# shapes around the tile's sizes: rows 1..9 (whole tiles of 4 and rows left over), columns
# below, at and past a panel (64 float32, 32 float64), an inner size of 1
@pytest.mark.parametrize("N, I, O", [(1, 1, 1), (3, 5, 17), (9, 70, 65), (64, 33, 130),
                                     (300, 2, 3)])
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 2e-5)])
def test_kernels_match_numpy(N, I, O, dtype, tol):
    x, w, b, dy = _arrays(N, I, O, dtype)
    y = np.full((N, O), np.nan, dtype)
    linear_forward(x, w, b, y)
    np.testing.assert_allclose(y, x @ w.T + b, rtol=tol, atol=tol * I)
    dx, dw, db = (np.full(a.shape, np.nan, dtype) for a in (x, w, b))
    linear_backward(x, dy, w, dx, dw, db)
    np.testing.assert_allclose(dx, dy @ w, rtol=tol, atol=tol * O)
    np.testing.assert_allclose(dw, dy.T @ x, rtol=tol, atol=tol * N)
    np.testing.assert_allclose(db, dy.sum(axis=0), rtol=tol, atol=tol * N)


def test_kernels_without_bias_or_input_gradient():
    x, w, b, dy = _arrays(6, 4, 3, "float64")
    y = np.empty((6, 3))
    linear_forward(x, w, np.zeros(0), y)
    np.testing.assert_allclose(y, x @ w.T, rtol=1e-12)
    dw = np.empty_like(w)
    linear_backward(x, dy, w, np.empty((0, 4)), dw, np.zeros(0))  # no dx, no bias
    np.testing.assert_allclose(dw, dy.T @ x, rtol=1e-12)


def _numeric_gradient(loss, array, eps=1e-6):
    """Central differences of ``loss()`` in every element of ``array`` (changed in place,
    then restored)."""
    numeric = np.empty_like(array)
    for i in np.ndindex(array.shape):
        keep = array[i]
        array[i] = keep + eps
        up = loss()
        array[i] = keep - eps
        numeric[i] = (up - loss()) / (2 * eps)
        array[i] = keep
    return numeric


@pytest.mark.parametrize("bias", [True, False])
def test_layer_gradients_match_finite_differences(bias):
    layer = Linear(4, 3, bias=bias, dtype=np.float64, seed=1)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 5, 4))  # any leading shape
    dy = rng.standard_normal((2, 5, 3))

    def loss():
        return float(np.sum(layer.forward(x, train=False) * dy))

    layer.forward(x)
    dx = layer.backward(dy)
    for name, param in layer.params.items():
        np.testing.assert_allclose(layer.grads[name], _numeric_gradient(loss, param),
                                   rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(dx, _numeric_gradient(loss, x), rtol=1e-7, atol=1e-9)
    assert dx.shape == x.shape


def test_layer_takes_strided_input():
    layer = Linear(3, 2, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((6, 5))[:, 1:4:1][::2]  # not contiguous
    np.testing.assert_allclose(layer.forward(x),
                               x @ layer.params["weight"].T + layer.params["bias"], rtol=1e-12)


def test_layer_bad_gradient_shape_is_one_error():
    layer = Linear(3, 2, dtype=np.float64)
    layer.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="dy: got shape"):
        layer.backward(np.zeros((4, 3)))


def test_layer_matches_torch():
    torch = pytest.importorskip("torch")
    layer = Linear(7, 5, dtype=np.float64, seed=3)
    twin = torch.nn.Linear(7, 5, dtype=torch.float64)
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.params["weight"]))
        twin.bias.copy_(torch.from_numpy(layer.params["bias"]))
    rng = np.random.default_rng(4)
    x, dy = rng.standard_normal((3, 4, 7)), rng.standard_normal((3, 4, 5))
    xt = torch.from_numpy(x).requires_grad_()
    out = twin(xt)
    out.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(layer.forward(x), out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["weight"], twin.weight.grad.numpy(), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], twin.bias.grad.numpy(), rtol=1e-10,
                               atol=1e-12)


def test_kernels_take_any_memory_order():
    x, w, b, dy = _arrays(7, 5, 3, "float64", seed=5)
    w, dy, x = np.asfortranarray(w), np.asfortranarray(dy), np.asfortranarray(x)
    y = np.empty((7, 3))
    linear_forward(x, w, b, y)
    np.testing.assert_allclose(y, x @ w.T + b, rtol=1e-12)
    dx, dw, db = np.empty((7, 5)), np.empty((3, 5)), np.empty(3)
    linear_backward(x, dy, w, dx, dw, db)
    np.testing.assert_allclose(dx, dy @ w, rtol=1e-12)
    np.testing.assert_allclose(dw, dy.T @ x, rtol=1e-12)
    np.testing.assert_allclose(db, dy.sum(axis=0), rtol=1e-12)
