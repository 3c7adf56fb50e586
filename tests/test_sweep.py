"""``numbarnn sweep``: grids, ranking on validation, the best model kept, resume, Dask."""
import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from numbarnn.checkpoints import load_checkpoint
from numbarnn.forecast.model import Forecaster
from numbarnn.forecast.config import ForecastConfig
from numbarnn.forecast.training import train_forecaster
from numbarnn.forecast.datasets import load_airline
from numbarnn.runs.sweep import combination_names, expand_grid
from numbarnn.text.training import TextTrainer, load_text_model
from numbarnn_cli.main import cli
from clichecks import assert_one_line_error

SERIES = ["--window", "12", "--epochs", "4", "--members", "1", "-q"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_expand_grid_varies_the_last_parameter_fastest():
    assert expand_grid({"a": [1, 2], "b": ["x", "y"]}) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
    assert combination_names([{"hidden_size": 16, "lr": 0.001}]) == ["hidden_size-16_lr-0.001"]
    for bad, fragment in (({}, "empty"), ({"a": []}, "no values"),
                          ({"a": [1, 1]}, "listed twice")):
        with pytest.raises(ValueError, match=fragment):
            expand_grid(bad)


@pytest.mark.parametrize("args, fragments", [
    (["--grid", "hiden=8,16"], ["no option --hiden", "a grid can vary"]),
    (["--grid", "horizon=6,12"], ["--grid horizon: not for a sweep"]),
    (["--grid", "column=a,b"], ["--grid column: not for a sweep"]),
    (["--grid", "hidden="], ["--grid hidden: no values"]),
    (["--grid", "hidden=8,,16"], ["an empty value"]),
    (["--grid", "hidden"], ["expected NAME=V1,V2"]),
    (["--grid", "hidden=8", "--grid", "hidden=16"], ["given twice"]),
    (["--hidden", "8", "--grid", "hidden=8,16"], ["also given as --hidden"]),
    (["--grid", "hidden=eight"], ["--grid hidden:", "'eight' is not a valid integer"]),
    (["--grid", "hidden=0,8"], ["--grid hidden:", "0 is not in the range x>=1"]),
    (["--grid", "cell=lstm,tree"], ["--grid cell:", "'tree' is not one of"]),
    (["--grid", "hidden=8,8"], ["listed twice"]),
    ([], ["give at least one --grid"]),
    (["--val-size", "0", "--grid", "hidden=8,16"], ["val_size 0 holds no whole horizon"]),
    (["--id-column", "id", "--grid", "hidden=8,16"], ["--id-column: needs a CSV"]),
    (["--backtest", "2", "--grid", "hidden=8,16"], ["not with --backtest"]),
    (["--metric", "mape", "--grid", "hidden=8,16"], []),  # click: not a valid choice
])
def test_bad_grids_are_one_line(tmp_path, args, fragments):
    result = run("sweep", "train-series", *args, "--out", tmp_path / "s")
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())


