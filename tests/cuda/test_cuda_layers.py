"""Layers on device='cuda' against the same layers on the CPU (the reference)."""
import numpy as np
import pytest
from numba import cuda

import numbarnn

T, B, D, H = 3, 2, 3, 4


def pair(cls, **kwargs):
    kwargs = dict(num_layers=2, dtype=np.float64, seed=3, **kwargs)
    return cls(D, H, **kwargs), cls(D, H, device="cuda", **kwargs)


@pytest.mark.parametrize("cls", [numbarnn.LSTM, numbarnn.RNN, numbarnn.GRU])
@pytest.mark.parametrize("batch_first", [False, True])
def test_cuda_layer_matches_cpu_with_dropout(cls, batch_first):
    cpu, gpu = pair(cls, batch_first=batch_first, dropout=0.25)  # same seed: same masks
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
    out_cpu, _ = cpu.forward(x)
    out_gpu, _ = gpu.forward(cuda.to_device(x))          # a device array in ...
    assert not isinstance(out_gpu, np.ndarray)           # ... a device array out
    np.testing.assert_allclose(out_gpu.copy_to_host(), out_cpu, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out_cpu.shape)
    dx_cpu, _ = cpu.backward(dout)
    dx_gpu, _ = gpu.backward(dout)                       # NumPy in, NumPy out
    assert isinstance(dx_gpu, np.ndarray)
    np.testing.assert_allclose(dx_gpu, dx_cpu, rtol=1e-12, atol=1e-12)
    for name, grad in cpu.grads.items():
        np.testing.assert_allclose(gpu.grads[name].copy_to_host(), grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [numbarnn.LSTM, numbarnn.GRU])
def test_bidirectional_layers_with_lengths_on_cuda(cls):
    """Both directions, padded sequences, token ids and float inputs: as on the CPU."""
    cpu, gpu = pair(cls, bidirectional=True)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((T, B, D))
    lengths = np.array([1, T])
    out_cpu, s_cpu = cpu.forward(x, lengths=lengths)
    out_gpu, s_gpu = gpu.forward(x, lengths=lengths)
    np.testing.assert_allclose(out_gpu, out_cpu, rtol=1e-12, atol=1e-12)
    for got, want in zip(*(s if isinstance(s, tuple) else (s,) for s in (s_gpu, s_cpu))):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out_cpu.shape)
    np.testing.assert_allclose(gpu.backward(dout)[0], cpu.backward(dout)[0], rtol=1e-12,
                               atol=1e-12)
    for name, grad in cpu.grads.items():
        np.testing.assert_allclose(gpu.grads[name].copy_to_host(), grad, rtol=1e-12, atol=1e-12)
    tokens = rng.integers(0, D, (T, B))
    np.testing.assert_allclose(gpu.forward(tokens, lengths=lengths)[0],
                               cpu.forward(tokens, lengths=lengths)[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("batch_first", [False, True])
def test_an_unbatched_sequence_on_cuda(batch_first):
    """(T, D) in, (T, 2H) and (layers x directions, H) states out, on the device too."""
    cpu, gpu = pair(numbarnn.LSTM, bidirectional=True, batch_first=batch_first)
    rng = np.random.default_rng(4)
    x, h0, c0 = (rng.standard_normal(s) for s in [(T, D), (4, H), (4, H)])
    out_cpu, (h_cpu, c_cpu) = cpu.forward(x, (h0, c0))
    out_gpu, (h_gpu, c_gpu) = gpu.forward(cuda.to_device(x), (h0, c0))
    for got, want in [(out_gpu, out_cpu), (h_gpu, h_cpu), (c_gpu, c_cpu)]:
        assert got.shape == want.shape
        np.testing.assert_allclose(got.copy_to_host(), want, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out_cpu.shape)
    dx_gpu, (dh_gpu, _) = gpu.backward(dout)
    dx_cpu, (dh_cpu, _) = cpu.backward(dout)
    assert dx_gpu.shape == (T, D) and dh_gpu.shape == (4, H)
    np.testing.assert_allclose(dx_gpu, dx_cpu, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dh_gpu, dh_cpu, rtol=1e-12, atol=1e-12)


def test_lstm_states_and_inference_on_cuda():
    cpu, gpu = pair(numbarnn.LSTM)
    rng = np.random.default_rng(1)
    x, h0, c0 = (rng.standard_normal(s) for s in [(T, B, D), (2, B, H), (2, B, H)])
    out_cpu, (h_cpu, c_cpu) = cpu.forward(x, (h0, c0), train=False)
    out_gpu, (h_gpu, c_gpu) = gpu.forward(x, (h0, c0), train=False)
    for got, want in [(out_gpu, out_cpu), (h_gpu, h_cpu), (c_gpu, c_cpu)]:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_to_moves_parameters_both_ways():
    cpu, gpu = pair(numbarnn.RNN)
    assert gpu.device == "cuda" and not isinstance(gpu.params["weight_hh_l0"], np.ndarray)
    gpu.to("cpu")
    assert gpu.device == "cpu" and isinstance(gpu.params["weight_hh_l0"], np.ndarray)
    for name, value in cpu.state_dict().items():
        np.testing.assert_array_equal(gpu.params[name], value)
    gpu.to("cuda")
    np.testing.assert_array_equal(gpu.state_dict()["weight_ih_l1"], cpu.params["weight_ih_l1"])


def test_cuda_layer_checks_device_inputs():
    _, gpu = pair(numbarnn.LSTM)
    x = np.ones((T, B, D))
    x[1, 1, 1] = np.nan
    with pytest.raises(ValueError, match=r"^x: .*non-finite.*\(1, 1, 1\)"):
        gpu.forward(cuda.to_device(x))
    with pytest.raises(ValueError, match="^x: .*shape"):
        gpu.forward(cuda.to_device(np.ones((T, B, D + 1))))


def test_cpu_layer_refuses_a_device_array():
    cpu, _ = pair(numbarnn.RNN)
    with pytest.raises(ValueError, match="^x: got a GPU array"):
        cpu.forward(cuda.to_device(np.ones((T, B, D))))


@pytest.mark.parametrize("time_loop", ["warp-cooperative", "tiled-per-step"], indirect=True)
@pytest.mark.parametrize("cls", [numbarnn.LSTM, numbarnn.RNN])
def test_token_ids_on_the_gpu_match_the_cpu(time_loop, cls):
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 5, (3, 2))
    tokens[1, 1] = tokens[0, 0]  # a token seen twice: its gradient column adds both
    dout = rng.standard_normal((3, 2, 4))
    results = []
    for device in ("cpu", "cuda"):
        layer = cls(5, 4, num_layers=2, dtype=np.float64, device=device, seed=0)
        out, (h_n, c_n) = layer.forward(tokens)
        dx, _ = layer.backward(dout)
        assert dx is None and isinstance(out, np.ndarray)
        grads = {k: np.asarray(layer._dev.to_host(g)) for k, g in layer.grads.items()}
        results.append((out, h_n, grads))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=0, atol=1e-12)
    for name in results[0][2]:
        np.testing.assert_allclose(results[1][2][name], results[0][2][name], rtol=0, atol=1e-12)


