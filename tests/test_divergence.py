"""A run whose loss blows up stops with one line, keeps its best checkpoint and says so."""
import json
import math

from click.testing import CliRunner

from numbarnn import TextConfig
from numbarnn.checkpoints import load_checkpoint
from numbarnn.text.training import DIVERGED, TextTrainer
from numbarnn_cli.main import cli

TEXT = "the quick brown fox jumps over the lazy dog. " * 40
SMALL = TextConfig(hidden_size=8, batch_size=4, seq_len=8, eval_every=5, workers=1)


def test_a_huge_learning_rate_stops_as_diverged_with_exit_1(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train-text", str(corpus), "--lr", "1e6", "--hidden", "8",
                                      "--batch-size", "4", "--seq-len", "8", "--steps", "50",
                                      "--out", str(out), "-q"])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: training diverged at step ")
    assert "ln V" in lines[0] and "lower --lr" in lines[0]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and metrics["diverged"]["step"] <= 5
    assert not (out / "best.safetensors").exists()


def test_the_best_checkpoint_of_a_run_that_later_diverges_is_kept(tmp_path):
    out = tmp_path / "run"
    trainer = TextTrainer(TEXT, config=SMALL)
    trainer.train(steps=10, out_dir=out, handle_interrupt=False)
    best = (out / "best.safetensors").read_bytes()
    best_step = trainer.best_step
    trainer.config["lr"] = 1e6  # from here on every step blows up
    summary = trainer.train(steps=60, out_dir=out, handle_interrupt=False)
    assert summary["status"] == "diverged"
    assert summary["diverged"]["step"] > 10
    loss = summary["diverged"]["loss"]
    assert isinstance(loss, str) or loss > DIVERGED * math.log(len(trainer.vocab))
    assert (out / "best.safetensors").read_bytes() == best  # untouched
    _, meta = load_checkpoint(out / "last.safetensors", "text")
    assert meta["position"]["step"] <= summary["diverged"]["step"]
    written = json.loads((out / "metrics.json").read_text())
    assert written["status"] == "diverged" and written["best_step"] == best_step


def test_an_ordinary_run_is_not_diverged():
    trainer = TextTrainer(TEXT, config=SMALL)
    summary = trainer.train(steps=10, handle_interrupt=False)
    assert summary["status"] == "finished" and summary["diverged"] is None
    assert not trainer.diverged(math.log(len(trainer.vocab)))
    assert trainer.diverged(float("nan")) and trainer.diverged(float("inf"))


def test_a_diverging_series_run_keeps_each_network_at_its_best_and_exits_1(tmp_path):
    from numbarnn.forecast.model import Forecaster

    out = tmp_path / "series"
    result = CliRunner().invoke(cli, ["train-series", "--lr", "1e6", "--epochs", "5",
                                      "--members", "2", "--out", str(out), "-q"])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: training diverged: network 1 at ")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "diverged"
    assert all(m["diverged"] for m in metrics["training"]["members"])
    model = Forecaster.load(out / "model.safetensors")  # the kept (best-epoch) networks
    assert model.config.lr == 1e6


def test_an_ordinary_series_run_is_finished(tmp_path):
    from numbarnn.forecast.training import train_forecaster
    from numbarnn.forecast.datasets import load_airline

    _, report = train_forecaster(load_airline(), epochs=3, members=1)
    assert report["status"] == "finished"
    assert report["training"]["members"][0]["diverged"] is None


def test_a_panel_counts_its_diverged_series_keeps_them_and_exits_1(tmp_path):
    from numbarnn.forecast.panel import synthetic_panel, write_panel_csv

    data = tmp_path / "panel.csv"
    write_panel_csv(data, synthetic_panel(2, seed=5, short_share=0, min_length=40,
                                          max_length=40))
    out = tmp_path / "panel"
    result = CliRunner().invoke(cli, ["train-series", str(data), "--id-column", "id", "--lr",
                                      "1e6", "--epochs", "3", "--members", "1", "--window",
                                      "6", "--horizon", "3", "--workers", "0", "--out",
                                      str(out), "-q"])
    assert result.exit_code == 1, result.output
    assert "2 series diverged" in result.output and "2 of 2 series diverged" in result.output
    summary = json.loads((out / "metrics.json").read_text())["summary"]
    assert summary["trained"] == 2 and len(summary["diverged"]) == 2
    assert summary["diverged"][0]["reason"].startswith("training diverged: network 1 at ")
    rows = (out / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[1] for r in rows[1:]] == ["diverged", "diverged"]
    assert len(list((out / "series").glob("*.safetensors"))) == 2  # each kept at its best
