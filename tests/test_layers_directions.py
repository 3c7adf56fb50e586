"""Bidirectional layers and padded batches of several lengths (``lengths``), for every cell.

Finite differences through both directions and through ``lengths`` (where the
gradient reaching a padded step must be exactly zero), an exact reference that
runs each sequence alone at its own length, torch parity with
``pack_padded_sequence`` (skipped without torch), and the errors a user gets for
bad ``lengths``.
"""
import threading

import numpy as np
import pytest

import numbarnn
from test_layers import (CELLS, assert_gradient_close, assert_runs_close, is_lstm, make_layer,
                         numbarnn_run, numeric_gradient, pack_state, random_problem, state_list,
                         torch_module)

T, B, D, H = 4, 3, 3, 4
LENGTHS = np.array([2, 4, 1])  # unsorted, one full, one of a single step


def lengths_loss(layer, x, state, w_out, w_state, lengths):
    out, final = layer.forward(x, pack_state(layer, state), train=False, lengths=lengths)
    return np.sum(out * w_out) + sum(np.sum(f * w) for f, w in zip(state_list(layer, final),
                                                                   w_state))


@pytest.mark.parametrize("bidirectional,lengths", [(True, None), (False, LENGTHS), (True, LENGTHS)],
                         ids=["bidirectional", "lengths", "bidirectional+lengths"])
# (relu's kink makes central differences unreliable: its gradients are checked in test_layers)
@pytest.mark.parametrize("cell", [c for c in CELLS if c != "rnn_relu"])
def test_gradients_match_finite_differences(cell, bidirectional, lengths):
    layer = make_layer(cell, D, H, num_layers=2, bidirectional=bidirectional, dtype=np.float64,
                       seed=3)
    x, state, w_out, w_state = random_problem(layer, seed=4, t=T, b=B)
    layer.forward(x, pack_state(layer, state), lengths=lengths)
    dx, dstate0 = layer.backward(w_out, pack_state(layer, w_state))
    grads = {k: g.copy() for k, g in layer.grads.items()}

    def f():
        return lengths_loss(layer, x, state, w_out, w_state, lengths)

    assert_gradient_close(dx, numeric_gradient(f, x), "x")
    for i, (s, ds) in enumerate(zip(state, state_list(layer, dstate0))):
        assert_gradient_close(ds, numeric_gradient(f, s), f"state[{i}]")
    for name, p in layer.params.items():
        assert_gradient_close(grads[name], numeric_gradient(f, p), name)
    if lengths is not None:
        for b, n in enumerate(lengths):
            assert np.all(dx[n:, b] == 0), "a padded step got a gradient"


@pytest.mark.parametrize("bidirectional", [False, True], ids=["one_way", "bidirectional"])
@pytest.mark.parametrize("cell", CELLS)
def test_lengths_equal_each_sequence_run_alone(cell, bidirectional):
    """Row b of a padded batch gives what the same layer gives for sequence b alone at its
    own length: outputs (zero after it), final state and every gradient."""
    layer = make_layer(cell, D, H, num_layers=2, bidirectional=bidirectional, dtype=np.float64,
                       seed=5)
    x, state, w_out, w_state = random_problem(layer, seed=6, t=T, b=B)
    # nonsense in the padding must change nothing
    for b, n in enumerate(LENGTHS):
        x[n:, b] = 1e3
    got_out, got_final = layer.forward(x, pack_state(layer, state), lengths=LENGTHS)
    got_dx, got_d0 = layer.backward(w_out, pack_state(layer, w_state))
    got_grads = {k: g.copy() for k, g in layer.grads.items()}
    summed = {k: np.zeros_like(g) for k, g in got_grads.items()}
    for b, n in enumerate(LENGTHS):
        one = [s[:, b:b + 1] for s in state]
        out, final = layer.forward(x[:n, b:b + 1], pack_state(layer, one))
        dx, d0 = layer.backward(w_out[:n, b:b + 1], pack_state(layer, [w[:, b:b + 1]
                                                                       for w in w_state]))
        np.testing.assert_allclose(got_out[:n, b:b + 1], out, rtol=1e-12, atol=1e-14)
        assert np.all(got_out[n:, b] == 0)
        np.testing.assert_allclose(got_dx[:n, b:b + 1], dx, rtol=1e-12, atol=1e-14)
        for g, w in zip(state_list(layer, got_final), state_list(layer, final)):
            np.testing.assert_allclose(g[:, b:b + 1], w, rtol=1e-12, atol=1e-14)
        for g, w in zip(state_list(layer, got_d0), state_list(layer, d0)):
            np.testing.assert_allclose(g[:, b:b + 1], w, rtol=1e-12, atol=1e-14)
        for k in summed:
            summed[k] += layer.grads[k]
    for k in summed:
        np.testing.assert_allclose(got_grads[k], summed[k], rtol=1e-11, atol=1e-13, err_msg=k)


