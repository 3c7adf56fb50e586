"""Many series in one file: a synthetic panel, the long-format reader, per-series training.

A *panel* is a set of series told apart by an id, stored in long format: one row
per series and time step (``id,date,value``), the layout statsforecast and Darts
use.  ``read_panel_csv`` reads one into a ``Panel``.  The work for one series is
``train_series_task``: it takes and returns plain data (lists, strings, numbers,
bytes), so that it can run in another process or on another machine;
``numbarnn.runs.train_panel`` runs every series' task (serially or on Dask) and
writes the run directory, which ``load_panel`` and ``forecast_panel`` read.
"""
import csv
import hashlib
import io
import math
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .._checks import check_int
from .config import LATER_SETTINGS
from .dates import column_day_first, common_date_format, format_date, parse_date
from .series import (NO_DATES_HINT, Series, _resolve_column, default_target, insert_missing_dates,
                     find_dates, integer_steps, parse_numbers, read_csv_rows, refuse_date_target,
                     step_column, with_pair_dates)

SERIES_DIR = "series"
METRIC_NAMES = ("mae", "rmse", "mape", "smape", "mase")
FORECASTERS = ("model", "naive", "seasonal_naive")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


# ------------------------------------------------------------------------------ synthetic data
def synthetic_panel(n_series=200, seed=0, short_share=0.05, min_length=72, max_length=180,
                    noise_free=False):
    """A realistic synthetic panel of monthly series, in long format.

    Every series has its own level (log-normal, from about 20 to 20 000), a linear
    trend (-3 % to +8 % of the level a year), a seasonal shape (one to three
    harmonics of the year, 0 to 35 % of the level, peaking in a random month),
    multiplicative noise (2 % to 15 %), its own start month (2000-01 to 2009-12)
    and length.  A ``short_share`` of them are 12 to 48 months long: too short for
    the default configuration, as real panels have new products.  Values are
    positive and rounded to two decimals, so that a CSV round trip is exact.

    Parameters
    ----------
    n_series : int
    seed : int
        The whole panel is a function of ``(n_series, seed, ...)``.
    short_share : float
        Share of the series (rounded up when above 0) that are too short.
    min_length, max_length : int
        Range of the other series' lengths, in months.
    noise_free : bool
        The same series without their noise (each step's median): the forecast a
        forecaster that knew the generating curves would make, the best expected
        absolute error there is.

    Returns
    -------
    list of (str, str, float)
        ``(id, 'YYYY-MM', value)`` rows, series after series, each in date order.
    """
    check_int("n_series", n_series)
    if not 0 <= short_share <= 1:
        raise ValueError(f"short_share: got {short_share!r}, expected a share in [0, 1]")
    if not 1 <= min_length <= max_length:
        raise ValueError(f"lengths: got {min_length}..{max_length}, expected "
                         "1 <= min_length <= max_length")
    rng = np.random.default_rng(seed)
    n_short = math.ceil(short_share * n_series)
    short = set(rng.choice(n_series, n_short, replace=False).tolist()) if n_short else set()
    width = len(str(n_series - 1))
    rows = []
    for k in range(n_series):
        length = int(rng.integers(12, 49) if k in short else
                     rng.integers(min_length, max_length + 1))
        start = int(rng.integers(2000 * 12, 2010 * 12))
        t = np.arange(length, dtype=np.float64)
        level = math.exp(rng.uniform(math.log(20), math.log(20000)))
        trend = rng.uniform(-0.03, 0.08) / 12 * t
        phase = rng.uniform(0, 2 * np.pi)
        seasonal = np.zeros(length)
        for harmonic in range(1, int(rng.integers(1, 4)) + 1):
            seasonal += rng.uniform(0, 1) / harmonic * np.cos(2 * np.pi * harmonic * t / 12
                                                              + harmonic * phase)
        seasonal *= rng.uniform(0, 0.35) / max(np.abs(seasonal).max(), 1e-12)
        noise = rng.uniform(0.02, 0.15) * rng.standard_normal(length)
        values = level * np.maximum(1 + trend, 0.05) * (1 + seasonal) * \
            (1.0 if noise_free else np.exp(noise))
        series_id = f"store_{k:0{width}d}"
        for step, value in enumerate(values):
            month = start + step
            rows.append((series_id, f"{month // 12:04d}-{month % 12 + 1:02d}",
                         round(float(value), 2)))
    return rows


def write_panel_csv(path, rows, header=("id", "date", "value")):
    """Write long-format ``(id, date, value, ...)`` rows as a CSV file, atomically; the
    values in full (``repr``), so that reading them back gives the same floats."""
    from ..checkpoints import write_atomic

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows((series_id, date, *(repr(float(v)) for v in values))
                     for series_id, date, *values in rows)
    write_atomic(path, buffer.getvalue())


