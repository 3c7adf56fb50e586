"""Layer-level tests of ``numbarnn.LSTM``, ``numbarnn.RNN`` and ``numbarnn.GRU``: the public
contract of DESIGN.md (bidirectional layers and ``lengths``: test_layers_directions.py).

Finite-difference gradient checks of every parameter, the input and the initial
state; a stacked NumPy reference; PyTorch parity (skipped without torch);
state dicts; dropout; seeding; input validation; and independence of the
returned arrays from the layer's internal buffers.
"""
import warnings

import numba
import numpy as np
import pytest

import numbarnn
import reference as ref

CELLS = ["lstm", "rnn_tanh", "rnn_relu", "gru"]
GATES = {"lstm": 4, "gru": 3}
T, B, D, H = 3, 2, 3, 4


# ------------------------------------------------------------------------------------ helpers
def make_layer(cell, input_size=D, hidden_size=H, **kw):
    if cell == "lstm":
        return numbarnn.LSTM(input_size, hidden_size, **kw)
    if cell == "gru":
        return numbarnn.GRU(input_size, hidden_size, **kw)
    return numbarnn.RNN(input_size, hidden_size, nonlinearity=cell[len("rnn_"):], **kw)


def is_lstm(layer):
    return isinstance(layer, numbarnn.LSTM)


def state_list(layer, state):
    """The state (or its gradient) as a list of arrays: [h] or [h, c]."""
    if is_lstm(layer):
        assert isinstance(state, tuple) and len(state) == 2
        return list(state)
    assert isinstance(state, np.ndarray)
    return [state]


def pack_state(layer, arrays):
    return tuple(arrays) if is_lstm(layer) else arrays[0]


def x_shape(layer, t=T, b=B):
    return (b, t, layer.input_size) if layer.batch_first else (t, b, layer.input_size)


def out_shape(layer, t=T, b=B):
    F = layer.hidden_size * (2 if layer.bidirectional else 1)
    return (b, t, F) if layer.batch_first else (t, b, F)


def random_problem(layer, seed=1, t=T, b=B):
    """x, an initial state, and the loss weights w_out (like out) and w_state (like the state).

    The loss is ``sum(out * w_out) + sum(h_n * w_state[0]) [+ sum(c_n * w_state[1])]``, so
    backward gets ``dout = w_out`` and ``dstate = w_state``.
    """
    rng = np.random.default_rng(seed)
    n_states = 2 if is_lstm(layer) else 1
    state_shape = (layer.num_layers * (2 if layer.bidirectional else 1), b, layer.hidden_size)
    x = rng.uniform(-1, 1, x_shape(layer, t, b))
    state = [rng.uniform(-1, 1, state_shape) for _ in range(n_states)]
    w_out = rng.uniform(-1, 1, out_shape(layer, t, b))
    w_state = [rng.uniform(-1, 1, state_shape) for _ in range(n_states)]
    return x, state, w_out, w_state


def loss(layer, x, state, w_out, w_state, train=False):
    out, final = layer.forward(x, pack_state(layer, state), train=train)
    return np.sum(out * w_out) + sum(np.sum(f * w) for f, w in zip(state_list(layer, final),
                                                                   w_state))


def analytic_gradients(layer, x, state, w_out, w_state):
    """dx, [dh0, dc0] and a copy of layer.grads after one training forward and backward."""
    layer.forward(x, pack_state(layer, state))
    dx, dstate0 = layer.backward(w_out, pack_state(layer, w_state))
    return dx, state_list(layer, dstate0), {k: g.copy() for k, g in layer.grads.items()}


def numeric_gradient(f, arr, eps=1e-6):
    """Central differences of the scalar ``f()`` with respect to every entry of ``arr``,
    which is perturbed in place and restored."""
    grad = np.zeros(arr.shape)
    for idx in np.ndindex(arr.shape):
        orig = arr[idx]
        arr[idx] = orig + eps
        plus = f()
        arr[idx] = orig - eps
        minus = f()
        arr[idx] = orig
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


def assert_gradient_close(analytic, numeric, name):
    # central differences with eps = 1e-6: truncation ~1e-12, rounding ~1e-10 in float64
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8, err_msg=name)


def stacked_reference(layer, x, state):
    """The layer's forward computed with tests/reference.py, layer by layer (float64)."""
    p = layer.params
    seq = x.transpose(1, 0, 2) if layer.batch_first else x
    finals, preacts = [[] for _ in state], []
    for k in range(layer.num_layers):
        w_ih, w_hh = p[f"weight_ih_l{k}"], p[f"weight_hh_l{k}"]
        bias = (p[f"bias_ih_l{k}"] + p[f"bias_hh_l{k}"] if layer.bias
                else np.zeros(w_ih.shape[0]))
        if is_lstm(layer):
            seq, h_n, c_n, _ = ref.lstm_forward(seq, state[0][k], state[1][k], w_ih, w_hh, bias)
            finals[0].append(h_n)
            finals[1].append(c_n)
        elif isinstance(layer, numbarnn.GRU):
            zeros = np.zeros(w_ih.shape[0])
            b_ih, b_hh = ((p[f"bias_ih_l{k}"], p[f"bias_hh_l{k}"]) if layer.bias
                          else (zeros, zeros))
            seq, h_n, _ = ref.gru_forward(seq, state[0][k], w_ih, w_hh, b_ih, b_hh)
            finals[0].append(h_n)
        else:
            seq, h_n, cache = ref.rnn_forward(seq, state[0][k], w_ih, w_hh, bias,
                                              layer.nonlinearity)
            finals[0].append(h_n)
            preacts.extend(a for _, _, a in cache)
    out = seq.transpose(1, 0, 2) if layer.batch_first else seq
    return out, [np.stack(f) for f in finals], preacts