def test_text_sweep_input_errors(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("some text to learn from. " * 40)
    assert_one_line_error(run("sweep", "train-text", corpus, "--metric", "mae", "--grid",
                              "lr=0.001,0.002", "--out", tmp_path / "a"),
                          "rank by validation loss")
    assert_one_line_error(run("sweep", "train-text", corpus, "--grid", "val-frac=0.1,0.2",
                              "--out", tmp_path / "b"), "--grid val-frac: not for a sweep")
    assert_one_line_error(run("sweep", "train-text", corpus, "--val-frac", "0", "--grid",
                              "lr=0.001,0.002", "--out", tmp_path / "c"), "val_frac 0")
    assert_one_line_error(run("sweep", "train-text", tmp_path / "missing.txt", "--grid",
                              "lr=0.001,0.002", "--out", tmp_path / "d"), "missing.txt")
    # the training command's own options are checked by that command
    result = run("sweep", "train-text", corpus, "--hiden", "8", "--grid", "lr=0.001,0.002",
                 "--out", tmp_path / "e")
    assert_one_line_error(result, "No such option '--hiden'")
    assert "(see 'cli train-text --help')" in result.output


def test_a_series_sweep_varies_the_forecasting_settings(tmp_path):
    # the outlier bound, the statistical partner and the floor at 0 are a model's settings
    # like its size: each trial's model holds its combination's
    out = tmp_path / "sweep"
    result = run("sweep", "train-series", *SERIES, "--epochs", "2", "--hidden", "4",
                 "--grid", "winsorize=0,5", "--grid", "combine=auto,none", "--grid",
                 "nonnegative=true,false", "--out", out, "--workers", "0")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert {(r["winsorize"], r["combine"], r["nonnegative"]) for r in rows} == {
        (w, c, n) for w in ("0.0", "5.0") for c in ("auto", "none") for n in ("true", "false")}
    trials = sorted((out / "trials").glob("*.safetensors"))
    assert len(trials) == 8
    for path in trials:  # (named combine-C_nonnegative-N_winsorize-W)
        params = dict(part.split("-", 1) for part in path.stem.split("_"))
        config = Forecaster.load(path).config
        assert (config.combine, config.nonnegative, config.winsorize) == \
            (params["combine"], params["nonnegative"] == "True", float(params["winsorize"]))


def test_resuming_a_sweep_from_before_a_setting_says_so(tmp_path):
    from numbarnn.runs.sweep import _check_same_settings

    # a sweep stored before winsorize existed: what it did then (0.0) resumes it, the new
    # default is refused with a word on why
    (tmp_path / "sweep.json").write_text(json.dumps(
        {"settings": {"job": "series", "epochs": 4}, "grid": {"hidden_size": [4, 8]}}))
    _check_same_settings(tmp_path, {"job": "series", "epochs": 4, "winsorize": 0.0},
                         {"hidden_size": [4, 8]})
    with pytest.raises(ValueError, match=r"winsorize 0\.0 -> 5\.0 \(the sweep predates the "
                                         r"setting: give the old value to resume\)"):
        _check_same_settings(tmp_path, {"job": "series", "epochs": 4, "winsorize": 5.0},
                             {"hidden_size": [4, 8]})
    with pytest.raises(ValueError, match=r"epochs 4 -> 5\); resume"):  # (stored: no word)
        _check_same_settings(tmp_path, {"job": "series", "epochs": 5, "winsorize": 0.0},
                             {"hidden_size": [4, 8]})


def read_trials(out):
    return {p.name: p.read_bytes() for p in sorted((out / "trials").glob("*.safetensors"))}


def test_series_sweep_ranks_on_validation_and_keeps_the_best(tmp_path):
    out = tmp_path / "sweep"
    result = run("sweep", "train-series", *SERIES, "--grid", "hidden=4,16",
                 "--grid", "lr=0.001,0.01", "--out", out, "--workers", "0")
    assert result.exit_code == 0, result.output
    assert "4 of 4 combinations trained" in result.output
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4"]
    scores = [float(r["val_mase"]) for r in rows]
    assert scores == sorted(scores)
    assert {(r["hidden"], r["lr"]) for r in rows} == {("4", "0.001"), ("4", "0.01"),
                                                      ("16", "0.001"), ("16", "0.01")}
    assert all(float(r["test_mase"]) > 0 and r["status"] == "ok" for r in rows)

    # each trial is what train_forecaster gives for its combination, scored on validation
    best = rows[0]
    config = ForecastConfig(window=12, epochs=4, members=1, hidden_size=int(best["hidden"]),
                            lr=float(best["lr"]))
    _, report = train_forecaster(load_airline(), config)
    assert report["validation"]["model"]["mase"] == float(best["val_mase"])
    assert report["metrics"]["model"]["mase"] == float(best["test_mase"])

    # the best model sits at the top of the sweep directory, and forecast uses it
    name = f"hidden-{best['hidden']}_lr-{best['lr']}.safetensors"
    assert (out / "model.safetensors").read_bytes() == (out / "trials" / name).read_bytes()
    model = Forecaster.load(out / "model.safetensors")
    assert model.config.hidden_size == int(best["hidden"])
    assert run("forecast", out).exit_code == 0
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["best"]["params"] == {"hidden": int(best["hidden"]), "lr": float(best["lr"])}
    assert summary["grid"] == {"hidden": [4, 16], "lr": [0.001, 0.01]}
    # the best run's metrics.json, as every training run's: its status, seconds and rate
    # beside the compile's seconds
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["compile_seconds"] >= 0
    assert metrics["seconds"] > 0 and metrics["windows_per_second"] > 0


def test_a_series_sweep_reads_statsforecasts_layout_as_many_series(tmp_path):
    data = tmp_path / "long.csv"
    data.write_text("unique_id,ds,y\n" + "".join(
        f"{sid},{2010 + k // 12}-{k % 12 + 1:02d},{level + k + 5 * np.sin(k):.2f}\n"
        for sid, level in (("a", 100), ("b", 200)) for k in range(40)))
    out = tmp_path / "sweep"
    result = run("sweep", "train-series", data, "--window", "6", "--horizon", "3", "--epochs",
                 "2", "--members", "1", "--grid", "hidden=4,5", "--out", out, "--workers", "0",
                 "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "series").glob("*.safetensors")) == [
        "a.safetensors", "b.safetensors"]


def test_a_failing_combination_is_reported_and_the_rest_ranked(tmp_path):
    out = tmp_path / "sweep"
    result = run("sweep", "train-series", "--epochs", "3", "--members", "1", "-q",
                 "--grid", "window=12,200", "--out", out, "--workers", "0")
    assert result.exit_code == 0, result.output
    assert "1 combination failed" in result.output and "needs at least" in result.output
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [(r["window"], r["rank"], r["status"]) for r in rows] == [("12", "1", "ok"),
                                                                     ("200", "", "failed")]


def test_resume_keeps_trained_combinations_and_the_grid_may_grow(tmp_path, monkeypatch):
    from numbarnn.forecast import panel

    calls = []
    real_task = panel.train_series_task

    def counting(task):
        calls.append(task["config"]["hidden_size"])
        if len(calls) == 2 and not resumed:
            raise KeyboardInterrupt  # Ctrl-C during the second combination
        return real_task(task)

    monkeypatch.setattr(panel, "train_series_task", counting)
    out = tmp_path / "sweep"
    resumed = False
    result = run("sweep", "train-series", *SERIES, "--grid", "hidden=4,8", "--out", out,
                 "--workers", "0")
    assert result.exit_code == 130, result.output
    assert "interrupted: 1 of 2 combinations trained" in result.output
    assert not (out / "model.safetensors").exists()  # no best of a partial sweep

    assert_one_line_error(run("sweep", "train-series", *SERIES, "--epochs", "5", "--grid",
                              "hidden=4,8", "--out", out, "--workers", "0", "--resume"),
                          "other settings", "epochs 4 -> 5")
    resumed = True
    calls.clear()
    result = run("sweep", "train-series", *SERIES, "--grid", "hidden=4,8,16", "--out", out,
                 "--workers", "0", "--resume")
    assert result.exit_code == 0, result.output
    assert calls == [8, 16]
    assert "(1 stored by the earlier run)" in result.output

    straight = tmp_path / "straight"
    assert run("sweep", "train-series", *SERIES, "--grid", "hidden=4,8,16", "--out", straight,
               "--workers", "0").exit_code == 0
    assert read_trials(out) == read_trials(straight)
    assert (out / "sweep.csv").read_text().split("\n")[1].split(",")[:3] == \
        (straight / "sweep.csv").read_text().split("\n")[1].split(",")[:3]


def test_a_sweep_over_the_three_cells(tmp_path):
    out = tmp_path / "cells"
    result = run("sweep", "train-series", *SERIES, "--hidden", "4", "--grid",
                 "cell=rnn,lstm,gru", "--out", out, "--workers", "0")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert sorted(r["cell"] for r in rows) == ["gru", "lstm", "rnn"]


def test_local_cluster_sweep_gives_the_serial_answer(tmp_path):
    pytest.importorskip("distributed")
    serial, cluster = tmp_path / "serial", tmp_path / "cluster"
    args = ["sweep", "train-series", *SERIES, "--grid", "hidden=4,8", "--grid", "cell=lstm,rnn"]
    assert run(*args, "--out", serial, "--workers", "0").exit_code == 0
    result = run(*args, "--out", cluster, "--workers", "2")
    assert result.exit_code == 0, result.output
    assert read_trials(cluster) == read_trials(serial)
    assert (cluster / "model.safetensors").read_bytes() == \
        (serial / "model.safetensors").read_bytes()
    columns = slice(0, 5)  # rank, grid, val score, its baseline: not the seconds
    assert [r[columns] for r in csv.reader((cluster / "sweep.csv").open())] == \
        [r[columns] for r in csv.reader((serial / "sweep.csv").open())]


def test_text_sweep_trains_each_combination_as_train_text_would(tmp_path):
    corpus = tmp_path / "c.txt"
    text = "the quick brown fox jumps over the lazy dog. " * 60
    corpus.write_text(text)
    out = tmp_path / "sweep"
    result = run("sweep", "train-text", corpus, "--hidden", "8", "--batch-size", "4",
                 "--seq-len", "8", "--eval-every", "5", "--grid", "lr=0.002,0.02",
                 "--grid", "steps=10,20", "--out", out, "--workers", "0")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert len(rows) == 4 and [float(r["val_loss"]) for r in rows] == \
        sorted(float(r["val_loss"]) for r in rows)
    best = rows[0]
    trainer = TextTrainer(text, str(corpus), hidden_size=8, batch_size=4, seq_len=8,
                          eval_every=5, lr=float(best["lr"]), workers=1)
    summary = trainer.train(steps=int(best["steps"]), out_dir=tmp_path / "alone",
                            handle_interrupt=False)
    assert summary["best_val_loss"] == float(best["val_loss"])
    _, _, meta = load_text_model(out)  # the sweep directory is a train-text run
    assert meta["train"]["lr"] == float(best["lr"]) and meta["train"]["workers"] == 1
    swept, _ = load_checkpoint(out / "best.safetensors", "text")
    alone, _ = load_checkpoint(tmp_path / "alone" / "best.safetensors", "text")
    assert swept.keys() == alone.keys()
    for name, value in alone.items():
        np.testing.assert_array_equal(swept[name], value, err_msg=name)
    generated = run("generate", out, "--length", "20", "--seed", "0")
    assert generated.exit_code == 0 and len(generated.output.rstrip("\n")) == 20


def test_many_series_sweep_ranks_by_the_mean_over_series_and_keeps_a_panel_run(tmp_path):
    from numbarnn.forecast.panel import synthetic_panel, write_panel_csv

    rows = synthetic_panel(3, seed=5, short_share=0, min_length=40, max_length=48)
    rows += [("store_9", f"2010-{m:02d}", 10.0 + m) for m in range(1, 9)]  # too short
    data = tmp_path / "sales.csv"
    write_panel_csv(data, rows, ("store", "day", "sales"))
    out = tmp_path / "sweep"
    # window 34 needs 43 steps (34 + horizon, validation and test 3 each): store_1 (40
    # steps) then has no validation part and forecasts with the statistical mean alone,
    # unscored by validation (store_9, 8 steps, fails at both windows)
    result = run("sweep", "train-series", data, "--id-column", "store", "--horizon", "3",
                 "--epochs", "3", "--members", "1", "-q", "--grid", "hidden=4,8",
                 "--grid", "window=6,34", "--out", out, "--workers", "0")
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader((out / "sweep.csv").open()))
    assert [(r["window"], r["series_trained"], r["series_failed"]) for r in table] == \
        [("6", "3", "1")] * 2 + [("34", "3", "1")] * 2
    for r in table:
        trials = [json.loads(p.read_text())["result"] for p in
                  (out / "trials" / f"hidden-{r['hidden']}_window-{r['window']}").glob("*.json")]
        assert len(trials) == 4  # every series, the short one too (it failed)
        scores = [t["validation"]["model"]["mase"] for t in trials if t["validation"]]
        assert float(r["val_mase"]) == pytest.approx(float(np.mean(scores)), rel=1e-12)
        assert int(r["series_trained"]) == len(scores) + (r["window"] == "34")
    best = table[0]
    assert best["window"] == "6" and best["series_trained"] == "3"
    best_dir = out / "trials" / f"hidden-{best['hidden']}_window-6"
    for name in ("store_0", "store_1", "store_2"):
        assert (out / "series" / f"{name}.safetensors").read_bytes() == \
            (best_dir / f"{name}.safetensors").read_bytes()
    run_json = json.loads((out / "metrics.json").read_text())
    assert run_json["config"]["hidden_size"] == int(best["hidden"])
    assert run_json["summary"]["trained"] == 3
    assert run("forecast", out).exit_code == 0  # the sweep directory is a many-series run
    forecast = list(csv.reader((out / "forecast.csv").open()))
    assert forecast[0] == ["store", "date", "forecast"] and len(forecast) == 1 + 3 * 3
    assert_one_line_error(run("sweep", "train-series", data, "--id-column", "store",
                              "--metric", "mae", "--grid", "hidden=4,8", "--out",
                              tmp_path / "x"), "scale-free")


