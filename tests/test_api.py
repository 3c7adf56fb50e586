"""One shape for both jobs: fit(data, config) -> (model, report), model.save(path),
Model.load(path), load_run(directory), the device in the configuration; sweeps from
Python; the flat layout's module names still import."""
import importlib
import json
import sys
import warnings
from dataclasses import replace

import numpy as np
import pytest

from numbarnn import TextConfig
from numbarnn.forecast import ForecastConfig, Forecaster, load_airline, synthetic_panel
from numbarnn.forecast import fit as fit_series
from numbarnn.forecast.panel import read_panel_csv, write_panel_csv
from numbarnn.runs import (PanelSweep, SeriesSweep, TextSweep, load_run, run_sweep,
                           train_panel)
from numbarnn.text import TextGenerator
from numbarnn.text import fit as fit_text

TEXT = "the quick brown fox jumps over the lazy dog. " * 60
TINY_TEXT = TextConfig(hidden_size=8, batch_size=4, seq_len=16, eval_every=5, workers=1,
                       seed=0)
TINY_SERIES = ForecastConfig(window=12, horizon=6, hidden_size=4, epochs=3, members=1)


def test_text_fit_save_load(tmp_path):
    generator, report = fit_text(TEXT, TINY_TEXT, steps=10)
    assert isinstance(generator, TextGenerator) and report["status"] == "finished"
    assert report["steps"] == 10 and report["best_val_loss"] is not None
    sample = generator.generate(40, prime="the ", seed=1)
    assert len(sample) == 40 and set(sample) <= set(TEXT)
    generator.save(tmp_path / "g.safetensors")
    again = TextGenerator.load(tmp_path / "g.safetensors")
    assert again.generate(40, prime="the ", seed=1) == sample
    assert again.config["hidden_size"] == 8


def test_text_fit_writes_the_run_and_load_run_reads_it(tmp_path):
    generator, report = fit_text(TEXT, TINY_TEXT, steps=10, out_dir=tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert run.kind == "text" and run.metrics["steps"] == 10
    assert run.model.generate(30, seed=2) == generator.generate(30, seed=2)


def test_series_fit_save_load_and_load_run(tmp_path):
    model, report = fit_series(load_airline(), TINY_SERIES)
    assert isinstance(model, Forecaster) and report["config"]["device"] == "cpu"
    (tmp_path / "run").mkdir()
    model.save(tmp_path / "run" / "model.safetensors")
    (tmp_path / "run" / "metrics.json").write_text(json.dumps(report))
    run = load_run(tmp_path / "run")
    assert run.kind == "series" and run.metrics["season"] == 12
    assert np.array_equal(run.model.forecast(6)["values"], model.forecast(6)["values"])


def test_the_device_is_the_configurations_in_both_jobs():
    assert TextConfig().device == ForecastConfig().device == "cpu"
    with pytest.raises(ValueError, match="device"):
        ForecastConfig(device="tpu")
    _, report = fit_series(load_airline(), TINY_SERIES, device="cpu")  # an override
    assert report["config"]["device"] == "cpu"


def test_load_run_of_a_panel_and_of_nothing(tmp_path):
    write_panel_csv(tmp_path / "p.csv", synthetic_panel(2, seed=1, short_share=0,
                                                        min_length=40, max_length=40))
    panel = read_panel_csv(tmp_path / "p.csv", "id")
    (tmp_path / "run").mkdir()
    train_panel(panel, ForecastConfig(window=6, horizon=3, hidden_size=4, epochs=2, members=1),
                str(tmp_path / "run"), workers=0)
    run = load_run(tmp_path / "run")
    assert run.kind == "panel" and list(run.model) == list(panel.series)
    assert all(isinstance(m, Forecaster) for m in run.model.values())
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no model here"):
        load_run(tmp_path / "empty")
    with pytest.raises(ValueError, match="no such run directory"):
        load_run(tmp_path / "missing")


def test_series_sweep_from_python_ranks_and_keeps_the_best(tmp_path):
    grid = {"hidden_size": [2, 4], "lr": [1e-3, 1e-2]}
    summary = run_sweep(SeriesSweep(load_airline(), TINY_SERIES), grid, str(tmp_path / "s"),
                        workers=0)
    assert summary["status"] == "finished" and summary["combinations"] == 4
    scores = [e["score"] for e in summary["ranking"]]
    assert scores == sorted(scores) and summary["best"]["score"] == scores[0]
    best = load_run(tmp_path / "s")
    assert best.kind == "series" and best.model.config.hidden_size == \
        summary["best"]["params"]["hidden_size"]
    # the shared settings are checked on resume
    with pytest.raises(ValueError, match="other settings"):
        run_sweep(SeriesSweep(load_airline(), replace(TINY_SERIES, epochs=4)), grid,
                  str(tmp_path / "s"), resume=True, workers=0)


def test_sweep_specs_refuse_what_they_cannot_rank(tmp_path):
    with pytest.raises(ValueError, match="metric"):
        SeriesSweep(load_airline(), TINY_SERIES, metric="mape")
    with pytest.raises(ValueError, match="holds no whole horizon"):
        SeriesSweep(load_airline(), ForecastConfig(horizon=6, val_size=3))
    with pytest.raises(ValueError, match="val_frac 0"):
        TextSweep(TEXT, TextConfig(val_frac=0))
    write_panel_csv(tmp_path / "p.csv", synthetic_panel(2, seed=1, short_share=0))
    with pytest.raises(ValueError, match="scale-free"):
        PanelSweep(read_panel_csv(tmp_path / "p.csv", "id"), metric="mae")
    with pytest.raises(ValueError, match="hidden_size"):  # a bad grid value: before any runs
        run_sweep(SeriesSweep(load_airline(), TINY_SERIES), {"hidden_size": [0, 4]},
                  str(tmp_path / "bad"), workers=0)


def test_text_sweep_with_grid_names_and_stops(tmp_path):
    spec = TextSweep(TEXT, TINY_TEXT, steps=5, names={"hidden": "hidden_size"})
    summary = run_sweep(spec, {"hidden": [4, 8], "steps": [5, 10]}, str(tmp_path / "t"),
                        workers=0)
    steps = {tuple(e["params"].values()): e["columns"]["steps"] for e in summary["ranking"]}
    assert steps == {(4, 5): 5, (4, 10): 10, (8, 5): 5, (8, 10): 10}
    assert load_run(tmp_path / "t").kind == "text"


@pytest.mark.parametrize("old, name, new", [
    ("forecasting", "train_forecaster", "numbarnn.forecast.training"),
    ("forecasting", "ForecastConfig", "numbarnn.forecast.config"),
    ("training", "TextTrainer", "numbarnn.text.training"),
    ("series", "load_airline", "numbarnn.forecast.datasets"),
    ("series", "read_csv", "numbarnn.forecast.series"),
    ("series", "future_dates", "numbarnn.forecast.dates"),
    ("forecasting", "ALONE_WINDOWS", "numbarnn.forecast.combination"),
    ("forecasting", "DIVERGED", "numbarnn.forecast.fitting"),
    ("panel", "train_panel", "numbarnn.runs.panels"),
    ("panel", "read_panel_csv", "numbarnn.forecast.panel"),
    ("config", "TextConfig", "numbarnn.text.config"),
    ("sampling", "Sampler", "numbarnn.text.sampling"),
    ("sweep", "expand_grid", "numbarnn.runs.sweep"),
])
def test_the_flat_layouts_modules_still_import(monkeypatch, old, name, new):
    monkeypatch.delitem(sys.modules, f"numbarnn.{old}", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(f"numbarnn.{old}")
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message)
               for w in caught)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