# ------------------------------------------------------------------ finite-difference checks
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_gradients_match_finite_differences(cell, num_layers, batch_first):
    layer = make_layer(cell, num_layers=num_layers, batch_first=batch_first, dtype=np.float64,
                       seed=10 * num_layers + batch_first)
    x, state, w_out, w_state = random_problem(layer, seed=num_layers)
    if cell == "rnn_relu":
        # keep every pre-activation well away from relu's kink, so that +-eps cannot cross it
        preacts = stacked_reference(layer, x, state)[2]
        assert min(np.abs(a).min() for a in preacts) > 1e-4
        assert any((a > 0).any() for a in preacts) and any((a < 0).any() for a in preacts)

    dx, dstate0, grads = analytic_gradients(layer, x, state, w_out, w_state)
    assert set(grads) == set(layer.params)

    def f():
        return loss(layer, x, state, w_out, w_state)

    assert_gradient_close(dx, numeric_gradient(f, x), "x")
    for i, (s, ds) in enumerate(zip(state, dstate0)):
        assert_gradient_close(ds, numeric_gradient(f, s), f"state[{i}]")
    for name, p in layer.params.items():
        assert_gradient_close(grads[name], numeric_gradient(f, p), name)


@pytest.mark.parametrize("cell", CELLS)
def test_gradients_without_bias_match_finite_differences(cell):
    layer = make_layer(cell, num_layers=2, bias=False, dtype=np.float64, seed=3)
    assert not any(name.startswith("bias") for name in layer.params)
    x, state, w_out, w_state = random_problem(layer, seed=4)
    dx, dstate0, grads = analytic_gradients(layer, x, state, w_out, w_state)

    def f():
        return loss(layer, x, state, w_out, w_state)

    assert_gradient_close(dx, numeric_gradient(f, x), "x")
    for name, p in layer.params.items():
        assert_gradient_close(grads[name], numeric_gradient(f, p), name)


# ---------------------------------------------------------------------- stacked NumPy reference
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("cell", CELLS)
def test_forward_matches_stacked_reference(cell, batch_first):
    layer = make_layer(cell, num_layers=2, batch_first=batch_first, dtype=np.float64, seed=5)
    x, state, _, _ = random_problem(layer, seed=6)
    out, final = layer.forward(x, pack_state(layer, state))
    want_out, want_final, _ = stacked_reference(layer, x, state)
    assert out.shape == out_shape(layer) and out.dtype == np.float64
    np.testing.assert_allclose(out, want_out, rtol=1e-12, atol=1e-12)
    for got, want in zip(state_list(layer, final), want_final):
        assert got.shape == (2, B, H)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_float32_layer_close_to_float64(cell):
    l64 = make_layer(cell, num_layers=2, dtype=np.float64, seed=8)
    l32 = make_layer(cell, num_layers=2, dtype=np.float32)
    l32.load_state_dict(l64.state_dict())
    x, state, w_out, w_state = random_problem(l64, seed=9)
    results = []
    for layer in (l64, l32):
        out, final = layer.forward(x, pack_state(layer, state))
        dx, dstate0 = layer.backward(w_out, pack_state(layer, w_state))
        arrays = [out, dx] + state_list(layer, final) + state_list(layer, dstate0)
        arrays += [layer.grads[k] for k in sorted(layer.grads)]
        results.append(arrays)
    for a64, a32 in zip(*results):
        assert a32.dtype == np.float32
        np.testing.assert_allclose(a32, a64, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------- the worked example
def test_worked_example_through_layer():
    """DESIGN.md's one-unit LSTM, loaded as a PyTorch-style state dict (bias_hh = 0)."""
    lstm = numbarnn.LSTM(1, 1, dtype=np.float64)
    lstm.load_state_dict({"weight_ih_l0": [[1.65], [1.63], [0.94], [-0.19]],
                          "weight_hh_l0": [[2.00], [2.70], [1.41], [4.38]],
                          "bias_ih_l0": [0.62, 1.62, -0.32, 0.59],
                          "bias_hh_l0": [0.0, 0.0, 0.0, 0.0]})
    tol = 5e-5  # the figures are rounded to four decimals
    _, (h_n, c_n) = lstm.forward(np.ones((1, 1, 1)), (np.ones((1, 1, 1)), np.full((1, 1, 1), 2.0)))
    assert c_n.item() == pytest.approx(2.9476, abs=tol)
    assert h_n.item() == pytest.approx(0.9862, abs=tol)
    # both sequences at once, as a batch of two, from zero memories
    x = np.array([[0, 0.5, 0.25, 1], [1, 0.5, 0.25, 1]]).T.reshape(4, 2, 1)
    out, (h_n, _) = lstm.forward(x, train=False)
    assert h_n[0, :, 0] == pytest.approx([0.0064, 0.9694], abs=tol)
    np.testing.assert_array_equal(out[-1], h_n[0])


# ------------------------------------------------------------------------------ PyTorch parity
def torch_module(torch, cell, num_layers, batch_first, bias, dtype, bidirectional=False):
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    kw = dict(num_layers=num_layers, bias=bias, batch_first=batch_first, dtype=tdtype,
              bidirectional=bidirectional)
    if cell == "lstm":
        return torch.nn.LSTM(D, H, **kw)
    if cell == "gru":
        return torch.nn.GRU(D, H, **kw)
    return torch.nn.RNN(D, H, nonlinearity=cell[len("rnn_"):], **kw)


def torch_run(torch, module, x, state, w_out, w_state):
    """Forward and backward of the same loss in torch; results as NumPy arrays."""
    xt = torch.tensor(x, dtype=module.weight_ih_l0.dtype, requires_grad=True)
    st = [torch.tensor(s, dtype=xt.dtype, requires_grad=True) for s in state]
    out, final = module(xt, tuple(st) if len(st) == 2 else st[0])
    final = list(final) if isinstance(final, tuple) else [final]
    total = (out * torch.from_numpy(w_out).to(xt.dtype)).sum()
    for f, w in zip(final, w_state):
        total = total + (f * torch.from_numpy(w).to(xt.dtype)).sum()
    module.zero_grad()
    total.backward()
    return dict(out=out.detach().numpy(), final=[f.detach().numpy() for f in final],
                dx=xt.grad.numpy(), dstate0=[s.grad.numpy() for s in st],
                grads={k: p.grad.numpy() for k, p in module.named_parameters()})


def numbarnn_run(layer, x, state, w_out, w_state):
    out, final = layer.forward(x, pack_state(layer, state))
    dx, dstate0 = layer.backward(w_out, pack_state(layer, w_state))
    return dict(out=out, final=state_list(layer, final), dx=dx,
                dstate0=state_list(layer, dstate0), grads=dict(layer.grads))


def assert_runs_close(got, want, rtol, atol):
    """Compare the results that ``got`` has (all of out, final, dx, dstate0, grads, or some)."""
    pairs = []
    for key in ("out", "dx"):
        if key in got:
            pairs.append((key, got[key], want[key]))
    for key in ("final", "dstate0"):
        if key in got:
            assert len(got[key]) == len(want[key])
            pairs += [(f"{key}[{i}]", g, w) for i, (g, w) in enumerate(zip(got[key], want[key]))]
    if "grads" in got:
        assert set(got["grads"]) == set(want["grads"])
        pairs += [(k, got["grads"][k], want["grads"][k]) for k in want["grads"]]
    for name, g, w in pairs:
        assert g.shape == w.shape, name
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=name)