def test_one_finiteness_check_per_forward_and_backward(monkeypatch):
    """Inputs, states given and parameters are checked in one pass (one synchronisation);
    the zero states the layer makes itself are not checked."""
    from numbarnn.kernels import _cuda_arrays

    checked = []
    original = _cuda_arrays.all_finite
    monkeypatch.setattr(_cuda_arrays, "all_finite",
                        lambda arrays: checked.append([a.shape for a in arrays]) or original(arrays))
    _, gpu = pair(numbarnn.LSTM)  # two layers, with biases: eight parameters
    rng = np.random.default_rng(2)
    gpu.forward(rng.standard_normal((T, B, D)))
    assert len(checked) == 1 and checked[0][0] == (T, B, D) and len(checked[0]) == 1 + 8
    gpu.backward(rng.standard_normal((T, B, H)), (None, rng.standard_normal((2, B, H))))
    assert checked[1:] == [[(T, B, H), (2, B, H)]]
    bad = np.ones((T, B, H))
    bad[2, 0, 3] = np.nan
    gpu.forward(rng.standard_normal((T, B, D)))
    with pytest.raises(ValueError, match=r"^dout: .*non-finite.*\(2, 0, 3\)"):
        gpu.backward(bad)


@pytest.mark.parametrize("cls", [numbarnn.LSTM, numbarnn.RNN])
def test_the_gpu_projects_a_whole_sequence_where_its_results_go(cls, monkeypatch):
    """Training (and the RNN always) projects each layer's whole input into the gates or
    outputs: one projection and one time loop a layer, however small the work space
    (here one step); LSTM inference goes a work space's worth of steps at a time."""
    from numbarnn import devices
    from numbarnn.kernels import _cuda_inputs, _cuda_loop

    monkeypatch.setattr(devices.CUDA, "projection_elements", B * H)  # one step of either
    calls = []
    for module, name in ((_cuda_inputs, "project_inputs"), (_cuda_loop, "run_time_loop")):
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, name=name, original=original:
                            calls.append(name) or original(*a))
    cpu, gpu = pair(cls)
    x = np.random.default_rng(4).standard_normal((T, B, D))
    for train in (True, False):
        del calls[:]
        got, want = gpu.forward(x, train=train), cpu.forward(x, train=train)
        steps = T if cls is numbarnn.LSTM and not train else 1
        assert calls == ["project_inputs", "run_time_loop"] * steps * 2  # two layers
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
