"""Training on device='cuda' (weights and optimiser on the host, ``HostParams``) against
the same training on the CPU: the text model, the forecaster and their commands."""
import numpy as np
import pytest
from click.testing import CliRunner

import numbarnn
from numbarnn.forecast.config import ForecastConfig
from numbarnn.forecast.training import train_forecaster
from numbarnn.layers import HostParams
from numbarnn.text.model import CharRNN
from numbarnn.forecast.datasets import synthetic
from numbarnn.text.training import TextTrainer
from numbarnn_cli.main import cli

TOL = dict(rtol=1e-10, atol=1e-12)
TEXT = "a small text, to train a small model on the gpu. " * 12


def test_host_params_keeps_weights_and_gradients_on_the_host():
    cpu = numbarnn.LSTM(3, 4, num_layers=2, dtype=np.float64, seed=1)
    gpu = HostParams(numbarnn.LSTM(3, 4, num_layers=2, dtype=np.float64, seed=1,
                                   device="cuda"))
    assert all(isinstance(p, np.ndarray) for p in [*gpu.params.values(), *gpu.grads.values()])
    for p in (cpu.params["weight_hh_l1"], gpu.params["weight_hh_l1"]):
        p *= 0.5  # as an optimiser does: in place, on the host
    rng = np.random.default_rng(0)
    x, dout = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 2, 4))
    np.testing.assert_allclose(gpu.forward(x)[0], cpu.forward(x)[0], **TOL)
    np.testing.assert_allclose(gpu.backward(dout)[0], cpu.backward(dout)[0], **TOL)
    for name, grad in cpu.grads.items():
        np.testing.assert_allclose(gpu.grads[name], grad, **TOL, err_msg=name)
    other = numbarnn.LSTM(3, 4, num_layers=2, dtype=np.float64, seed=2)
    gpu.load_state_dict(other.state_dict())  # the host copies follow, and the forward
    for name, value in other.params.items():
        np.testing.assert_array_equal(gpu.params[name], value)
    np.testing.assert_allclose(gpu.forward(x)[0], other.forward(x)[0], **TOL)
    assert gpu.hidden_size == 4 and gpu.device == "cuda"
    assert gpu.to("cpu") is gpu and gpu.device == "cpu"
    with pytest.raises(ValueError, match="one worker"):
        gpu.replica(0)


def test_text_training_on_cuda_follows_the_cpu():
    config = dict(hidden_size=6, num_layers=2, dropout=0.2, batch_size=2, seq_len=3,
                  eval_every=1, val_frac=0.02, dtype="float64", workers=1, seed=4)
    cpu = TextTrainer(TEXT, "t", **config)
    gpu = TextTrainer(TEXT, "t", device="cuda", **config)
    assert isinstance(gpu.model.rnn, HostParams)
    for trainer in (cpu, gpu):
        trainer.train(steps=1, handle_interrupt=False)
    for name, value in cpu.model.params.items():
        np.testing.assert_allclose(gpu.model.params[name], value, **TOL, err_msg=name)
    assert gpu.history[-1]["val_loss"] == pytest.approx(cpu.history[-1]["val_loss"], rel=1e-10)
    with pytest.raises(ValueError, match="one thread"):
        TextTrainer(TEXT, "t", device="cuda", **{**config, "workers": 2})
    assert CharRNN(5, 4, device="cuda").config() == CharRNN(5, 4).config()  # no device in it


@pytest.mark.parametrize("first_device, then", [("cuda", "cpu"), ("cpu", "cuda")])
def test_a_run_moves_between_the_gpu_and_the_cpu(tmp_path, first_device, then):
    config = dict(hidden_size=5, batch_size=2, seq_len=3, eval_every=1, val_frac=0.02,
                  dtype="float64", workers=1)
    straight = TextTrainer(TEXT, "t", **config)
    straight.train(steps=3, handle_interrupt=False)
    first = TextTrainer(TEXT, "t", device=first_device, **config)
    first.train(steps=1, out_dir=str(tmp_path), handle_interrupt=False)
    resumed = TextTrainer.resume(tmp_path / "last.safetensors", TEXT, "t", device=then)
    assert resumed.config["device"] == then
    resumed.train(steps=3, handle_interrupt=False)
    for name, value in straight.model.params.items():
        np.testing.assert_allclose(resumed.model.params[name], value, **TOL, err_msg=name)


def test_forecaster_training_on_cuda_follows_the_cpu():
    series = synthetic("sine", 40, seed=1)
    # several epochs, and early stopping that restores the best weights
    config = ForecastConfig(window=4, horizon=2, hidden_size=3, epochs=3, patience=1,
                            members=1, batch_size=32, season=1, dtype="float64")
    _, cpu = train_forecaster(series, config)
    model, gpu = train_forecaster(series, config, device="cuda")
    for on_gpu, on_cpu in zip(gpu["training"]["members"], cpu["training"]["members"]):
        assert on_gpu["best_epoch"] == on_cpu["best_epoch"]  # the same early stopping
        assert on_gpu["epochs"] == on_cpu["epochs"]
        # the same sums, in another order, through three epochs of Adam, which carry a
        # rounding difference on (one run under the simulator differed by 2.6e-10)
        for name in ("val_loss", "train_loss"):
            assert on_gpu[name] == pytest.approx(on_cpu[name], rel=1e-9), name
    for who in ("model", "seasonal_naive"):
        for name, value in cpu["metrics"][who].items():
            assert gpu["metrics"][who][name] == pytest.approx(value, rel=1e-9), (who, name)


def test_commands_train_on_cuda(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    result = CliRunner().invoke(cli, ["train-text", str(corpus), "--device", "cuda", "--hidden",
                                      "4", "--batch-size", "2", "--seq-len", "3", "--steps", "1",
                                      "--val-frac", "0.02", "--sample", "0", "--out",
                                      str(tmp_path / "text"), "-q"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["train-series", "--synthetic", "sine", "--length", "40",
                                      "--device", "cuda", "--window", "4", "--horizon", "2",
                                      "--season", "1", "--hidden", "3", "--epochs", "1",
                                      "--members", "1", "--batch-size", "64", "--out",
                                      str(tmp_path / "series")])
    assert result.exit_code == 0, result.output
    assert "(direct), on cuda" in result.output
    assert CliRunner().invoke(cli, ["forecast", str(tmp_path / "series")]).exit_code == 0
    resumed = CliRunner().invoke(cli, ["train-text", str(corpus), "--steps", "2", "--out",
                                       str(tmp_path / "text"), "--resume", "--sample", "0"])
    assert resumed.exit_code == 0, resumed.output
    assert "on device cuda" in resumed.output  # a resumed run stays on its device