PARITY_TOL = {np.float64: (1e-10, 1e-12), np.float32: (1e-5, 1e-5)}


@pytest.mark.parametrize("cell,batch_first,dtype,bias", [
    (cell, bf, dtype, True) for cell in CELLS for bf in (False, True)
    for dtype in (np.float64, np.float32)] + [(cell, False, np.float64, False) for cell in CELLS])
def test_matches_torch(cell, batch_first, dtype, bias):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch_module(torch, cell, 2, batch_first, bias, dtype)
    layer = make_layer(cell, num_layers=2, batch_first=batch_first, bias=bias, dtype=dtype)
    layer.load_state_dict({k: v.detach().numpy() for k, v in module.state_dict().items()})
    x, state, w_out, w_state = random_problem(layer, seed=12)
    x, state = x.astype(dtype), [s.astype(dtype) for s in state]
    want = torch_run(torch, module, x, state, w_out, w_state)
    got = numbarnn_run(layer, x, state, w_out, w_state)
    assert_runs_close(got, want, *PARITY_TOL[dtype])


def _unbatched(layer, x, state, w_out, w_state):
    """The first sequence of a random problem's batch as torch takes one sequence: x (T,
    D) and out (T, features) whatever ``batch_first``, states (layers x directions, H)."""
    first = (lambda a: a[0]) if layer.batch_first else (lambda a: a[:, 0])
    return (first(x), [s[:, 0] for s in state], first(w_out), [w[:, 0] for w in w_state])


