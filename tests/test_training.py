"""The training loop: learning, evaluation, checkpoints, exact resume, interrupts."""
import json
import os
import signal

import numpy as np
import pytest

from numbarnn.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from numbarnn.text.training import TextTrainer, load_text_model
from textdata import small_corpus

SMALL = dict(hidden_size=16, batch_size=4, seq_len=8, eval_every=5, seed=0)


def trainer(text=None, **kw):
    return TextTrainer(text or small_corpus(), "small", **{**SMALL, **kw})


def test_training_lowers_the_loss(tmp_path):
    tr = trainer(lr=1e-2)
    summary = tr.train(steps=60, out_dir=str(tmp_path))
    history = summary["history"]
    assert [r["step"] for r in history] == list(range(5, 61, 5))
    assert history[-1]["val_loss"] < history[0]["val_loss"] - 0.5
    assert history[0]["val_loss"] < np.log(len(tr.vocab)) + 0.5
    assert summary["best_val_loss"] == min(r["val_loss"] for r in history)
    assert summary["status"] == "finished" and summary["steps"] == 60
    assert summary["chars_per_second"] > 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["history"] == history
    assert metrics["config"]["hidden_size"] == 16
    assert sorted(os.listdir(tmp_path)) == ["best.safetensors", "last.safetensors",
                                            "metrics.json"]


def test_best_checkpoint_holds_the_best_validation_model(tmp_path):
    tr = trainer(lr=3e-2)
    summary = tr.train(steps=40, out_dir=str(tmp_path))
    model, vocab, meta = load_text_model(tmp_path / "best.safetensors")
    assert meta["position"]["step"] == summary["best_step"]
    probe = TextTrainer(small_corpus(), "small", **SMALL)
    probe.model.load_state_dict(model.state_dict())
    assert probe.evaluate() == pytest.approx(summary["best_val_loss"], rel=1e-6)
    # a directory loads its best checkpoint
    _, _, meta_dir = load_text_model(tmp_path)
    assert meta_dir["position"]["step"] == summary["best_step"]


class InterruptAt:
    """A progress reporter that presses Ctrl-C (sends SIGINT) after a given step."""

    def __init__(self, trainer, step):
        self.trainer, self.step = trainer, step

    def update(self, fraction, text):
        if self.trainer.step == self.step:
            os.kill(os.getpid(), signal.SIGINT)

    def log(self, text):
        pass


def params_of(tr):
    return {k: v.copy() for k, v in tr.model.params.items()}


@pytest.mark.parametrize("cell, optimizer", [("lstm", "adam"), ("rnn", "rmsprop")])
def test_resume_equals_uninterrupted_training(tmp_path, cell, optimizer):
    kw = dict(cell=cell, optimizer=optimizer, num_layers=2, dropout=0.2, lr_schedule="cosine")
    steps = 23  # more than an epoch of the training text: the epoch boundary is crossed
    text = small_corpus(chars=600)
    full = trainer(text, **kw)
    assert len(full.batches) < steps
    full.train(steps=steps)

    first = trainer(text, **kw)
    # interrupted mid-epoch and mid-interval (the cosine schedule still spans 23 steps)
    summary = first.train(steps=steps, out_dir=str(tmp_path), progress=InterruptAt(first, 9))
    assert summary["status"] == "interrupted"
    resumed = TextTrainer.resume(tmp_path / "last.safetensors", text, "small")
    assert (resumed.step, resumed.chunk) == (9, 9 % len(resumed.batches))
    resumed.train(steps=steps)
    for k, v in params_of(full).items():
        np.testing.assert_array_equal(resumed.model.params[k], v, err_msg=k)
    for slot in full.optimizer.slots:
        for a, b in zip(full.optimizer.state[slot], resumed.optimizer.state[slot]):
            np.testing.assert_array_equal(a, b)
    assert resumed.history[-1]["val_loss"] == full.history[-1]["val_loss"]


def test_the_same_seed_gives_the_same_run():
    a, b = trainer(dropout=0.3, num_layers=2), trainer(dropout=0.3, num_layers=2)
    a.train(steps=7)
    b.train(steps=7)
    for k, v in params_of(a).items():
        np.testing.assert_array_equal(b.model.params[k], v)
    c = trainer(dropout=0.3, num_layers=2, seed=1)
    c.train(steps=7)
    assert not np.array_equal(c.model.params["head.weight"], a.model.params["head.weight"])


def test_hidden_state_is_carried_within_an_epoch_and_reset_after():
    tr = trainer()
    n = len(tr.batches)
    tr.train_step()
    assert tr.carry is not None and tr.chunk == 1
    for _ in range(n - 1):
        tr.train_step()
    assert (tr.epoch, tr.chunk) == (1, 0)
    seen = []
    original = tr.model.forward
    tr.model.forward = lambda tokens, state=None, train=True: (seen.append(state),
                                                                original(tokens, state, train))[1]
    tr.train_step()
    assert seen == [None]  # the new epoch started from zeros