@pytest.mark.parametrize("cell", CELLS)
def test_full_lengths_equal_no_lengths(cell):
    layer = make_layer(cell, D, H, num_layers=2, bidirectional=True, seed=7)
    x, state, w_out, w_state = random_problem(layer, seed=8, t=T, b=B)
    x = x.astype(np.float32)
    runs = []
    for lengths in (None, np.full(B, T), [T] * B):
        out, final = layer.forward(x, lengths=lengths)
        dx, d0 = layer.backward(w_out)
        runs.append([out, dx] + state_list(layer, final) + state_list(layer, d0)
                    + [g.copy() for g in layer.grads.values()])
    for run in runs[1:]:
        for a, b in zip(run, runs[0]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", CELLS)
def test_bidirectional_shapes_and_names_are_torch(cell):
    layer = make_layer(cell, D, H, num_layers=2, bidirectional=True, batch_first=True, seed=9)
    G = {"lstm": 4, "gru": 3}.get(cell, 1)
    expected = {}
    for k, d in ((0, D), (1, 2 * H)):
        for suffix in ("", "_reverse"):
            expected.update({f"weight_ih_l{k}{suffix}": (G * H, d),
                             f"weight_hh_l{k}{suffix}": (G * H, H),
                             f"bias_ih_l{k}{suffix}": (G * H,), f"bias_hh_l{k}{suffix}": (G * H,)})
    assert {k: v.shape for k, v in layer.state_dict().items()} == expected
    out, final = layer.forward(np.zeros((B, T, D), np.float32))
    assert out.shape == (B, T, 2 * H)
    assert all(s.shape == (4, B, H) for s in state_list(layer, final))
    assert "bidirectional=True" in repr(layer)


@pytest.mark.parametrize("cell", CELLS)
def test_reverse_direction_reads_backwards(cell):
    """The reverse half of the output at step t is the forward layer (with the reverse
    weights) run over the flipped sequence, read at T - 1 - t."""
    layer = make_layer(cell, D, H, bidirectional=True, dtype=np.float64, seed=10)
    one_way = make_layer(cell, D, H, dtype=np.float64)
    one_way.load_state_dict({k.replace("_reverse", ""): v for k, v in layer.state_dict().items()
                             if k.endswith("_reverse")})
    x = np.random.default_rng(11).uniform(-1, 1, (T, B, D))
    out, _ = layer.forward(x)
    flipped, _ = one_way.forward(x[::-1].copy())
    np.testing.assert_allclose(out[:, :, H:], flipped[::-1], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
def test_outputs_stay_the_callers_across_forwards(lengths):
    """The reversed input of a stack's upper layer sits in a reused buffer and the output
    is joined in one pass: a second forward leaves the first one's output alone, and a
    backward after two forwards is the backward of the second."""
    layer = make_layer("lstm", D, H, num_layers=2, bidirectional=True, dtype=np.float64, seed=12)
    rng = np.random.default_rng(13)
    x1, x2 = rng.uniform(-1, 1, (T, B, D)), rng.uniform(-1, 1, (T, B, D))
    fresh = make_layer("lstm", D, H, num_layers=2, bidirectional=True, dtype=np.float64, seed=12)
    expected1, _ = fresh.forward(x1, lengths=lengths)
    expected2, _ = fresh.forward(x2, lengths=lengths)
    dx2, _ = fresh.backward(np.ones_like(expected2))
    for train in (False, True):
        out1, _ = layer.forward(x1, train=train, lengths=lengths)
        kept = out1.copy()
        out2, _ = layer.forward(x2, train=train, lengths=lengths)
        np.testing.assert_array_equal(out1, kept)
        np.testing.assert_array_equal(out1, expected1)
        np.testing.assert_array_equal(out2, expected2)
    dx, _ = layer.backward(np.ones_like(out2))
    np.testing.assert_array_equal(dx, dx2)


# ------------------------------------------------------------------------------ PyTorch parity
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("bidirectional,use_lengths", [(True, False), (False, True), (True, True)],
                         ids=["bidirectional", "packed", "bidirectional+packed"])
@pytest.mark.parametrize("cell", CELLS)
def test_matches_torch(cell, bidirectional, use_lengths, batch_first):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch_module(torch, cell, 2, batch_first, True, np.float64, bidirectional)
    layer = make_layer(cell, num_layers=2, batch_first=batch_first, bidirectional=bidirectional,
                       dtype=np.float64)
    layer.load_state_dict({k: v.detach().numpy() for k, v in module.state_dict().items()})
    Tt, Bt = 5, 4
    lengths = np.array([3, 5, 1, 4]) if use_lengths else None
    x, state, w_out, w_state = random_problem(layer, seed=12, t=Tt, b=Bt)
    got = numbarnn_run_lengths(layer, x, state, w_out, w_state, lengths)
    want = torch_run_packed(torch, module, x, state, w_out, w_state, lengths, batch_first)
    assert_runs_close(got, want, 1e-10, 1e-12)


def numbarnn_run_lengths(layer, x, state, w_out, w_state, lengths):
    if lengths is None:
        return numbarnn_run(layer, x, state, w_out, w_state)
    out, final = layer.forward(x, pack_state(layer, state), lengths=lengths)
    dx, dstate0 = layer.backward(w_out, pack_state(layer, w_state))
    return dict(out=out, final=state_list(layer, final), dx=dx,
                dstate0=state_list(layer, dstate0), grads=dict(layer.grads))


def torch_run_packed(torch, module, x, state, w_out, w_state, lengths, batch_first):
    """torch's forward and backward of the same loss, through pack_padded_sequence."""
    rnn_utils = torch.nn.utils.rnn
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in state]
    inputs = xt
    if lengths is not None:
        inputs = rnn_utils.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=batch_first,
                                                enforce_sorted=False)
    out, final = module(inputs, tuple(st) if len(st) == 2 else st[0])
    if lengths is not None:
        out, _ = rnn_utils.pad_packed_sequence(out, batch_first=batch_first,
                                               total_length=x.shape[1 if batch_first else 0])
    final = list(final) if isinstance(final, tuple) else [final]
    total = (out * torch.from_numpy(w_out)).sum()
    for f, w in zip(final, w_state):
        total = total + (f * torch.from_numpy(w)).sum()
    module.zero_grad()
    total.backward()
    return dict(out=out.detach().numpy(), final=[f.detach().numpy() for f in final],
                dx=xt.grad.numpy(), dstate0=[s.grad.numpy() for s in st],
                grads={k: p.grad.numpy() for k, p in module.named_parameters()})