@pytest.mark.parametrize("bidirectional", [False, True], ids=["one_way", "bidirectional"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("cell", CELLS)
def test_an_unbatched_sequence_is_a_batch_of_one(cell, batch_first, bidirectional):
    # torch's layers take one sequence without its batch axis: (T, features) in and out,
    # states (num_layers * num_directions, H); the numbers are those of a batch of one
    layer = make_layer(cell, num_layers=2, batch_first=batch_first, bidirectional=bidirectional,
                       dtype=np.float64, seed=15)
    x, state, w_out, w_state = _unbatched(layer, *random_problem(layer, seed=16))
    got = numbarnn_run(layer, x, state, w_out, w_state)
    assert got["out"].shape == (T, H * (2 if bidirectional else 1))
    assert got["dx"].shape == (T, D)
    for s in got["final"] + got["dstate0"]:
        assert s.shape == (2 * (2 if bidirectional else 1), H)
    one = (lambda a: a[None]) if batch_first else (lambda a: a[:, None])
    batch = numbarnn_run(layer, one(x), [s[:, None] for s in state], one(w_out),
                         [w[:, None] for w in w_state])
    want = dict(out=batch["out"].reshape(got["out"].shape),
                dx=batch["dx"].reshape(got["dx"].shape),
                final=[s[:, 0] for s in batch["final"]],
                dstate0=[s[:, 0] for s in batch["dstate0"]], grads=batch["grads"])
    assert_runs_close(got, want, rtol=0, atol=0)
    inference, _ = layer.forward(x, pack_state(layer, state), train=False)
    np.testing.assert_array_equal(inference, got["out"])
    layer.forward(x)
    dx, dstate0 = layer.backward(w_out, input_grad=False)
    assert dx is None
    assert state_list(layer, dstate0)[0].shape == (2 * (2 if bidirectional else 1), H)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["one_way", "bidirectional"])
@pytest.mark.parametrize("cell", CELLS)
def test_an_unbatched_sequence_matches_torch(cell, bidirectional):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    module = torch_module(torch, cell, 2, True, True, np.float64, bidirectional)
    layer = make_layer(cell, num_layers=2, batch_first=True, bidirectional=bidirectional,
                       dtype=np.float64)
    layer.load_state_dict(module.state_dict())
    problem = _unbatched(layer, *random_problem(layer, seed=17))
    assert_runs_close(numbarnn_run(layer, *problem), torch_run(torch, module, *problem),
                      *PARITY_TOL[np.float64])


@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("cell", CELLS)
def test_state_dict_loads_into_torch(cell, batch_first):
    torch = pytest.importorskip("torch")
    layer = make_layer(cell, num_layers=2, batch_first=batch_first, dtype=np.float64, seed=13)
    module = torch_module(torch, cell, 2, batch_first, True, np.float64)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    x, state, w_out, w_state = random_problem(layer, seed=14)
    assert_runs_close(numbarnn_run(layer, x, state, w_out, w_state),
                      torch_run(torch, module, x, state, w_out, w_state), *PARITY_TOL[np.float64])


@pytest.mark.parametrize("cell", CELLS)
def test_torch_habits_carry_over(cell):
    # module(x), torch tensors as they come (one that requires grad, token ids), strict=False,
    # a bidirectional flag of 1 (torch's constructors take it): what a user moving from
    # torch.nn writes
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch_module(torch, cell, 1, False, True, np.float64, bidirectional=True)
    layer = make_layer(cell, dtype=np.float64, bidirectional=1)
    assert layer.load_state_dict(module.state_dict()) == ([], [])
    x = torch.randn(5, 2, D, dtype=torch.float64, requires_grad=True)
    out, _ = layer(x)
    np.testing.assert_allclose(out, module(x)[0].detach().numpy(), rtol=1e-10, atol=1e-12)
    tokens = torch.randint(0, D, (5, 2))
    np.testing.assert_allclose(layer(tokens)[0], layer(np.eye(D)[tokens.numpy()])[0],
                               rtol=1e-12, atol=1e-15)
    # strict=False loads the keys the layer knows, ignores the others, and says which
    other = make_layer(cell, dtype=np.float64, bidirectional=True, seed=3)
    before = other.state_dict()
    part = {"weight_ih_l0": module.weight_ih_l0, "proj_l0": torch.zeros(1)}
    missing, unexpected = other.load_state_dict(part, strict=False)
    assert unexpected == ["proj_l0"] and missing == [k for k in before if k != "weight_ih_l0"]
    np.testing.assert_array_equal(other.params["weight_ih_l0"],
                                  module.weight_ih_l0.detach().numpy())
    for k in missing:
        np.testing.assert_array_equal(other.params[k], before[k])
    with pytest.raises(ValueError, match="unexpected keys \\['proj_l0'\\]"):
        other.load_state_dict(part)
    with pytest.raises(ValueError, match="x: a torch tensor that NumPy cannot read"):
        layer(x.to(torch.bfloat16))


# ------------------------------------------------------------------------------- state dicts
@pytest.mark.parametrize("cell", CELLS)
def test_parameter_names_and_shapes_are_torch(cell):
    layer = make_layer(cell, num_layers=2, seed=0)
    G = GATES.get(cell, 1)
    expected = {}
    for k, d in ((0, D), (1, H)):
        expected.update({f"weight_ih_l{k}": (G * H, d), f"weight_hh_l{k}": (G * H, H),
                         f"bias_ih_l{k}": (G * H,), f"bias_hh_l{k}": (G * H,)})
    for mapping in (layer.params, layer.grads, layer.state_dict()):
        assert {k: v.shape for k, v in mapping.items()} == expected
        assert all(v.dtype == np.float32 for v in mapping.values())


@pytest.mark.parametrize("cell", CELLS)
def test_state_dict_round_trip(cell):
    a = make_layer(cell, num_layers=2, dtype=np.float64, seed=1)
    b = make_layer(cell, num_layers=2, dtype=np.float64, seed=2)
    x, state, _, _ = random_problem(a)
    sd = a.state_dict()
    for k in sd:  # a copy, not the parameters themselves
        sd[k] += 1.0
        assert not np.shares_memory(sd[k], a.params[k])
    sd = a.state_dict()
    b.load_state_dict(sd)
    for k in sd:
        np.testing.assert_array_equal(b.params[k], a.params[k])
        sd[k][...] = 0.0  # loading copied the values
    assert all(np.any(p != 0) for p in b.params.values())
    out_a, _ = a.forward(x, pack_state(a, state))
    out_b, _ = b.forward(x, pack_state(b, state))
    np.testing.assert_array_equal(out_a, out_b)


def _missing(sd):
    del sd["weight_hh_l1"]
    return "weight_hh_l1"


def _unexpected(sd):
    sd["weight_ih_l2"] = np.zeros((H, H))
    return "weight_ih_l2"


def _wrong_shape(sd):
    sd["bias_hh_l1"] = np.zeros(sd["bias_hh_l1"].size + 1)
    return "bias_hh_l1"


def _transposed(sd):
    sd["weight_ih_l0"] = sd["weight_ih_l0"].T.copy()  # (D, G H): not square
    return "weight_ih_l0"


def _nan(sd):
    sd["bias_hh_l1"][-1] = np.nan
    return "bias_hh_l1"


def _inf(sd):
    sd["weight_hh_l1"][0, 0] = -np.inf
    return "weight_hh_l1"


def _integer(sd):
    sd["bias_hh_l1"] = np.zeros(sd["bias_hh_l1"].shape, dtype=np.int64)
    return "bias_hh_l1"


@pytest.mark.parametrize("corrupt", [_missing, _unexpected, _wrong_shape, _transposed, _nan,
                                     _inf, _integer], ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("cell", ["lstm", "rnn_tanh"])
def test_bad_state_dict_is_refused_and_changes_nothing(cell, corrupt):
    layer = make_layer(cell, num_layers=2, seed=1)
    before = layer.state_dict()
    # every other entry is valid and differs from the current parameters, and most bad ones
    # are in the last layer, so a partial load before the error would show
    sd = make_layer(cell, num_layers=2, seed=2).state_dict()
    key = corrupt(sd)
    with pytest.raises(ValueError, match=key):
        layer.load_state_dict(sd)
    for k, p in layer.params.items():
        np.testing.assert_array_equal(p, before[k], err_msg=k)


def test_load_state_dict_refuses_a_non_mapping():
    layer = numbarnn.RNN(D, H)
    with pytest.raises(ValueError, match="state_dict"):
        layer.load_state_dict(list(layer.state_dict().values()))


# ------------------------------------------------------------------------------------ dropout
def dropout_pair(cell, seed=21, dropout=0.5):
    return [make_layer(cell, num_layers=2, dropout=dropout, dtype=np.float64, seed=seed)
            for _ in range(2)]


@pytest.mark.parametrize("cell", CELLS)
def test_dropout_is_reproducible_with_a_seed(cell):
    a, b = dropout_pair(cell)
    x, state, _, _ = random_problem(a)
    s = pack_state(a, state)
    runs_a = [a.forward(x, s)[0] for _ in range(2)]
    runs_b = [b.forward(x, s)[0] for _ in range(2)]
    for ra, rb in zip(runs_a, runs_b):
        np.testing.assert_array_equal(ra, rb)
    # a new mask each forward, and the masks do something
    assert not np.allclose(runs_a[0], runs_a[1])
    assert not np.allclose(runs_a[0], a.forward(x, s, train=False)[0])


@pytest.mark.parametrize("cell", CELLS)
def test_no_dropout_in_inference(cell):
    layer = make_layer(cell, num_layers=2, dropout=0.5, dtype=np.float64, seed=22)
    plain = make_layer(cell, num_layers=2, dropout=0.0, dtype=np.float64)
    plain.load_state_dict(layer.state_dict())
    x, state, _, _ = random_problem(layer)
    s = pack_state(layer, state)
    want, want_final = plain.forward(x, s)
    for _ in range(2):
        got, got_final = layer.forward(x, s, train=False)
        np.testing.assert_array_equal(got, want)
        for g, w in zip(state_list(layer, got_final), state_list(layer, want_final)):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("p", [0.25, 0.5])
def test_dropout_rate_and_scaling(p):
    """Layer 0 passes a constant 1 through, layer 1 passes its input through (relu, identity
    weights): the output is then exactly the dropout mask, 0 or 1 / (1 - p)."""
    layer = numbarnn.RNN(1, 1, num_layers=2, nonlinearity="relu", dropout=p, dtype=np.float64,
                         seed=23)
    layer.load_state_dict({"weight_ih_l0": [[1.0]], "weight_hh_l0": [[0.0]],
                           "bias_ih_l0": [0.0], "bias_hh_l0": [0.0],
                           "weight_ih_l1": [[1.0]], "weight_hh_l1": [[0.0]],
                           "bias_ih_l1": [0.0], "bias_hh_l1": [0.0]})
    out, _ = layer.forward(np.ones((50, 40, 1)))
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1.0 / (1.0 - p), rtol=1e-15)
    assert abs((~kept).mean() - p) < 0.05


@pytest.mark.parametrize("cell", CELLS)
def test_dropout_gradients_match_finite_differences(cell):
    """A fresh layer with the same seed draws the same first mask, so the loss of the first
    training forward, as a function of the weights and input, can be differenced."""
    layer = make_layer(cell, num_layers=2, dropout=0.5, dtype=np.float64, seed=24)
    x, state, w_out, w_state = random_problem(layer, seed=25)
    sd = layer.state_dict()
    dx, dstate0, grads = analytic_gradients(layer, x, state, w_out, w_state)

    def f():
        fresh = make_layer(cell, num_layers=2, dropout=0.5, dtype=np.float64, seed=24)
        fresh.load_state_dict(sd)
        return loss(fresh, x, state, w_out, w_state, train=True)

    assert_gradient_close(dx, numeric_gradient(f, x), "x")
    assert_gradient_close(dstate0[0], numeric_gradient(f, state[0]), "state[0]")
    for name in ("weight_ih_l0", "bias_hh_l0", "weight_ih_l1"):
        assert_gradient_close(grads[name], numeric_gradient(f, sd[name]), name)
    # and the mask is really there: without it the gradient differs
    plain = make_layer(cell, num_layers=2, dtype=np.float64)
    plain.load_state_dict(sd)
    assert not np.allclose(analytic_gradients(plain, x, state, w_out, w_state)[0], dx)


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="dropout"):
        numbarnn.LSTM(D, H, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        numbarnn.LSTM(D, H, num_layers=2, dropout=0.5)


# --------------------------------------------------------------------------------------- seed
@pytest.mark.parametrize("cell", CELLS)
def test_seed_controls_initialisation(cell):
    a, b = make_layer(cell, num_layers=2, seed=7), make_layer(cell, num_layers=2, seed=7)
    c = make_layer(cell, num_layers=2, seed=8)
    bound = 1.0 / np.sqrt(H)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
        assert not np.array_equal(a.params[k], c.params[k]), k
        assert np.abs(a.params[k]).max() <= bound, k
    values = np.concatenate([p.ravel() for p in a.params.values()])
    assert values.min() < -0.9 * bound and values.max() > 0.9 * bound  # the whole range is used
    unseeded = [make_layer(cell).params["weight_hh_l0"] for _ in range(2)]
    assert not np.array_equal(*unseeded)


# ------------------------------------------------------------------------- forward semantics
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("cell", CELLS)
def test_inference_forward_equals_training_forward(cell, batch_first):
    layer = make_layer(cell, num_layers=2, batch_first=batch_first, dtype=np.float64, seed=30)
    x, state, _, _ = random_problem(layer)
    s = pack_state(layer, state)
    out_train, final_train = layer.forward(x, s, train=True)
    out_infer, final_infer = layer.forward(x, s, train=False)
    np.testing.assert_array_equal(out_infer, out_train)
    for a, b in zip(state_list(layer, final_infer), state_list(layer, final_train)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", CELLS)
def test_state_defaults_to_zeros(cell):
    layer = make_layer(cell, num_layers=2, dtype=np.float64, seed=31)
    x, _, w_out, _ = random_problem(layer)
    zeros = [np.zeros((2, B, H)) for _ in range(2 if is_lstm(layer) else 1)]
    runs = []
    for state, dstate in ((None, None), (pack_state(layer, zeros), pack_state(layer, zeros))):
        out, final = layer.forward(x, state)
        dx, dstate0 = layer.backward(w_out, dstate)
        runs.append([out, dx] + state_list(layer, final) + state_list(layer, dstate0)
                    + [g.copy() for g in layer.grads.values()])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_lstm_state_gradient_parts_may_be_none():
    layer = numbarnn.LSTM(D, H, num_layers=2, dtype=np.float64, seed=32)
    x, _, w_out, (w_h, w_c) = random_problem(layer)
    results = {}
    for label, dstate in (("h_only", (w_h, None)), ("h_zero_c", (w_h, np.zeros_like(w_c))),
                          ("c_only", (None, w_c)), ("zero_h_c", (np.zeros_like(w_h), w_c))):
        layer.forward(x)
        dx, (dh0, dc0) = layer.backward(w_out, dstate)
        results[label] = (dx, dh0, dc0)
    for a, b in (("h_only", "h_zero_c"), ("c_only", "zero_h_c")):
        for ga, gb in zip(results[a], results[b]):
            np.testing.assert_array_equal(ga, gb)
    assert not np.allclose(results["h_only"][0], results["c_only"][0])


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layout", ["batch", "one_layer", "batch_first_of_one", "unbatched",
                                    "unbatched_batch_first"])