def test_ctrl_c_saves_and_stops_after_the_current_step(tmp_path):
    tr = trainer()
    before = signal.getsignal(signal.SIGINT)
    summary = tr.train(steps=50, out_dir=str(tmp_path), progress=InterruptAt(tr, 3))
    assert summary["status"] == "interrupted" and tr.step == 3
    resumed = TextTrainer.resume(tmp_path / "last.safetensors", small_corpus(), "small")
    assert resumed.step == 3
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "interrupted"
    assert signal.getsignal(signal.SIGINT) is before  # the caller's handler is back


def test_ctrl_c_before_the_first_step_saves_nothing(tmp_path, monkeypatch):
    # (while the kernels compile: a checkpoint of step 0 would pass for a run's result)
    from numbarnn.text import training

    def compile_then_ctrl_c(config, progress):
        os.kill(os.getpid(), signal.SIGINT)
        return 0.0

    monkeypatch.setattr(training, "_compile_kernels", compile_then_ctrl_c)
    summary = trainer().train(steps=50, out_dir=str(tmp_path))
    assert summary["status"] == "interrupted" and summary["steps"] == 0
    assert os.listdir(tmp_path) == []  # (so the same command can simply run again)


def test_time_budget_and_epochs_stop_the_run():
    tr = trainer()
    tr.train(epochs=1)
    assert tr.step == len(tr.batches) and tr.epoch == 1
    tr = trainer()
    summary = tr.train(time_budget=0.5)
    assert summary["seconds"] >= 0.5 and tr.step >= 1


def test_no_validation_with_val_frac_0(tmp_path):
    tr = trainer(val_frac=0.0)
    summary = tr.train(steps=5, out_dir=str(tmp_path))
    assert summary["best_val_loss"] is None and summary["history"][-1]["val_loss"] is None
    assert sorted(os.listdir(tmp_path)) == ["last.safetensors", "metrics.json"]


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0}, "batch_size"), ({"clip_mode": "max"}, "clip_mode"),
    ({"lr_schedule": "linear"}, "lr_schedule"), ({"optimizer": "lbfgs"}, "optimizer"),
    ({"clip": -1}, "clip"), ({"colour": "red"}, "unknown option"),
])
def test_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        trainer(**kwargs)


def test_texts_too_short():
    with pytest.raises(ValueError, match=r"training text has .* needs at least 33"):
        TextTrainer("a" * 30, batch_size=4, seq_len=8)
    with pytest.raises(ValueError, match=r"validation text .* --val-frac"):
        TextTrainer("ab" * 100, batch_size=2, seq_len=8, val_frac=0.02)


def test_bad_stopping_criteria():
    tr = trainer()
    with pytest.raises(ValueError, match="at least one"):
        tr.train()
    with pytest.raises(ValueError, match="steps"):
        tr.train(steps=0)
    with pytest.raises(ValueError, match="cosine needs"):
        trainer(lr_schedule="cosine").train(time_budget=1)


def test_resume_refuses_another_corpus_and_bad_files(tmp_path):
    tr = trainer()
    tr.train(steps=2, out_dir=str(tmp_path))
    with pytest.raises(ValueError, match="different corpus"):
        TextTrainer.resume(tmp_path / "last.safetensors", small_corpus(seed=1), "other")
    data = (tmp_path / "last.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        TextTrainer.resume(tmp_path / "cut.safetensors", small_corpus(), "small")
    with pytest.raises(CheckpointError, match="no best.safetensors or last.safetensors"):
        load_text_model(tmp_path.parent)
    # a weight missing from the file is named as missing
    tensors, meta = load_checkpoint(tmp_path / "last.safetensors", "text")
    name = "rnn.weight_hh_l0"
    del tensors[name]
    save_checkpoint(tmp_path / "gap.safetensors", tensors, meta, "text")
    with pytest.raises(CheckpointError, match=f"malformed text checkpoint .*missing keys "
                                              f"\\['{name}'\\]"):
        load_text_model(tmp_path / "gap.safetensors")


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_workers_split_the_batch_without_changing_the_maths(cell):
    runs = []
    for workers in (1, 2, 3):
        tr = trainer(cell=cell, workers=workers, dtype="float64", num_layers=2, embedding_dim=3)
        losses = [tr.train_step() for _ in range(4)]
        runs.append((losses, params_of(tr), tr.evaluate()))
    for losses, params, val in runs[1:]:
        np.testing.assert_allclose(losses, runs[0][0], rtol=1e-12)
        assert val == pytest.approx(runs[0][2], rel=1e-12)
        for k, v in params.items():
            np.testing.assert_allclose(v, runs[0][1][k], rtol=0, atol=1e-12, err_msg=k)


def test_workers_cannot_outnumber_the_streams():
    with pytest.raises(ValueError, match="workers: got 5, more than the batch size 4"):
        trainer(workers=5)