def scored_task(task):
    """A stand-in task: returns the score it is given, or fails."""
    return {"error": task.get("error"), "score": task.get("score"), "checkpoint": None}


def test_fewer_failed_tasks_rank_first_whatever_the_score(tmp_path):
    from numbarnn.runs.sweep import run_task_sweep

    tasks = [[("s1", {"score": 0.1}), ("s2", {"error": "too short"})],   # better score
             [("s1", {"score": 0.5}), ("s2", {"score": 0.7})],           # no failure
             [("s1", {"error": "bad"}), ("s2", {"error": "bad"})]]        # nothing scored

    def score(results):
        values = [r["score"] for r in results if not r["error"]]
        return float(np.mean(values)) if values else None

    summary = run_task_sweep(scored_task, tasks, {"c": ["a", "b", "z"]}, str(tmp_path), "val",
                             score, lambda results: {}, lambda index, results: {
                                 "best.json": {"index": index}}, {}, workers=0)
    assert [(e["params"]["c"], e["rank"], e["score"]) for e in summary["ranking"]] == \
        [("b", 1, 0.6), ("a", 2, 0.1), ("z", None, None)]
    assert json.loads((tmp_path / "best.json").read_text()) == {"index": 1}
    assert summary["ranking"][1]["error"] == "1 of 2 tasks failed"