def test_returned_arrays_are_independent_of_the_layer(cell, layout):
    # (a batch of one, batch first, once came back as views of the layer's buffers)
    kw = dict(num_layers=1 if layout == "one_layer" else 2, dtype=np.float64,
              batch_first=layout.endswith("batch_first") or layout == "batch_first_of_one")
    layer = make_layer(cell, seed=33, **kw)
    twin = make_layer(cell, **kw)
    twin.load_state_dict(layer.state_dict())
    problem = random_problem(layer, b=1 if layout != "batch" else B)
    x, state, w_out, w_state = (_unbatched(layer, *problem) if layout.startswith("unbatched")
                                else problem)
    want = numbarnn_run(twin, x, state, w_out, w_state)

    x_arg, state_arg = x.copy(), [s.copy() for s in state]
    out, final = layer.forward(x_arg, pack_state(layer, state_arg))
    # scribble over everything the caller holds: what was given and what came back
    for arr in [x_arg, out] + state_arg + state_list(layer, final):
        arr[...] = 7.0
    dx, dstate0 = layer.backward(w_out, pack_state(layer, w_state))
    got = dict(dx=dx, dstate0=state_list(layer, dstate0), grads=layer.grads)
    assert_runs_close(got, want, rtol=0, atol=0)

    dx[...] = 7.0
    out2, final2 = layer.forward(x, pack_state(layer, state))
    dx2, dstate2 = layer.backward(w_out, pack_state(layer, w_state))
    got = dict(out=out2, final=state_list(layer, final2), dx=dx2,
               dstate0=state_list(layer, dstate2), grads=layer.grads)
    assert_runs_close(got, want, rtol=0, atol=0)
    for a in [out2, dx2] + state_list(layer, final2) + state_list(layer, dstate2):
        assert not any(np.shares_memory(a, p) for p in layer.params.values())
    out3, _ = layer.forward(x, pack_state(layer, state), train=False)
    assert not np.shares_memory(out2, out3)
    np.testing.assert_array_equal(out2, want["out"])