# ------------------------------------------------------------------------------- bad lengths
@pytest.mark.parametrize("lengths,match", [
    ([2, 0, 1], "got 0, expected lengths between 1 and T = 4"),
    ([2, 5, 1], "got 5, expected lengths between 1 and T = 4"),
    ([-1, 2, 3], "got -1"),
    ([2, 3], r"got shape \(2,\), expected \(3,\)"),
    ([[2, 3, 1]], r"got shape \(1, 3\)"),
    (np.array([2.0, 3.0, 1.0]), "got dtype float64, expected integers"),
    (["2", "3", "1"], "got dtype <U1, expected integers"),
    (np.array([True, True, True]), "got dtype bool"),
    (3, r"got shape \(\)"),
])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_bad_lengths_get_one_clear_error(cell, lengths, match):
    layer = make_layer(cell, D, H, seed=13)
    x = np.zeros((T, B, D), np.float32)
    with pytest.raises(ValueError, match="^lengths: " + match):
        layer.forward(x, lengths=lengths)
    layer.forward(x)  # and the layer still works


def test_bad_bidirectional_is_refused():
    with pytest.raises(ValueError, match="bidirectional: got 'yes', expected True or False"):
        numbarnn.GRU(D, H, bidirectional="yes")


def test_lengths_with_token_ids():
    """Token-id input (the text model's) takes lengths too, in both directions."""
    layer = numbarnn.LSTM(5, H, bidirectional=True, dtype=np.float64, seed=14)
    tokens = np.random.default_rng(15).integers(0, 5, (T, B))
    onehot = np.eye(5)[tokens]
    a, sa = layer.forward(tokens, lengths=LENGTHS)
    b, sb = layer.forward(onehot, lengths=LENGTHS)
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    for u, v in zip(sa, sb):
        np.testing.assert_allclose(u, v, rtol=1e-13, atol=1e-15)
    assert is_lstm(layer)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