# ------------------------------------------------------------------------------ reading
@dataclass
class Panel:
    """The series of a long-format file, in the order their ids first appear.

    Attributes
    ----------
    series : dict of str -> Series
        The readable series.
    failed : dict of str -> str
        Series that could not be read (a missing or non-numeric value, a bad date),
        with the reason; they are reported and skipped.
    id_column, column : str
        The id and target column names.
    date_column : str or None
    source : str
    """

    series: dict
    failed: dict = field(default_factory=dict)
    id_column: str = "id"
    column: str = "value"
    date_column: str = None
    source: str = "array"

    @property
    def ids(self):
        """Every id, readable or not, in file order."""
        return list(dict.fromkeys([*self.series, *self.failed]))


def read_panel_csv(path, id_column, column=None, date_column=None, fill=None, many=True):
    """Read a long-format CSV: one row per series and time step.

    Parameters
    ----------
    path : str or path-like
    id_column : str or int
        The column that tells the series apart (name or 0-based index).
    column : str or int, optional
        The target.  Default: the last column that is neither the id nor the date (nor the
        month or quarter beside a year), nor named ``ds`` or ``year``
        (``series.default_target``).
    date_column : str or int or False, optional
        dates (``parse_date``'s forms).  Default: the first column other than the
        id whose first value reads as a date, else a ``year`` column beside a ``month`` or
        ``quarter`` one (``series.year_and_period``: its name ``year/month`` names them
        too); False: no dates (each series' rows are in time order).
        With dates, each series' rows are sorted by date.  Without dates, a ``ds`` or
        ``year`` column of integers counting up by one numbers a series' steps
        (``Series.first_step``, ``series.step_column``).
    fill : {None, 'ffill', 'interpolate'}
        Fill missing values within each series; None: a series with a gap fails.
    many : bool
        Refuse a file with one series (to train one, read it without the id column).

    Returns
    -------
    Panel

    Raises
    ------
    ValueError
        For an unreadable file, an unknown column, an empty id, a file with only
        one series, a time stamp that repeats within a series, or two ids whose
        checkpoints would share a file name (``safe_name``).
    """
    path = os.fspath(path)
    header, rows, lines, decimal_comma = read_csv_rows(path)
    id_index = _resolve_column(id_column, header, "id column", path)
    date_index, pair = find_dates(header, rows, date_column, path, skip=(id_index,))
    period_index = None if pair is None else pair[1]
    if column is None:
        target_index = default_target(header, [id_index, date_index, period_index], path)
    else:
        target_index = _resolve_column(column, header, "column", path)
    if id_index in (target_index, date_index):
        raise ValueError(f"{path}: column {header[id_index]!r} is both the id and "
                         f"{'the target' if id_index == target_index else 'the date column'}")
    refuse_date_target(target_index, header, date_index, pair, path)
    header, rows, date_index = with_pair_dates(header, rows, lines, date_index, pair, path)

    groups = {}
    for row, line in zip(rows, lines):
        series_id = row[id_index].strip()
        if not series_id:
            raise ValueError(f"{path}, line {line}, column {header[id_index]!r}: empty id")
        groups.setdefault(series_id, []).append((row, line))
    if many and len(groups) < 2:
        raise ValueError(f"{path}: column {header[id_index]!r} holds one series only "
                         f"({next(iter(groups))!r}); train it without --id-column")

    named = {}
    for series_id in groups:  # (each series' checkpoint is saved under its safe_name)
        name = safe_name(series_id)
        # (names that differ in case only are one file on Windows' and macOS' file systems)
        other = named.setdefault(name.casefold(), series_id)
        if other != series_id:
            case = "" if safe_name(other) == name else \
                " on a file system that ignores case (Windows, macOS)"
            raise ValueError(f"{path}: ids {other!r} and {series_id!r} would share the file "
                             f"{name}.safetensors{case}; rename one of them")
    panel = Panel({}, {}, header[id_index], header[target_index],
                  None if date_index is None else header[date_index], path)
    steps = step_column(header, date_index, date_column, [id_index, target_index])
    # (the whole column reads its days and months in one order, whichever series shows it)
    order = None if date_index is None else column_day_first([row[date_index] for row in rows])
    for series_id, group in groups.items():
        if date_index is not None:
            _check_unique_dates(group, date_index, header, series_id, path)
        try:
            series = _group_series(group, target_index, date_index, header, fill,
                                   f"{path}, series {series_id!r}", decimal_comma, order)
        except ValueError as e:
            panel.failed[series_id] = str(e)
            continue
        if steps is not None:
            series.first_step = integer_steps([row[steps] for row, _ in group])
        panel.series[series_id] = series
    return panel