# --------------------------------------------------------------------------------- bad input
def _problem(layer):
    x, state, w_out, w_state = random_problem(layer)
    return x, pack_state(layer, state), w_out, pack_state(layer, w_state)


def _nan_x(layer, x, s):
    x = x.copy()
    x[1, 0, 2] = np.nan
    layer.forward(x, s)


def _inf_state(layer, x, s):
    bad = [a.copy() for a in state_list(layer, s)]
    bad[-1][0, 1, 0] = np.inf
    layer.forward(x, pack_state(layer, bad))


def _nan_parameter(layer, x, s):
    layer.params["weight_hh_l0"][0, 0] = np.nan
    layer.forward(x, s)


def _wrong_state_shape(layer, x, s):
    bad = [np.zeros((layer.num_layers + 1, B, H)) for _ in state_list(layer, s)]
    layer.forward(x, pack_state(layer, bad))


BAD_FORWARD = {
    "x_1d": (lambda layer, x, s: layer.forward(x[0, 0], s), "^x: .*dimensions"),
    "x_unbatched_features": (lambda layer, x, s: layer.forward(x[:, 0, :2]), "^x: .*shape"),
    "x_unbatched_lengths": (lambda layer, x, s: layer.forward(x[:, 0], lengths=[T]),
                            "^lengths: .*unbatched"),
    "state_unbatched_with_batch_axis": (lambda layer, x, s: layer.forward(x[:, 0], s),
                                        "^state.*shape .* for an unbatched sequence"),
    "x_4d": (lambda layer, x, s: layer.forward(x[None], s), "^x: .*dimensions"),
    "x_features": (lambda layer, x, s: layer.forward(x[..., :2], s), "^x: .*shape"),
    "x_empty": (lambda layer, x, s: layer.forward(x[:0], s), "^x: .*shape"),
    "x_integer": (lambda layer, x, s: layer.forward(x.astype(np.int64), s), "^x: .*dtype"),
    "x_nan": (_nan_x, "^x: .*non-finite"),
    "state_shape": (_wrong_state_shape, "^state.*shape"),
    "state_batch": (lambda layer, x, s: layer.forward(x[:, :1], s), "^state.*shape"),
    "state_inf": (_inf_state, "^state.*non-finite"),
    "parameter_nan": (_nan_parameter, "weight_hh_l0.*non-finite"),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_finite_check_finds_any_bad_value_in_any_block(dtype):
    from numbarnn.kernels._jit import FINITE_BLOCK, all_finite

    n = 3 * FINITE_BLOCK + 5
    assert all_finite(np.zeros(0, dtype)) and all_finite(np.full(n, 3.5, dtype))
    for bad in (np.nan, np.inf, -np.inf):
        for at in (0, 1, FINITE_BLOCK - 1, FINITE_BLOCK, 2 * FINITE_BLOCK + 7, n - 1):
            values = np.linspace(-1e30, 1e30, n).astype(dtype)
            values[at] = bad
            assert not all_finite(values), (bad, at)
    big = np.full(n, np.finfo(dtype).max, dtype)  # finite, though a plain sum would overflow
    assert all_finite(big)


@pytest.mark.parametrize("case", list(BAD_FORWARD))
@pytest.mark.parametrize("cell", CELLS)
def test_bad_forward_input_raises(cell, case):
    call, message = BAD_FORWARD[case]
    layer = make_layer(cell, num_layers=2, seed=40)
    x, s, _, _ = _problem(layer)
    with pytest.raises(ValueError, match=message):
        call(layer, x, s)


@pytest.mark.parametrize("state", [
    pytest.param(lambda h, c: h, id="array"),
    pytest.param(lambda h, c: (h,), id="one_tuple"),
    pytest.param(lambda h, c: (h, c, c), id="three_tuple"),
    pytest.param(lambda h, c: {"h": h, "c": c}, id="dict")])
def test_lstm_state_must_be_a_pair(state):
    layer = numbarnn.LSTM(D, H, seed=41)
    x, (h, c), _, _ = _problem(layer)
    with pytest.raises(ValueError, match=r"^state: .*tuple \(h0, c0\)"):
        layer.forward(x, state(h, c))
    layer.forward(x, [h, c])  # a list is fine, as torch accepts it


def _backward_first(layer, x, s, dout, ds):
    layer.backward(dout, ds)


def _backward_after_inference(layer, x, s, dout, ds):
    layer.forward(x, s, train=False)
    layer.backward(dout, ds)


def _backward_after_inference_follows_training(layer, x, s, dout, ds):
    layer.forward(x, s)
    layer.forward(x, s, train=False)
    layer.backward(dout, ds)


def _backward_twice(layer, x, s, dout, ds):
    layer.forward(x, s)
    layer.backward(dout, ds)
    layer.backward(dout, ds)


def _backward_after_load(layer, x, s, dout, ds):
    layer.forward(x, s)
    layer.load_state_dict(layer.state_dict())
    layer.backward(dout, ds)


def _backward_after_failed_forward(layer, x, s, dout, ds):
    layer.forward(x, s)
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="^x: "):
        layer.forward(bad, s)
    layer.backward(dout, ds)  # must not reuse the forward before the failed one


