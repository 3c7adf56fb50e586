"""Hyper-parameter sweeps: train every combination of a grid, rank them on validation.

>>> spec = SeriesSweep(series, ForecastConfig(epochs=50))   # numbarnn.runs.sweep_specs
>>> summary = run_sweep(spec, {"hidden_size": [16, 32], "lr": [1e-3, 3e-3]}, "runs/sweep")

The specification (``SeriesSweep``, ``PanelSweep``, ``TextSweep``) says what a
combination trains and how it scores; ``run_task_sweep`` is the same for tasks made
by hand.  Each combination is one plain-data task, or one per series of a panel
(``numbarnn.runs.parallel.run_tasks``: serially or on Dask, every result stored as it
arrives, Ctrl-C and ``resume`` as for many series).  The combinations are ranked by a validation score, lower is better; the
test takes no part in the choice.  ``run_sweep`` writes ``sweep.csv`` (one line per
combination, best first), ``sweep.json`` and the best model's files at the top of
the directory, so that the sweep directory is used like a single run's.
"""
import csv
import io
import itertools
import json
import math
import os
import time

from ..forecast.config import LATER_SETTINGS
from ..forecast.panel import safe_name

TRIALS_DIR = "trials"
# what best_files may write at the top of a sweep directory (and ``series/``)
BEST_FILES = ("model.safetensors", "best.safetensors", "metrics.json", "metrics.csv")


def expand_grid(grid):
    """Every combination of a grid, the last parameter varying fastest.

    Parameters
    ----------
    grid : dict of str -> list
        Values to try per parameter, in order.

    Returns
    -------
    list of dict

    Raises
    ------
    ValueError
        For an empty grid, an empty list, or a value listed twice.
    """
    if not grid:
        raise ValueError("the grid is empty: give at least one parameter and its values")
    for name, values in grid.items():
        if not values:
            raise ValueError(f"grid {name}: no values")
        if len(set(map(repr, values))) != len(values):
            raise ValueError(f"grid {name}: a value is listed twice ({values})")
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*grid.values())]


def combination_names(combinations):
    """A file name per combination, made of its values in parameter-name order
    (``hidden_size-16_lr-0.001``), so that a grid given in another order, or extended
    on resume, keeps the names of the combinations it had."""
    return [safe_name("_".join(f"{name}-{c[name]}" for name in sorted(c)))
            for c in combinations]


def run_sweep(spec, grid, out_dir, resume=False, workers=None, scheduler=None, on_result=None,
              settings=None):
    """Train every combination of ``grid`` as ``spec`` says, rank them, keep the best model.

    Parameters
    ----------
    spec : SweepSpec
        ``SeriesSweep``, ``PanelSweep`` or ``TextSweep`` (``numbarnn.runs.sweep_specs``).
    grid : dict of str -> list
        The values each name takes (a configuration field, or a name of ``spec.names``).
    out_dir : str
        The sweep directory (made if missing; ``numbarnn.runs.prepare_run_dir`` checks one
        that holds a run).  Where another process may use it too, hold
        ``numbarnn.runs.run_lock(out_dir)`` around the call, as ``numbarnn sweep`` does.
    resume, workers, scheduler, on_result
        As ``run_task_sweep``'s.
    settings : dict, optional
        What every combination shares, for the check on resume; ``spec.settings(grid)``
        if None.

    Returns
    -------
    dict
        What ``sweep.json`` holds (see ``run_task_sweep``).
    """
    combinations = expand_grid(grid)
    tasks = [spec.tasks(c) for c in combinations]  # every value is checked before any runs
    os.makedirs(out_dir, exist_ok=True)
    return run_task_sweep(
        spec.function, tasks, grid, out_dir, spec.score_name, spec.score, spec.columns,
        lambda index, results: spec.best_files(combinations[index], results),
        spec.settings(grid) if settings is None else settings, resume=resume,
        workers=workers, scheduler=scheduler, on_result=on_result,
        warm_up=spec.warm_up(combinations[0]))