def test_directions_side_by_side_give_the_bits_of_one_after_the_other(cell, monkeypatch):
    # with two cores the directions run at once, each on a thread of its own
    # (kernels._parts.side_by_side); with one, one after the other, as on the GPU
    from numbarnn.kernels import _parts

    monkeypatch.delenv("NUMBARNN_THREADS", raising=False)
    monkeypatch.setattr(_parts, "MIN_WORK_PER_THREAD", 0)  # (tiny sizes run side by side too)
    runs = []
    for cores in (2, 1):
        monkeypatch.setattr(_parts, "usable_cores", lambda cores=cores: cores)
        layer = make_layer(cell, D, H, num_layers=2, bidirectional=True, dtype=np.float32,
                           seed=5)
        threads = set()
        real = layer._layer_forward

        def recording(*args, real=real, threads=threads):
            threads.add(threading.current_thread().name)
            real(*args)
        monkeypatch.setattr(layer, "_layer_forward", recording)
        x, state, w_out, w_state = random_problem(layer, seed=6, t=T, b=B)
        out, final = layer.forward(x, pack_state(layer, state), lengths=LENGTHS)
        dx, dstate0 = layer.backward(w_out, pack_state(layer, w_state))
        runs.append((out, state_list(layer, final), dx, state_list(layer, dstate0),
                     {k: g.copy() for k, g in layer.grads.items()}, threads))
    (out2, final2, dx2, d02, grads2, threads2), (out1, final1, dx1, d01, grads1, threads1) = runs
    assert threads2 and all(name.startswith("numbarnn-direction") for name in threads2)
    assert threads1 == {threading.main_thread().name}
    for a, b in [(out2, out1), (dx2, dx1)] + list(zip(final2 + d02, final1 + d01)):
        np.testing.assert_array_equal(a, b)
    for name in grads1:
        np.testing.assert_array_equal(grads2[name], grads1[name], err_msg=name)


def test_directions_too_small_or_too_large_to_share_run_on_the_calling_thread(monkeypatch):
    from numbarnn.kernels import _parts

    monkeypatch.delenv("NUMBARNN_THREADS", raising=False)
    monkeypatch.setattr(_parts, "usable_cores", lambda: 2)
    names = []

    def record():
        names.append(threading.current_thread().name)
    _parts.side_by_side([record, record], 1, 4 * 32, 32, 4)  # an LSTM step at B = 1, H = 32
    assert names == [threading.main_thread().name] * 2
    _parts.side_by_side([record, record], 64, 4 * 256, 256, 4)
    assert all(name.startswith("numbarnn-direction") for name in names[2:]) and len(names) == 4
    # a direction whose recurrent weight outgrows a core's cache: one after the other
    _parts.side_by_side([record, record], 64, 4 * 512, 512, 4)
    assert names[4:] == [threading.main_thread().name] * 2


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
def test_copies_and_checks_in_two_halves_give_the_same_bits(lengths, monkeypatch):
    # reversed copies, joins, feature blocks and finite checks over more than
    # kernels._parts.SHARED_PASS_BYTES are shared by two threads, a half of the steps each
    from numbarnn.kernels import _parts

    monkeypatch.setattr(_parts, "usable_cores", lambda: 2)
    monkeypatch.delenv("NUMBARNN_THREADS", raising=False)
    real, shared = _parts.in_parts, []

    def recording(task, parts):  # the passes' parts (the kernels' own calls left out)
        if not task.__qualname__.startswith("run_parts"):
            shared.append(parts)
        return real(task, parts)
    monkeypatch.setattr(_parts, "in_parts", recording)
    runs = []
    for limit in (1 << 40, 0):
        monkeypatch.setattr(_parts, "SHARED_PASS_BYTES", limit)
        shared.clear()
        layer = make_layer("lstm", D, H, num_layers=2, bidirectional=True, dtype=np.float64,
                           seed=3)
        x, state, w_out, w_state = random_problem(layer, seed=4, t=T, b=B)
        out, final = layer.forward(x, pack_state(layer, state), lengths=lengths)
        dx, dstate0 = layer.backward(w_out, pack_state(layer, w_state))
        runs.append([out, dx] + state_list(layer, final) + state_list(layer, dstate0)
                    + [layer.grads[k].copy() for k in sorted(layer.grads)])
        # the passes (checks, reversals, joins, feature blocks): every one of them
        # in halves, or none
        assert len(shared) >= 8 and set(shared) == {2 if limit == 0 else 1}
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="^x: contains a non-finite value"):
        layer.forward(np.where(np.arange(T * B * D).reshape(T, B, D) == T * B * D - 1, np.nan, x))