def test_resume_refuses_another_kind_of_run_and_the_grid_order_does_not_matter(tmp_path,
                                                                            monkeypatch):
    from numbarnn.forecast import panel

    single = tmp_path / "single"
    assert run("train-series", "--out", single, "--epochs", "2", "--members", "1",
               "-q").exit_code == 0
    before = (single / "model.safetensors").read_bytes()
    assert_one_line_error(run("sweep", "train-series", *SERIES, "--grid", "hidden=4,8", "--out",
                              single, "--resume"), "holds a train-series run, not a sweep")
    assert (single / "model.safetensors").read_bytes() == before

    out = tmp_path / "sweep"
    assert run("sweep", "train-series", *SERIES, "--grid", "lr=0.001,0.01", "--grid",
               "hidden=4,8", "--out", out, "--workers", "0").exit_code == 0
    calls = []
    real_task = panel.train_series_task
    monkeypatch.setattr(panel, "train_series_task",
                        lambda task: (calls.append(task), real_task(task))[1])
    result = run("sweep", "train-series", *SERIES, "--grid", "hidden=4,8", "--grid",
                 "lr=0.001,0.01", "--out", out, "--workers", "0", "--resume")
    assert result.exit_code == 0, result.output
    assert calls == [] and "nothing" not in result.output
    assert sorted(p.name for p in (out / "trials").glob("*.safetensors")) == [
        "hidden-4_lr-0.001.safetensors", "hidden-4_lr-0.01.safetensors",
        "hidden-8_lr-0.001.safetensors", "hidden-8_lr-0.01.safetensors"]
    # a fixed setting may move into the grid (with its value among the grid's)
    result = run("sweep", "train-series", *SERIES, "--grid", "hidden=4,8", "--grid",
                 "lr=0.001,0.01", "--grid", "clip=1,2", "--out", out, "--workers", "0",
                 "--resume")
    assert result.exit_code == 0, result.output