def run_task_sweep(function, tasks, grid, out_dir, score_name, score, columns, best_files,
                   settings, resume=False, workers=None, scheduler=None, on_result=None,
                   warm_up=None):
    """Run the tasks of every combination, rank the combinations, keep the best model.

    Parameters
    ----------
    function : callable
        The task function (``train_series_task``, ``train_text_task`` ...).
    tasks : list of list of (str or None, dict)
        Per combination of ``expand_grid(grid)``, in its order: its plain-data tasks,
        each with a file name (None for a combination of one task; the series' names
        when a combination trains many series).
    grid : dict of str -> list
    out_dir : str
        An existing directory.
    score_name : str
        The ranking column, e.g. ``val_mase``.
    score : callable
        ``score(results)``: a combination's validation score (lower is better) from its
        tasks' results, or None when it has none.  Combinations whose tasks failed
        more often rank lower whatever their score.
    columns : callable
        ``columns(results)``: more columns for ``sweep.csv`` (a dict).
    best_files : callable
        ``best_files(index, results)``: ``{path under out_dir: bytes, text or
        JSON-able}``, written for the best combination (``index`` in the grid's order).
    settings : dict
        Everything the combinations share (JSON-able); a resumed sweep must have the
        same.
    resume : bool
        Continue the sweep in ``out_dir``: tasks already run there (the very same task)
        are not run again; the grid may have grown.
    workers, scheduler, warm_up
        See ``numbarnn.runs.parallel.map_tasks``.
    on_result : callable, optional
        ``on_result(done, total, combination, result, best)`` after each task: ``best``
        is ``(score, combination)`` of the best complete combination so far, or None.

    Returns
    -------
    dict
        What ``sweep.json`` holds: ``status`` ('finished' or 'interrupted'), ``ranking``
        (best first), ``best`` (its name, parameters and score, or None), ``execution``
        and ``seconds``.

    Raises
    ------
    ValueError
        On ``resume``, when ``out_dir`` holds a sweep with other shared settings.
    """
    from .run_dir import remove_run_outputs
    from ..checkpoints import write_json
    from .parallel import ResultStore, run_tasks

    start = time.perf_counter()
    combinations = expand_grid(grid)
    if len(tasks) != len(combinations):
        raise ValueError(f"{len(tasks)} task lists for {len(combinations)} combinations")
    if resume:
        _check_same_settings(out_dir, settings, grid)
    # the best model at the top is a copy of its trial: gone until this sweep has a best
    remove_run_outputs(out_dir, files=BEST_FILES, dirs=("series",))
    summary = {"kind": "sweep", "status": "running", "settings": settings, "grid": grid}
    write_json(os.path.join(out_dir, "sweep.json"), summary)
    names = combination_names(combinations)
    flat, slot = [], []  # every task, and its (combination, position) in ``results``
    for k, (name, parts) in enumerate(zip(names, tasks)):
        for position, (part, task) in enumerate(parts):
            flat.append((name if part is None else f"{name}/{part}", task))
            slot.append((k, position))
    results = [[None] * len(parts) for parts in tasks]
    left = [len(parts) for parts in tasks]  # tasks of each combination still running
    best = []

    def finished(index, result):
        k, position = slot[index]
        results[k][position] = result
        left[k] -= 1
        if left[k] == 0:
            value = _finite(score(results[k]))
            key = _rank_key(value, results[k])
            if value is not None and (not best or key < best[0][0]):
                best[:] = [(key, value, combinations[k])]
        done[0] += 1
        if on_result is not None:
            on_result(done[0], len(flat), combinations[k], result,
                      best[0][1:] if best else None)

    done = [0]
    store = ResultStore(os.path.join(out_dir, TRIALS_DIR))
    flat_results, execution, error = run_tasks(
        function, [task for _, task in flat], [name for name, _ in flat], store,
        resume=resume, workers=workers, scheduler=scheduler, on_result=finished,
        warm_up=warm_up)
    for index, result in enumerate(flat_results):  # the stored ones, on resume
        k, position = slot[index]
        results[k][position] = result
    entries = []
    for index, (name, combination, combination_results) in enumerate(
            zip(names, combinations, results)):
        if any(r is None for r in combination_results):
            continue  # not finished (interrupted)
        value = _finite(score(combination_results))
        errors = [r["error"] for r in combination_results if r.get("error")]
        entries.append({"index": index, "name": name, "params": combination, "score": value,
                        "key": _rank_key(value, combination_results),
                        "columns": columns(combination_results),
                        "error": errors[0] if len(combination_results) == 1 and errors else
                        (f"{len(errors)} of {len(combination_results)} tasks failed"
                         if errors else None),
                        "results": combination_results})
    entries.sort(key=lambda e: e["key"])  # best first; stable: ties keep the grid's order
    for rank, entry in enumerate(entries, 1):
        entry["rank"] = rank if entry["score"] is not None else None
    status = execution["status"]
    best_entry = entries[0] if entries and entries[0]["score"] is not None else None
    if status != "finished":
        best_entry = None  # the best of a partial sweep is not the sweep's best
    if best_entry is not None:
        _write_best(out_dir, best_files(best_entry["index"], best_entry["results"]))
    summary.update({
        "status": status, "score": score_name, "combinations": len(tasks),
        "finished": len(entries),
        "best": None if best_entry is None else {"name": best_entry["name"],
                                                 "params": best_entry["params"],
                                                 "score": best_entry["score"]},
        "ranking": [{key: e[key] for key in ("rank", "name", "params", "score", "columns",
                                             "error")} for e in entries],
        "seconds": time.perf_counter() - start, "execution": execution})
    write_sweep_csv(os.path.join(out_dir, "sweep.csv"), entries, list(grid), score_name)
    write_json(os.path.join(out_dir, "sweep.json"), summary)
    if error is not None:
        raise error
    return summary