def _check_unique_dates(group, date_index, header, series_id, path):
    """Refuse a time stamp that appears twice in one series (a fault of the whole file)."""
    seen = {}
    for row, line in group:
        stamp = row[date_index].strip()
        if stamp in seen:
            raise ValueError(f"{path}, line {line}, column {header[date_index]!r}: series "
                             f"{series_id!r} has time stamp {stamp!r} twice (also on line "
                             f"{seen[stamp]}); expected one row per series and time step")
        seen[stamp] = line


def _group_series(group, target_index, date_index, header, fill, where, decimal_comma,
                  day_first):
    """One series' rows as a Series (sorted by date when there are dates; ``decimal_comma``:
    ``parse_numbers``', ``day_first``: ``parse_date``'s)."""
    if date_index is not None:
        dated = []
        for row, line in group:
            try:
                moment, kind = parse_date(row[date_index], day_first)
            except ValueError as e:
                raise ValueError(f"line {line}, column {header[date_index]!r}: {e}"
                                 f"{NO_DATES_HINT}") from None
            dated.append((moment, kind, row, line))
        dated.sort(key=lambda item: item[0])
        dates = [item[0] for item in dated]
        kinds = {item[1] for item in dated}
        group = [(item[2], item[3]) for item in dated]
        date_format = common_date_format(kinds)
    else:
        dates = date_format = None
    rows, lines = [row for row, _ in group], [line for _, line in group]
    inserted = []
    if dates is not None:
        rows, lines, dates, inserted = insert_missing_dates(rows, lines, dates, date_format,
                                                            date_index, header, fill, where)
    values = parse_numbers(rows, target_index, lines, header[target_index], fill, where,
                           decimal_comma)
    return Series(values, header[target_index], dates=dates, date_format=date_format,
                  source=where, inserted_dates=inserted)


# ------------------------------------------------------------------------------ one series
def safe_name(series_id):
    """A file name for a series id: the id itself when it is made of letters, digits,
    ``.``, ``_`` and ``-`` (and does not start with a dot), else a cleaned form plus
    eight hex digits of the id's SHA-1, so that different ids share a file only where
    one is spelled as the other's cleaned form (``read_panel_csv`` refuses that)."""
    cleaned = _UNSAFE.sub("_", series_id).lstrip(".")
    if cleaned == series_id and cleaned:
        return cleaned
    digest = hashlib.sha1(series_id.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned[:60] or 'series'}-{digest}"


def series_task(series_id, series, config, device=None):
    """The plain-data task that trains one series (see ``train_series_task``) on ``device``
    (``config.device`` if None)."""
    device = config.device if device is None else device
    settings = {k: v for k, v in asdict(config).items() if k != "device"}  # where, not what
    # a setting newer than the task format is left out at what tasks did before it, so that
    # such a task (and the digest by which --resume keeps its result) is the one it was
    for key, default in LATER_SETTINGS.items():
        if settings[key] == default:
            del settings[key]
    task = {"id": series_id, "name": series.name, "values": series.values.tolist(),
            "dates": None if series.dates is None else
            [format_date(d, series.date_format) for d in series.dates],
            "date_format": series.date_format, "config": settings}
    if device != "cpu":  # only then: a CPU task stays the task it always was (resume)
        task["device"] = device
    if series.first_step is not None:  # (likewise: only for numbered steps)
        task["first_step"] = series.first_step
    return task