def _backward_after_inference_then_load(layer, x, s, dout, ds):
    layer.forward(x, s, train=False)
    layer.forward(x, s)
    layer.load_state_dict(layer.state_dict())
    layer.backward(dout, ds)


def _dout_shape(layer, x, s, dout, ds):
    layer.forward(x, s)
    layer.backward(dout[:-1], ds)


def _dout_features(layer, x, s, dout, ds):
    layer.forward(x, s)
    layer.backward(dout[..., :-1], ds)


def _dout_nan(layer, x, s, dout, ds):
    layer.forward(x, s)
    dout = dout.copy()
    dout[0, 0, 0] = np.nan
    layer.backward(dout, ds)


def _dstate_shape(layer, x, s, dout, ds):
    layer.forward(x, s)
    layer.backward(dout, pack_state(layer, [a[:, :1] for a in state_list(layer, ds)]))


def _dout_batched_after_unbatched(layer, x, s, dout, ds):
    layer.forward(x[:, 0])
    layer.backward(dout[:, :1])


BAD_BACKWARD = {
    "before_forward": (_backward_first, r"forward\(train=True\)"),
    "after_inference": (_backward_after_inference, "train=False"),
    "after_inference_following_training": (_backward_after_inference_follows_training,
                                           "train=False"),
    "twice": (_backward_twice, "already"),
    "after_load_state_dict": (_backward_after_load, "load_state_dict"),
    "after_failed_forward": (_backward_after_failed_forward, "last forward failed"),
    "after_inference_training_and_load": (_backward_after_inference_then_load,
                                          "load_state_dict"),
    "dout_shape": (_dout_shape, "^dout: .*shape"),
    "dout_features": (_dout_features, "^dout: .*shape"),
    "dout_nan": (_dout_nan, "^dout: .*non-finite"),
    "dstate_shape": (_dstate_shape, "^dstate.*shape"),
    "dout_batched_after_unbatched": (_dout_batched_after_unbatched, "^dout: .*unbatched"),
}