def _finite(value):
    return value if value is not None and math.isfinite(value) else None


def _rank_key(value, results):
    """Scored before unscored, fewer failed tasks first, then the lower score.  A task
    trained without a validation part (a series too short for one) counts as failed here:
    its combination's score is the mean over fewer series."""
    failures = sum(1 for r in results
                   if r.get("error") or ("validation" in r and r["validation"] is None))
    return (value is None, failures, value if value is not None else 0.0)


def _write_best(out_dir, files):
    from ..checkpoints import write_atomic, write_json

    for name, content in files.items():
        path = os.path.join(out_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if isinstance(content, (bytes, str)):
            write_atomic(path, content)
        else:
            write_json(path, content)


def _check_same_settings(out_dir, settings, grid):
    """Refuse to resume a sweep whose shared settings differ (a setting may move into the
    grid, or out of it, with a value the other side had)."""
    path = os.path.join(out_dir, "sweep.json")
    try:
        with open(path, encoding="utf-8") as f:
            stored = json.load(f)
        before, before_grid = stored["settings"], stored["grid"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # nothing to compare with: only identical tasks are reused
    now, now_grid = json.loads(json.dumps(settings)), json.loads(json.dumps(grid))  # as stored
    later = json.loads(json.dumps(LATER_SETTINGS))  # (what a sweep from before one did)
    changed = []
    for key in sorted(set(before) | set(now)):
        old, new = before.get(key, later.get(key)), now.get(key)
        if old == new or (key in now_grid and old in now_grid[key]) or \
                (key in before_grid and new in before_grid[key]):
            continue
        changed.append(f"{key} {old!r} -> {new!r}" +
                       (" (the sweep predates the setting: give the old value to resume)"
                        if key not in before and key in later else ""))
    if changed:
        raise ValueError(f"--resume: {out_dir} holds a sweep with other settings "
                         f"({', '.join(changed)}); resume with the same ones (a grid may "
                         "gain values), or use --force to start over")


def write_sweep_csv(path, entries, parameters, score_name):
    """One line per combination, best first: rank, parameters, score, more columns, error.
    Numbers are written in full (``repr``), so that equal sweeps give equal files."""
    from ..checkpoints import write_atomic

    extra = list(dict.fromkeys(k for e in entries for k in e["columns"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["rank", *parameters, score_name, *extra, "status", "error"])
    for e in entries:
        cells = ["" if e["rank"] is None else e["rank"]]
        cells += [_cell(e["params"][p]) for p in parameters]
        cells.append(_cell(e["score"]))
        cells += [_cell(e["columns"].get(k)) for k in extra]
        cells += ["failed" if e["score"] is None else "ok", e["error"] or ""]
        writer.writerow(cells)
    write_atomic(path, buffer.getvalue())


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(float(value))  # NumPy's floats too, in full
    return str(value)


__all__ = ["TRIALS_DIR", "combination_names", "expand_grid", "run_sweep", "write_sweep_csv"]