def train_series_task(task):
    """Train and score one series; runs anywhere (plain data in, plain data out).

    Parameters
    ----------
    task : dict
        ``series_task``'s: ``id``, ``name``, ``values``, ``dates`` (ISO strings or
        None), ``date_format``, ``config`` (a ForecastConfig as a dict),
        ``device`` where it is not the CPU, and ``first_step`` where the series
        numbers its steps.

    Returns
    -------
    dict
        ``id``, ``length``; on success ``metrics`` (model and baselines, on the test),
        ``validation`` (the same on the validation steps, or None), ``season``,
        ``status``, ``epochs``, ``seconds``, ``windows_per_second``, ``compile_seconds``
        (``train_forecaster``'s) and ``checkpoint`` (the safetensors file's bytes), with
        ``error`` None, and ``diverged`` (what diverged, or None); for a series that cannot be trained (too short, constant ...)
        ``error`` says why and the rest is None.
    """
    from .config import ForecastConfig
    from .training import diverged_message, train_forecaster

    result = {"id": task["id"], "length": len(task["values"]), "metrics": None,
              "validation": None, "season": None, "epochs": None, "seconds": None,
              "windows_per_second": None, "compile_seconds": None, "status": None,
              "checkpoint": None, "error": None, "diverged": None}
    try:
        dates = None if task["dates"] is None else [parse_date(d)[0] for d in task["dates"]]
        series = Series(np.asarray(task["values"], dtype=np.float64), task["name"],
                        dates=dates, date_format=task["date_format"], source=task["id"],
                        first_step=task.get("first_step"))
        model, report = train_forecaster(series, ForecastConfig.from_stored(task["config"]),
                                         device=task.get("device", "cpu"))
    except ValueError as e:
        result["error"] = str(e)
        return result
    model.info["series_id"] = task["id"]
    with tempfile.TemporaryDirectory(prefix="numbarnn-") as scratch:
        path = os.path.join(scratch, "model.safetensors")
        model.save(path)
        with open(path, "rb") as f:
            result["checkpoint"] = f.read()
    if report["status"] == "diverged":  # kept at its best epoch, and said so
        result["diverged"] = diverged_message(report)
    result.update(metrics=report["metrics"], validation=report["validation"],
                  season=report["season"], status=report["status"],
                  epochs=report["training"]["epochs"], seconds=report["training"]["seconds"],
                  windows_per_second=report["windows_per_second"],
                  compile_seconds=report["compile_seconds"])
    return result


def warm_up_task(config):
    """Compile (or load from numba's on-disk cache) the kernels that ``config`` trains
    with, by training one network for one epoch on a tiny series.

    Returns
    -------
    float
        Seconds taken, imports included: the compile cost a fresh process pays.
    """
    start = time.perf_counter()
    from .config import ForecastConfig
    from .training import train_forecaster
    from .selection import default_window

    config = ForecastConfig.from_dict({**config, "epochs": 1, "members": 1, "season": 1,
                                       "window": config["window"] or default_window(1),
                                       "log": True, "diff": False, "seasonal_diff": False,
                                       "test_size": None, "val_size": None})
    length = config.window + config.outputs + 2 * config.horizon + 1
    train_forecaster(Series(1.0 + np.arange(length) % 5, "warm-up"), config)
    return time.perf_counter() - start


def _beats_seasonal_naive(metrics):
    model, baseline = metrics["model"]["mae"], metrics["seasonal_naive"]["mae"]
    return model is not None and baseline is not None and model < baseline


