"""What a sweep of each job runs and how it ranks: the specifications ``run_sweep`` takes.

>>> from numbarnn.forecast import ForecastConfig, load_airline
>>> from numbarnn.runs import SeriesSweep, run_sweep
>>> spec = SeriesSweep(load_airline(), ForecastConfig(epochs=50, members=1))
>>> summary = run_sweep(spec, {"hidden_size": [16, 32], "lr": [1e-3, 3e-3]}, "runs/sweep")
>>> best = summary["best"]  # its name, params and validation score

A specification says, for one combination of the grid, which plain-data tasks train
it (``tasks``), how its results score on the validation steps (``score``, lower is
better; the test takes no part), what else ``sweep.csv`` shows (``columns``) and
which files make the best combination's model (``best_files``), so that the sweep
directory is used like one run's.  A grid names the fields of the job's
configuration (``ForecastConfig``, ``TextConfig``; the text job also its stops
``steps``, ``epochs``, ``time_budget``), or other names with ``names``
(``{'hidden': 'hidden_size'}``, as the command line's options).
"""
from dataclasses import asdict, replace

import numpy as np

from ..forecast import panel as series_panel
from ..forecast.config import ForecastConfig
from ..forecast.metrics import SWEEP_METRICS
from ..forecast.panel import SERIES_DIR, panel_rows, safe_name, series_task, summarize
from ..text import training as text_training
from ..text.config import DEFAULT_STEPS, TextConfig
from .panels import panel_run_files
from .parallel import task_digest

TEXT_STOPS = ("steps", "epochs", "time_budget")


class SweepSpec:
    """The base of the specifications: override ``tasks`` and ``score`` at least.

    Attributes
    ----------
    function : callable
        The task function every task is given to (plain data in, plain data out).
    score_name : str
        The ranking column of ``sweep.csv``.
    names : dict
        Grid names -> configuration fields, for the names that differ.
    """

    function = None
    score_name = "score"

    def __init__(self, names=None):
        self.names = dict(names or {})

    def fields(self, combination):
        """A combination with its names as the configuration's fields."""
        return {self.names.get(k, k): v for k, v in combination.items()}

    def tasks(self, combination):
        """``[(name or None, task)]``: None for a combination of one task."""
        raise NotImplementedError

    def score(self, results):
        """The combination's validation score from its tasks' results, or None."""
        raise NotImplementedError

    def columns(self, results):
        """More ``sweep.csv`` columns for a combination."""
        return {}

    def best_files(self, combination, results):
        """``{path under the sweep directory: bytes, text or JSON-able}``, for the best."""
        return {}

    def settings(self, grid):
        """What every combination shares (JSON-able): a resumed sweep must have the same."""
        return {}

    def warm_up(self, combination):
        """``(function, argument)`` that compiles what the tasks need, once per worker."""
        return None


class _ForecastSweep(SweepSpec):
    """What the series sweeps share: the configuration and the metric."""

    job = None  # 'series' or 'panel', in the settings

    @property
    def function(self):
        return series_panel.train_series_task  # looked up when the sweep runs

    def __init__(self, config=None, metric="mase", names=None):
        super().__init__(names)
        if metric not in SWEEP_METRICS:
            raise ValueError(f"metric: got {metric!r}, expected one of "
                             f"{', '.join(SWEEP_METRICS)}")
        self.config = config if config is not None else ForecastConfig()
        if self.config.val_size is not None and self.config.val_size < self.config.horizon:
            raise ValueError(f"a sweep ranks on the validation steps: val_size "
                             f"{self.config.val_size} holds no whole horizon "
                             f"({self.config.horizon}); give at least that")
        self.metric = metric
        self.score_name = f"val_{metric}"

    def config_for(self, combination):
        """The configuration of one combination (checked)."""
        return replace(self.config, **self.fields(combination))

    def settings(self, grid):
        varied = {self.names.get(k, k) for k in grid}
        shared = {k: v for k, v in asdict(self.config).items()
                  if k not in varied and k != "device"}  # the device may change on resume
        return {"job": self.job, **shared, "data": task_digest([(t["values"], t["dates"])
                                               for _, t in self.tasks({})])}

    def warm_up(self, combination):
        return (series_panel.warm_up_task, asdict(self.config_for(combination)))


class SeriesSweep(_ForecastSweep):
    """A sweep of one series' forecaster, ranked by the validation ``metric``
    (mase, smape, mae or rmse) of forecasts from the validation origins; the best
    combination's ``model.safetensors`` and ``metrics.json`` go to the top.

    Parameters
    ----------
    series : numbarnn.forecast.Series
    config : ForecastConfig, optional
        The settings every combination shares; the grid changes some of them.
    metric : str
    names : dict, optional
    """

    job = "series"

    def __init__(self, series, config=None, metric="mase", names=None):
        super().__init__(config, metric, names)
        self.series = series

    def tasks(self, combination):
        return [(None, series_task(self.series.name, self.series, self.config_for(combination)))]

    def score(self, results):
        validation = results[0]["validation"]
        return None if validation is None else validation["model"][self.metric]

    def columns(self, results):
        result, m = results[0], self.metric
        test, val = result["metrics"], result["validation"]
        return {f"val_{m}_seasonal_naive": None if val is None else val["seasonal_naive"][m],
                f"test_{m}": None if test is None else test["model"][m],
                f"test_{m}_seasonal_naive": None if test is None else test["seasonal_naive"][m],
                "epochs": result["epochs"], "seconds": result["seconds"]}

    def best_files(self, combination, results):
        result = results[0]
        return {"model.safetensors": result["checkpoint"],
                "metrics.json": {key: result.get(key) for key in (
                    "status", "metrics", "validation", "season", "epochs", "seconds",
                    "windows_per_second", "compile_seconds")}}