def test_the_old_text_modules_names_are_the_text_packages():
    from numbarnn.text import builtin_corpus, corpus

    text, _ = builtin_corpus(2000)
    assert builtin_corpus is corpus.builtin_corpus and 0 < len(text) <= 2000


def test_the_dates_and_builtin_series_still_import_from_series():
    from numbarnn.forecast import dates, datasets, series

    with pytest.warns(DeprecationWarning, match="numbarnn.forecast.datasets.load_airline"):
        assert series.load_airline is datasets.load_airline
    with pytest.warns(DeprecationWarning, match="numbarnn.forecast.dates.future_dates"):
        assert series.future_dates is dates.future_dates
    assert series.parse_date is dates.parse_date  # (series reads dates with it: no warning)
    with pytest.raises(AttributeError):
        series.no_such_name  # noqa: B018


def test_the_partners_constants_still_import_from_training():
    from numbarnn.forecast import combination, fitting, training

    with pytest.warns(DeprecationWarning, match="numbarnn.forecast.combination.ALONE_WINDOWS"):
        assert training.ALONE_WINDOWS == combination.ALONE_WINDOWS
    with pytest.warns(DeprecationWarning, match="numbarnn.forecast.fitting.DIVERGED"):
        assert training.DIVERGED == fitting.DIVERGED


def test_a_moved_name_of_an_old_module_warns_once(monkeypatch):
    monkeypatch.delitem(sys.modules, "numbarnn.series", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = importlib.import_module("numbarnn.series")
        old.load_airline  # noqa: B018
    assert [str(w.message) for w in caught] == [
        "numbarnn.series is now numbarnn.forecast.series, numbarnn.forecast.dates, "
        "numbarnn.forecast.datasets"]


def test_the_run_directory_functions_still_import_from_checkpoints():
    from numbarnn import checkpoints
    from numbarnn.runs import run_dir

    with pytest.warns(DeprecationWarning, match="numbarnn.runs.run_dir.run_lock"):
        assert checkpoints.run_lock is run_dir.run_lock
    with pytest.raises(AttributeError):
        checkpoints.no_such_name  # noqa: B018


def test_the_cuda_helpers_old_module_finds_their_new_ones(monkeypatch):
    from numbarnn.kernels import _cuda_arrays, _cuda_loop

    monkeypatch.delitem(sys.modules, "numbarnn.kernels._cuda_common", raising=False)
    with pytest.warns(DeprecationWarning, match="_cuda_loop"):
        common = importlib.import_module("numbarnn.kernels._cuda_common")
    assert common.plan_time_loop is _cuda_loop.plan_time_loop
    assert common.all_finite is _cuda_arrays.all_finite