@pytest.mark.parametrize("case", list(BAD_BACKWARD))
@pytest.mark.parametrize("cell", CELLS)
def test_bad_backward_call_raises(cell, case):
    call, message = BAD_BACKWARD[case]
    layer = make_layer(cell, num_layers=2, seed=42)
    x, s, dout, ds = _problem(layer)
    with pytest.raises(ValueError, match=message):
        call(layer, x, s, dout, ds)
    # the layer is still usable afterwards
    layer.forward(x, s)
    dx, _ = layer.backward(dout, ds)
    assert dx.shape == x.shape and np.isfinite(dx).all()


@pytest.mark.parametrize("kwargs,name", [
    (dict(hidden_size=0), "hidden_size"),
    (dict(hidden_size=2.5), "hidden_size"),
    (dict(input_size=-1), "input_size"),
    (dict(num_layers=0), "num_layers"),
    (dict(dropout=1.0), "dropout"),
    (dict(dropout=-0.1), "dropout"),
    (dict(dtype=np.float16), "dtype"),
    (dict(dtype=np.int32), "dtype"),
    (dict(dtype="complex128"), "dtype"),
    (dict(device="tpu"), "device"),
    (dict(device=None), "device"),
])
@pytest.mark.parametrize("cell", ["lstm", "rnn_tanh"])
def test_bad_constructor_arguments_raise(cell, kwargs, name):
    args = dict(input_size=D, hidden_size=H)
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"^{name}: "):
        make_layer(cell, **args)


def test_cuda_without_cuda_is_a_clear_error():
    from numbarnn.info import cuda_info

    if cuda_info()["available"]:
        pytest.skip("CUDA (or its simulator) is available here")
    for cls in (numbarnn.LSTM, numbarnn.RNN):
        with pytest.raises(ValueError, match="^device: .*CUDA is not available"):
            cls(D, H, device="cuda")


def test_bad_nonlinearity_raises():
    with pytest.raises(ValueError, match="^nonlinearity: "):
        numbarnn.RNN(D, H, nonlinearity="sigmoid")


@pytest.mark.parametrize("p", [np.float32(0.25), np.float64(0.25), 0, 0.25])
def test_dropout_accepts_any_real_number(p):
    layer = numbarnn.LSTM(D, H, num_layers=2, dropout=p, seed=1)
    assert layer.dropout == float(p)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("num_layers", [1, 2])
def test_backward_without_input_gradient(cell, num_layers):
    layer = make_layer(cell, num_layers=num_layers, dtype=np.float64, seed=0)
    x, state, w_out, w_state = random_problem(layer)
    _, dstate_full, grads_full = analytic_gradients(layer, x, state, w_out, w_state)
    layer.forward(x, pack_state(layer, state))
    dx, dstate = layer.backward(w_out, pack_state(layer, w_state), input_grad=False)
    assert dx is None
    for got, want in zip(state_list(layer, dstate), dstate_full):
        np.testing.assert_array_equal(got, want)
    for name, want in grads_full.items():
        np.testing.assert_array_equal(layer.grads[name], want, err_msg=name)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_token_ids_are_one_hot_inputs(cell, batch_first):
    layer = make_layer(cell, input_size=5, num_layers=2, batch_first=batch_first,
                       dtype=np.float64, seed=0)
    rng = np.random.default_rng(0)
    shape = (B, T) if batch_first else (T, B)
    tokens = rng.integers(0, 5, shape)
    one_hot = np.eye(5)[tokens]
    w_out = rng.standard_normal(out_shape(layer))
    results = []
    for x in (one_hot, tokens):
        out, final = layer.forward(x)
        dx, dstate = layer.backward(w_out)
        results.append((out, state_list(layer, final), dict(layer.grads), dx))
    (out_a, fin_a, grads_a, dx_a), (out_b, fin_b, grads_b, dx_b) = results
    np.testing.assert_allclose(out_b, out_a, rtol=0, atol=1e-14)
    for a, b in zip(fin_a, fin_b):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-14)
    for name in grads_a:
        np.testing.assert_allclose(grads_b[name], grads_a[name], rtol=0, atol=1e-13,
                                   err_msg=name)
    assert dx_a.shape == one_hot.shape and dx_b is None
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 5\)"):
        layer.forward(np.full(shape, 5))


def test_read_only_input_uses_the_kernels_compiled_for_writeable_arrays():
    from numbarnn.kernels import cpu_lstm

    layer = numbarnn.LSTM(3, 4, dtype=np.float64, seed=0)
    rng = np.random.default_rng(0)
    x, dout = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 2, 4))
    out, _ = layer.forward(x)
    dx, _ = layer.backward(dout)
    x.flags.writeable = dout.flags.writeable = False
    out_ro, _ = layer.forward(x, train=False)
    layer.forward(x)
    dx_ro, _ = layer.backward(dout)
    np.testing.assert_array_equal(out_ro, out)
    np.testing.assert_array_equal(dx_ro, dx)
    for kernel in (cpu_lstm.lstm_forward_part, cpu_lstm.lstm_backward_part):  # the layer's
        assert kernel.signatures
        assert all(t.mutable for sig in kernel.signatures for t in sig
                   if isinstance(t, numba.types.Array))