def metrics_csv(rows):
    """``metrics.csv``'s text: one line per series, its status (ok, diverged, failed), the
    model's and both
    baselines' metrics, whether the model beat seasonal naive (by MAE on the same test
    steps), and the error, if any.  Numbers are written in full (``repr``), so that equal
    runs give equal files."""
    columns = ["id", "status", "length"]
    columns += [f"{who}_{name}" for who in FORECASTERS for name in METRIC_NAMES]
    columns += ["beats_seasonal_naive", "error"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        metrics = row["metrics"]
        status = "failed" if metrics is None else "diverged" if row.get("diverged") else "ok"
        cells = [row["id"], status,
                 "" if row["length"] is None else row["length"]]
        for who in FORECASTERS:
            for name in METRIC_NAMES:
                value = None if metrics is None else metrics[who][name]
                cells.append("" if value is None else repr(float(value)))
        cells.append("" if metrics is None else str(_beats_seasonal_naive(metrics)).lower())
        cells.append(row["error"] or row.get("diverged") or "")
        writer.writerow(cells)
    return buffer.getvalue()


def panel_rows(panel, results):
    """One row per id of ``panel`` in file order: the task result, or the read failure;
    ids without either (not trained yet) are left out."""
    by_id = {r["id"]: r for r in results if r is not None}
    rows = []
    for series_id in panel.ids:
        if series_id in panel.failed:
            rows.append({"id": series_id, "length": None, "metrics": None,
                         "error": panel.failed[series_id]})
        elif series_id in by_id:
            rows.append(by_id[series_id])
    return rows


def summarize(rows):
    """Mean and median MASE and sMAPE of the model and both baselines over the trained
    series, the share of them that beat seasonal naive, which series failed and why, and
    which diverged (trained, kept at their best epoch, and counted with the others)."""
    trained = [r for r in rows if r["metrics"] is not None]
    summary = {"series": len(rows), "trained": len(trained),
               "failed": [{"id": r["id"], "reason": r["error"]} for r in rows
                          if r["metrics"] is None],
               "diverged": [{"id": r["id"], "reason": r["diverged"]} for r in trained
                            if r.get("diverged")]}
    for name in ("mase", "smape"):
        summary[name] = {}
        for who in FORECASTERS:
            values = [r["metrics"][who][name] for r in trained
                      if r["metrics"][who][name] is not None]
            summary[name][who] = {"mean": float(np.mean(values)) if values else None,
                                  "median": float(np.median(values)) if values else None}
    summary["beat_seasonal_naive"] = (
        sum(_beats_seasonal_naive(r["metrics"]) for r in trained) / len(trained)
        if trained else None)
    return summary


# ------------------------------------------------------------------------------ forecasting
def forecast_panel(run_dir, horizon=None, level=None, csv_path=None, fill=None, column=None,
                   date_column=None):
    """Forecast every series of a panel run directory, or, with ``csv_path``, every series
    of that long-format CSV (the run's id column; its target and date columns unless
    ``column`` and ``date_column`` say otherwise, False: no dates) from the end of its
    data there, each with its own model.

    Returns
    -------
    header : tuple of str
        The id column's name, ``date`` (or ``step`` without dates), ``forecast``, then
        ``lo-L, hi-L`` for each interval ``level`` L (see ``Forecaster.forecast``).
    rows : list of tuples
        Long format, series after series in the order of the training file.

    Raises
    ------
    ValueError
        Where no series of the run trained; for a CSV that cannot be read, a series of it
        that cannot, or one that the run has no model of.
    """
    from .config import check_levels, level_name
    from .output import forecast_labels

    levels = check_levels(level)
    run, models = load_panel(run_dir)
    if not models:
        raise ValueError(f"{run_dir}: no series trained there, nothing to forecast (its "
                         "metrics.csv says why)")
    data = dict.fromkeys(models)  # (None: from the end of its training data)
    if csv_path is not None:
        panel = read_panel_csv(csv_path, run["id_column"], column or run["column"],
                               run["date_column"] or False if date_column is None
                               else date_column, fill, many=False)
        if panel.failed:  # (forecasting, an unreadable series is not skipped)
            raise ValueError(next(iter(panel.failed.values())))
        unknown = [i for i in panel.series if i not in models]
        if unknown:
            raise ValueError(f"{csv_path}: series {unknown[0]!r} has no model in {run_dir} "
                             f"({len(models)} series trained there)")
        data = panel.series
    rows, dated = [], True
    for series_id, series in data.items():
        model = models[series_id]
        result = model.forecast(horizon, series, level=levels)
        dated = dated and result["dates"] is not None
        for t, (label, v) in enumerate(zip(forecast_labels(result), result["values"])):
            bands = [float(b[t]) for lo_hi in result["intervals"].values() for b in lo_hi]
            rows.append((series_id, label, float(v), *bands))
    names = [f"{side}-{level_name(L)}" for L in levels for side in ("lo", "hi")]
    return (run["id_column"], "date" if dated else "step", "forecast", *names), rows


def load_panel(run_dir):
    """A many-series run directory's ``metrics.json`` and its forecasters.

    Returns
    -------
    run : dict
        ``metrics.json``.
    models : dict
        ``{series id: Forecaster}`` of every series that trained, in the order of the
        training file.
    """
    import json

    from .model import Forecaster

    path = os.path.join(run_dir, "metrics.json")
    try:
        with open(path, encoding="utf-8") as f:
            run = json.load(f)
        entries = [(e["id"], e["checkpoint"]) for e in run["series"] if e["checkpoint"]]
        run["id_column"]  # noqa: B018 -- a KeyError here: not a panel run's summary
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file; is {run_dir} a many-series run?") from None
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a many-series run summary ({e})") from None
    models = {}
    for series_id, checkpoint in entries:
        path = os.path.join(run_dir, checkpoint)
        models[series_id] = Forecaster.load(path)
        stored = models[series_id].info.get("series_id", series_id)
        if stored != series_id:  # (a checkpoint copied over another's)
            raise ValueError(f"{path}: holds the model of series {stored!r}, not of "
                             f"{series_id!r}")
    return run, models


def is_panel_run(run_dir):
    """Whether ``run_dir`` holds a many-series run (``train_panel``'s output)."""
    return os.path.isdir(os.path.join(run_dir, SERIES_DIR)) and \
        not os.path.exists(os.path.join(run_dir, "model.safetensors"))


__all__ = ["Panel", "forecast_panel", "is_panel_run", "load_panel", "metrics_csv", "panel_rows",
           "read_panel_csv", "safe_name", "series_task", "summarize", "synthetic_panel",
           "train_series_task", "warm_up_task", "write_panel_csv"]