class PanelSweep(_ForecastSweep):
    """A sweep over every series of a panel per combination, ranked by the mean
    validation ``metric`` over the series (mase or smape: scale-free), after the number
    of series that failed (fewer first); the best combination is written as a
    many-series run at the top.

    Parameters
    ----------
    panel : numbarnn.forecast.panel.Panel
    config : ForecastConfig, optional
    metric : {'mase', 'smape'}
    names : dict, optional
    """

    job = "panel"

    def __init__(self, panel, config=None, metric="mase", names=None):
        if metric not in ("mase", "smape"):
            raise ValueError(f"metric {metric!r}: with many series the scores are averaged, "
                             "which needs a scale-free metric: mase or smape")
        super().__init__(config, metric, names)
        self.panel = panel

    def tasks(self, combination):
        config = self.config_for(combination)
        return [(safe_name(series_id), series_task(series_id, series, config))
                for series_id, series in self.panel.series.items()]

    def score(self, results):
        values = [r["validation"]["model"][self.metric] for r in results
                  if r["validation"] is not None
                  and r["validation"]["model"][self.metric] is not None]
        return float(np.mean(values)) if values else None

    def columns(self, results):
        summary, m = summarize(results), self.metric
        return {"series_trained": summary["trained"], "series_failed": len(summary["failed"]),
                f"test_mean_{m}": summary[m]["model"]["mean"],
                f"test_mean_{m}_seasonal_naive": summary[m]["seasonal_naive"]["mean"],
                "beat_seasonal_naive": summary["beat_seasonal_naive"]}

    def best_files(self, combination, results):
        rows = panel_rows(self.panel, results)
        files = panel_run_files(self.panel, self.config_for(combination), rows, "finished",
                                summarize(rows))
        files.update({f"{SERIES_DIR}/{safe_name(r['id'])}.safetensors": r["checkpoint"]
                      for r in results if r["checkpoint"] is not None})
        return files


class TextSweep(SweepSpec):
    """A sweep of a text generator, ranked by the best validation loss; each combination
    trains on one thread (combinations run side by side), the best one's
    ``best.safetensors`` and ``metrics.json`` go to the top.

    Parameters
    ----------
    text : str
    config : TextConfig, optional
        The settings every combination shares (``workers`` is 1 for each).
    corpus_name : str
    steps, epochs, time_budget
        When each combination stops (the grid may vary them too); ``DEFAULT_STEPS``
        if none is given.
    names : dict, optional
    """

    score_name = "val_loss"

    @property
    def function(self):
        return text_training.train_text_task

    def __init__(self, text, config=None, corpus_name="text", steps=None, epochs=None,
                 time_budget=None, names=None):
        super().__init__(names)
        self.config = config if config is not None else TextConfig()
        if self.config.val_frac == 0:
            raise ValueError("a text sweep ranks by validation loss: val_frac 0 holds none out")
        self.text, self.corpus_name = text, corpus_name
        self.stops = {"steps": steps, "epochs": epochs, "time_budget": time_budget}

    def _task(self, combination):
        changes = self.fields(combination)
        stop = {**self.stops, **{k: v for k, v in changes.items() if k in TEXT_STOPS}}
        if all(v is None for v in stop.values()):
            stop["steps"] = DEFAULT_STEPS
        config = self.config.replace(workers=1, **{k: v for k, v in changes.items()
                                                   if k not in TEXT_STOPS}).to_dict()
        if config["device"] == "cpu":  # only where it is not: a CPU task stays as it was
            del config["device"]
        return {"text": self.text, "corpus_name": self.corpus_name, "config": config, **stop}

    def tasks(self, combination):
        return [(None, self._task(combination))]

    def score(self, results):
        return results[0]["best_val_loss"]

    def columns(self, results):
        summary = results[0]["summary"] or {}
        return {"best_step": summary.get("best_step"), "steps": summary.get("steps"),
                "final_val_loss": summary.get("final_val_loss"),
                "chars_per_second": summary.get("chars_per_second"),
                "seconds": results[0]["seconds"]}

    def best_files(self, combination, results):
        return {"best.safetensors": results[0]["checkpoint"],
                "metrics.json": results[0]["summary"]}

    def settings(self, grid):
        varied = {self.names.get(k, k) for k in grid}
        shared = {**self.config.to_dict(), **self.stops}
        return {"job": "text", **{k: v for k, v in shared.items()
                   if k not in varied and k not in ("workers", "device")},
                "data": task_digest(self.text)}

    def warm_up(self, combination):
        return (text_training.warm_up_text_task, self._task(combination)["config"])