def test_an_interrupted_resume_leaves_no_stale_best_model(tmp_path, monkeypatch):
    from numbarnn.forecast import panel

    out = tmp_path / "sweep"
    assert run("sweep", "train-series", *SERIES, "--grid", "hidden=4,8", "--out", out,
               "--workers", "0").exit_code == 0
    assert (out / "model.safetensors").exists()

    def ctrl_c(task):
        raise KeyboardInterrupt

    monkeypatch.setattr(panel, "train_series_task", ctrl_c)
    result = run("sweep", "train-series", *SERIES, "--grid", "hidden=4,8,16", "--out", out,
                 "--workers", "0", "--resume")
    assert result.exit_code == 130
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["status"] == "interrupted" and summary["best"] is None
    assert summary["finished"] == 2  # the stored ones
    assert not (out / "model.safetensors").exists() and not (out / "metrics.json").exists()
    assert len(list((out / "trials").glob("*.safetensors"))) == 2


def test_a_diverging_text_combination_fails_alone(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 40)
    out = tmp_path / "sweep"
    result = run("sweep", "train-text", corpus, "--hidden", "8", "--batch-size", "4",
                 "--seq-len", "8", "--steps", "5", "--grid", "lr=0.01,1e30", "--out", out,
                 "--workers", "0")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [(r["lr"], r["rank"], r["status"]) for r in rows] == [("0.01", "1", "ok"),
                                                                 ("1e+30", "", "failed")]
    assert "training diverged at step" in rows[1]["error"]
