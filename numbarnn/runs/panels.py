"""A many-series run: one forecaster per series of a panel, in parallel, in one run directory.

The work for one series is ``numbarnn.forecast.panel.train_series_task`` (plain
data in and out, so that it runs in another process or on another machine);
this module hands the tasks to ``numbarnn.runs.parallel`` and writes what comes
back: one checkpoint per series, ``metrics.csv`` and ``metrics.json``.
"""
import os
import time
from dataclasses import asdict

from ..forecast import panel as series_panel
from ..forecast.config import LATER_SETTINGS
from ..forecast.panel import (SERIES_DIR, _beats_seasonal_naive, metrics_csv, panel_rows,
                              safe_name, series_task, summarize)


def train_panel(panel, config, out_dir, workers=None, scheduler=None, on_result=None,
                resume=False, device=None):
    """Train one forecaster per series of ``panel`` and write the run directory.

    Each series' checkpoint and result go to ``out_dir/series/<safe id>.safetensors``
    and ``.json`` as it finishes (atomically); ``out_dir/metrics.csv`` and
    ``out_dir/metrics.json`` are written at the start, at the end, and when Ctrl-C
    stops the run, which keeps every finished series.

    Parameters
    ----------
    panel : Panel
    config : ForecastConfig
        The same configuration (and seed) for every series.
    out_dir : str
        An existing directory.
    workers, scheduler
        Where the work runs: see ``numbarnn.runs.parallel.map_tasks``.
    on_result : callable, optional
        Called with ``(done, total, result, share_beating)`` after each series.
    resume : bool
        Continue the run in ``out_dir``: series whose data and configuration are
        unchanged keep their stored results; the others are trained.
    device : {'cpu', 'cuda'}, optional
        Where each series trains; ``config.device`` if None.

    Returns
    -------
    dict
        The summary stored in ``metrics.json`` under ``summary``; its ``status`` is
        'finished' or 'interrupted'.  When a task raises (or its workers keep dying),
        the finished series are written with status 'failed' and the error is raised.

    Raises
    ------
    ValueError
        On ``resume``, when ``out_dir`` was trained with another configuration or
        target column.
    """
    from ..precompile import layer_cached
    from .parallel import ResultStore, run_tasks

    start = time.perf_counter()
    cached = (device or config.device) == "cpu" and layer_cached(config.cell, config.dtype)
    store = ResultStore(os.path.join(out_dir, SERIES_DIR))
    if resume:
        _check_same_run(out_dir, panel, config)
    tasks = [series_task(series_id, series, config, device)
             for series_id, series in panel.series.items()]
    names = [safe_name(task["id"]) for task in tasks]
    _write_panel_run(out_dir, panel, config, [], "running", None)
    beating = []

    def finished(index, result):
        if result["checkpoint"] is not None:
            beating.append(_beats_seasonal_naive(result["metrics"]))
        done[0] += 1
        if on_result is not None:
            on_result(done[0], len(tasks), result,
                      sum(beating) / len(beating) if beating else None)

    done = [0]
    results, execution, error = run_tasks(series_panel.train_series_task, tasks, names, store,
                                          resume=resume, workers=workers, scheduler=scheduler,
                                          on_result=finished,
                                          warm_up=(series_panel.warm_up_task, asdict(config)))
    rows = panel_rows(panel, results)
    summary = summarize(rows)
    seconds = time.perf_counter() - start
    trained_now = sum(r is not None for r in results) - execution["reused"]
    summary.update(status=execution["status"], total=len(panel.ids), seconds=seconds,
                   series_per_minute=60 * trained_now / seconds, execution=execution,
                   # each worker's warm-up compiles (or loads) the kernels, imports included
                   compile_seconds=0.0 if cached else
                   max(execution["warm_up"].values(), default=0.0))
    _write_panel_run(out_dir, panel, config, rows, execution["status"], summary)
    if error is not None:
        raise error
    return summary


def _write_panel_run(out_dir, panel, config, rows, status, summary):
    from ..checkpoints import write_atomic, write_json

    files = panel_run_files(panel, config, rows, status, summary)
    write_atomic(os.path.join(out_dir, "metrics.csv"), files["metrics.csv"])
    write_json(os.path.join(out_dir, "metrics.json"), files["metrics.json"])


def panel_run_files(panel, config, rows, status, summary):
    """What a panel run directory says about ``rows`` (series results, or read failures):
    ``metrics.csv`` (text) and ``metrics.json`` (a dict), which ``forecast_panel`` reads."""
    return {"metrics.csv": metrics_csv(rows), "metrics.json": {
        "kind": "panel", "status": status, "source": panel.source,
        "id_column": panel.id_column, "column": panel.column, "date_column": panel.date_column,
        "config": asdict(config), "summary": summary,
        "compile_seconds": None if summary is None else summary.get("compile_seconds"),
        "series": [{"id": r["id"], "checkpoint": None if r.get("checkpoint") is None else
                    f"{SERIES_DIR}/{safe_name(r['id'])}.safetensors",
                    "length": r["length"], "season": r.get("season"),
                    "epochs": r.get("epochs"), "seconds": r.get("seconds"),
                    "metrics": r["metrics"], "error": r["error"],
                    # (the dates --fill put in, as a single series' metrics.json says them)
                    "inserted_dates": list(panel.series[r["id"]].inserted_dates)
                    if r["id"] in panel.series else []} for r in rows]}}


def _check_same_run(out_dir, panel, config):
    """Refuse to resume a run that was trained with other settings."""
    import json

    path = os.path.join(out_dir, "metrics.json")
    try:
        with open(path, encoding="utf-8") as f:
            run = json.load(f)
        before = run["config"]
        target = run["column"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # nothing to compare with: only series whose stored task is identical are kept
    # (a setting newer than the run is what the run did before it existed, LATER_SETTINGS,
    # else its default; both sides as JSON has them: a tuple comes back a list)
    defaults = json.loads(json.dumps({**asdict(type(config)()), **LATER_SETTINGS}))
    changed = [f"{key} {before.get(key, defaults[key])!r} -> {value!r}"
               + ("" if key in before else
                  " (the run predates the setting: give the old value to resume)")
               for key, value in json.loads(json.dumps(asdict(config))).items()
               if key != "device" and before.get(key, defaults[key]) != value]  # (may move)
    if target != panel.column:
        changed.append(f"column {target!r} -> {panel.column!r}")
    if changed:
        raise ValueError(f"--resume: {out_dir} was trained with other settings "
                         f"({', '.join(changed)}); resume with the same ones, or use --force "
                         "to start over")
