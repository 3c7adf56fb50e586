"""The character model: shapes, names, initialisation, gradients, state dicts."""
import numpy as np
import pytest

from numbarnn.losses import cross_entropy, softmax_cross_entropy
from numbarnn.text.model import CharRNN

V, H, T, B = 5, 3, 4, 2


def problem(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
@pytest.mark.parametrize("embedding_dim", [0, 4])
@pytest.mark.parametrize("num_layers, dropout", [(1, 0.0), (2, 0.3)])
def test_gradients_match_finite_differences(cell, embedding_dim, num_layers, dropout):
    model = CharRNN(V, H, num_layers, cell, embedding_dim, dropout=dropout, dtype=np.float64,
                    seed=1)
    tokens, targets = problem()
    start = model.random_state()  # the same dropout masks in every forward below

    def loss():
        model.set_random_state(start)
        logits, _ = model.forward(tokens, train=True)
        return cross_entropy(logits.reshape(-1, V), targets.reshape(-1))

    model.set_random_state(start)
    logits, _ = model.forward(tokens)
    flat = logits.reshape(-1, V)
    softmax_cross_entropy(flat, targets.reshape(-1), flat)
    model.backward(logits)
    grads = {k: g.copy() for k, g in model.grads.items()}
    for name, p in model.params.items():
        numeric = np.zeros(p.shape)
        for idx in np.ndindex(p.shape):
            orig = p[idx]
            p[idx] = orig + 1e-6
            plus = loss()
            p[idx] = orig - 1e-6
            minus = loss()
            p[idx] = orig
            numeric[idx] = (plus - minus) / 2e-6
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-9, err_msg=name)


def test_names_shapes_and_forget_bias():
    model = CharRNN(V, H, num_layers=2, embedding_dim=4, seed=0)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {
        "embedding.weight": (V, 4),
        "rnn.weight_ih_l0": (4 * H, 4), "rnn.weight_hh_l0": (4 * H, H),
        "rnn.bias_ih_l0": (4 * H,), "rnn.bias_hh_l0": (4 * H,),
        "rnn.weight_ih_l1": (4 * H, H), "rnn.weight_hh_l1": (4 * H, H),
        "rnn.bias_ih_l1": (4 * H,), "rnn.bias_hh_l1": (4 * H,),
        "head.weight": (V, H), "head.bias": (V,),
    }
    for k in range(2):
        total = model.params[f"rnn.bias_ih_l{k}"] + model.params[f"rnn.bias_hh_l{k}"]
        np.testing.assert_array_equal(total[H:2 * H], 1.0)  # gate order i, f, g, o
        assert np.all(np.abs(total[:H]) <= 1 / np.sqrt(H) * 2)
    assert set(model.grads) == set(model.params)
    assert model.grads["head.weight"] is model.head.grads["weight"]


def test_one_hot_and_embedding_agree_when_the_embedding_is_the_identity():
    one_hot = CharRNN(V, H, seed=3, dtype=np.float64)
    embedded = CharRNN(V, H, embedding_dim=V, seed=3, dtype=np.float64)
    sd = one_hot.state_dict()
    sd["embedding.weight"] = np.eye(V)
    embedded.load_state_dict(sd)
    tokens, _ = problem()
    a, _ = one_hot.forward(tokens, train=False)
    b, _ = embedded.forward(tokens, train=False)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)


def test_state_carried_between_chunks_equals_one_long_forward():
    model = CharRNN(V, H, num_layers=2, dtype=np.float64, seed=0)
    tokens = np.random.default_rng(0).integers(0, V, (10, B))
    whole, _ = model.forward(tokens, train=False)
    first, state = model.forward(tokens[:6], train=False)
    second, _ = model.forward(tokens[6:], state, train=False)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=0, atol=1e-13)


def test_state_dict_round_trip_and_all_or_nothing():
    a, b = CharRNN(V, H, seed=0), CharRNN(V, H, seed=1)
    b.load_state_dict(a.state_dict())
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    before = b.state_dict()
    bad = a.state_dict()
    bad["head.bias"] = np.zeros(V + 1)
    with pytest.raises(ValueError, match="head.bias|bias"):
        b.load_state_dict(bad)
    for k in before:
        np.testing.assert_array_equal(b.params[k], before[k])
    with pytest.raises(ValueError, match="missing keys"):
        b.load_state_dict({"head.bias": np.zeros(V)})


def test_torch_parity_of_the_logits():
    torch = pytest.importorskip("torch")
    model = CharRNN(V, H, num_layers=2, dtype=np.float64, seed=0)
    lstm = torch.nn.LSTM(V, H, num_layers=2, dtype=torch.float64)
    head = torch.nn.Linear(H, V, dtype=torch.float64)
    lstm.load_state_dict({k[4:]: torch.from_numpy(v) for k, v in model.params.items()
                          if k.startswith("rnn.")})
    head.load_state_dict({k[5:]: torch.from_numpy(v) for k, v in model.params.items()
                          if k.startswith("head.")})
    tokens, _ = problem()
    x = torch.nn.functional.one_hot(torch.from_numpy(tokens), V).double()
    want = head(lstm(x)[0]).detach().numpy()
    got, _ = model.forward(tokens, train=False)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"vocab_size": 0}, "vocab_size"), ({"hidden_size": 2.5}, "hidden_size"),
    ({"cell": "tree"}, "cell"), ({"embedding_dim": -1}, "embedding_dim"),
    ({"dropout": 1.0}, "dropout"), ({"dtype": np.int32}, "dtype"),
])
def test_bad_arguments(kwargs, message):
    args = {"vocab_size": V, "hidden_size": H, **kwargs}
    with pytest.raises(ValueError, match=message):
        CharRNN(**args)


def test_bad_tokens():
    model = CharRNN(V, H)
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 5\)"):
        model.forward(np.full((2, 2), V))
    with pytest.raises(ValueError, match="integer token ids"):
        model.forward(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"expected \(T, B\)"):
        model.forward(np.zeros(3, int))
