"""The forecasting evaluation suite: numbarnn's defaults against the baselines and statsforecast.

    python -m asv_benchmarks.forecast_suite.evaluate                  # every series, 1 origin
    python -m asv_benchmarks.forecast_suite.evaluate --origins 3      # 3 rolling test origins
    python -m asv_benchmarks.forecast_suite.evaluate --series lynx nile --out lynx_nile.json
    python -m asv_benchmarks.forecast_suite.evaluate --quick          # a smoke test (seconds)
    python -m asv_benchmarks.forecast_suite.evaluate --panel 20       # + 20 synthetic series
    python -m asv_benchmarks.forecast_suite.evaluate --holdout        # the holdout series
    python -m asv_benchmarks.forecast_suite.evaluate --suite-dir asv_benchmarks/forecast_suite/more

Each series (``suite.json``: real data that ships inside pmdarima and statsmodels,
plus the airline data) is read as ``numbarnn train-series FILE --season m --horizon h``
reads it, and trained with every other setting at its default, as a new user would.
Its last ``h`` steps are the test; with ``--origins k`` the whole run repeats on the
series cut ``h, 2h, ...`` steps earlier (non-overlapping tests).  Every method sees
exactly the data before the test: the naive and seasonal-naive baselines (with
their normal intervals), numbarnn, and, where statsforecast is installed, its
AutoETS, AutoARIMA and AutoTheta.

Reported per series and method: MASE and sMAPE (averaged over origins), the
coverage of the 80 % and 95 % intervals (pooled over origins) and the 95 %
interval's MSIS, and the seconds to fit; then geometric means of numbarnn's MASE
relative to each method's, the pooled coverage, and the series on which numbarnn
is more than 5 % worse than seasonal naive.
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from numbarnn.forecast.config import ForecastConfig, level_name
from numbarnn.forecast.training import train_forecaster
from numbarnn.forecast.metrics import (coverage, mape, mase, msis, naive_forecast,
                                       seasonal_naive_forecast, seasonal_naive_interval, smape)
from numbarnn.forecast.datasets import airline_path
from numbarnn.forecast.series import read_csv

HERE = Path(__file__).parent
LEVELS = (80, 95)
STATS_MODELS = ("AutoETS", "AutoARIMA", "AutoTheta")
# statsforecast's AutoARIMA at a season of 48 (the half-hourly series) ran for over ten
# minutes here without finishing; above this season it is left out (``--arima-max-season``)
ARIMA_MAX_SEASON = 24


def suite(holdout=False, where=None):
    """``{name: (path, season, horizon)}``: the committed series and the airline data, or
    with ``holdout`` the holdout series (``holdout/``: ``make_data.py``), or the series of
    any folder ``where`` that has a ``suite.json`` in the same layout."""
    if where is None:
        where = HERE / "holdout" if holdout else HERE
    else:
        where = Path(where).resolve()
        if not (where / "suite.json").is_file():
            raise SystemExit(f"error: {where} has no suite.json")
    index = json.loads((where / "suite.json").read_text())
    entries = {name: (where / f"{name}.csv", e["season"], e["horizon"])
               for name, e in index.items()}
    if where.resolve() == HERE.resolve():
        entries["airline"] = (Path(airline_path()), 12, 12)
    return entries


def synthetic(count, noise_free=False):
    """``(id, Series)`` of the first ``count`` series of the synthetic monthly panel (with
    ``noise_free``, their noise-free curves: ``synthetic_panel``)."""
    if count <= 0:
        return []
    import tempfile

    from numbarnn.forecast.panel import read_panel_csv, synthetic_panel, write_panel_csv

    with tempfile.TemporaryDirectory() as scratch:
        path = f"{scratch}/panel.csv"
        # (a long-format file holds two series at least)
        write_panel_csv(path, synthetic_panel(max(count, 2), seed=0, short_share=0,
                                              noise_free=noise_free))
        return list(read_panel_csv(path, "id").series.items())[:count]


def naive_interval(history, horizon, level):
    """The naive forecast's normal interval: seasonal naive's with season 1."""
    return seasonal_naive_interval(history, horizon, 1, level)


def baselines(history, horizon, season):
    """``{name: (point, {level: (lo, hi)})}`` for the naive and seasonal-naive forecasts."""
    return {
        "naive": (naive_forecast(history, horizon),
                  {L: naive_interval(history, horizon, L) for L in LEVELS}),
        "seasonal_naive": (seasonal_naive_forecast(history, horizon, season),
                           {L: seasonal_naive_interval(history, horizon, season, L)
                            for L in LEVELS}),
    }


def statsforecast_models(history, horizon, season, names=STATS_MODELS):
    """statsforecast's automatic models, each ``(point, intervals, seconds)``, or {} where the
    package is missing.  A model that fails on a series is left out of that series."""
    from numbarnn.forecast.compare import check_statsforecast, statsforecast_forecast

    try:
        check_statsforecast()
    except ImportError:
        return {}
    out = {}
    for name in names:
        start = time.perf_counter()
        try:
            result = statsforecast_forecast(name, history, horizon, season, LEVELS)
        except Exception as e:  # noqa: BLE001 -- report and go on with the other models
            print(f"  {name} failed: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        out[name] = (result["mean"], {L: (result[f"lo-{L}"], result[f"hi-{L}"]) for L in LEVELS},
                     time.perf_counter() - start)
    return out


def numbarnn_model(series, season, horizon, options):
    """numbarnn's defaults: ``(point, intervals, seconds, report)`` for the last ``horizon``
    steps of ``series`` (which the model does not see)."""
    start = time.perf_counter()
    _, report = train_forecaster(series, ForecastConfig(season=season, horizon=horizon,
                                                        **options), level=LEVELS)
    point = np.asarray(report["test"]["forecast"], np.float64)
    intervals = {L: tuple(np.asarray(b, np.float64)
                          for b in report["test"]["intervals"][level_name(L)])
                 for L in LEVELS}
    return point, intervals, time.perf_counter() - start, report


def evaluate_series(name, full, season, horizon, origins, options, stats_models=STATS_MODELS,
                    cache=None, arima_max_season=ARIMA_MAX_SEASON, noise_free=None):
    """Every method on one series: ``{method: {'mase', 'smape', 'msis', 'inside', 'points',
    'seconds'}}`` summed or averaged over the origins, and numbarnn's automatic choices.
    ``cache``: a dict of earlier statsforecast results (they do not change with numbarnn),
    read and filled in.  ``noise_free``: the series' values without noise, where known (the
    synthetic panel), whose MASE as a forecast (the best expected there is) goes in
    ``scores['noise_free']`` (MASE and sMAPE only)."""
    scores, choices = {}, []
    if season > arima_max_season:
        stats_models = [m for m in stats_models if m != "AutoARIMA"]
    for k in range(origins):
        series = full.head(len(full) - k * horizon)
        history, actual = series.values[:-horizon], series.values[-horizon:]
        methods = {name: (p, i, 0.0) for name, (p, i) in baselines(history, horizon,
                                                                   season).items()}
        point, intervals, seconds, report = numbarnn_model(series, season, horizon, options)
        methods["numbarnn"] = (point, intervals, seconds)
        choices.append({**{key: report[key] for key in ("transforms", "status", "linear",
                                                         "combination", "choices") if key in report},
                        "forecast": point.tolist()})
        key = f"{name}:{len(series)}:{horizon}:{season}"
        if cache is not None and key in cache:
            stats = {m: (np.array(p), {int(L): (np.array(lo), np.array(hi))
                                       for L, (lo, hi) in i.items()}, t)
                     for m, (p, i, t) in cache[key].items() if m in stats_models}
        else:
            stats = statsforecast_models(history, horizon, season, stats_models)
            if cache is not None:
                cache[key] = {m: (p.tolist(), {L: (lo.tolist(), hi.tolist())
                                               for L, (lo, hi) in i.items()}, t)
                              for m, (p, i, t) in stats.items()}
        methods.update(stats)
        if noise_free is not None:
            point = noise_free[len(series) - horizon:len(series)]
            curve = scores.setdefault("noise_free", {"mase": [], "smape": []})
            curve["mase"].append(mase(actual, point, history, season))
            curve["smape"].append(smape(actual, point))
        for method, (point, intervals, seconds) in methods.items():
            s = scores.setdefault(method, {"mase": [], "smape": [], "msis": [], "seconds": 0.0,
                                         "inside": {L: 0 for L in LEVELS}, "points": 0})
            s["mase"].append(mase(actual, point, history, season))
            s["smape"].append(smape(actual, point))
            if k == 0:  # the latest test (for the airline data: 1960)
                s["last_mape"] = mape(actual, point)
            lo, hi = intervals[95]
            s["msis"].append(msis(actual, lo, hi, history, 95, season))
            for L in LEVELS:
                lo, hi = intervals[L]
                s["inside"][L] += round(coverage(actual, lo, hi) * horizon / 100)
            s["points"] += horizon
            s["seconds"] += seconds
    for s in scores.values():
        for key in ("mase", "smape", "msis"):
            if key in s:
                s[key] = float(np.mean(s[key]))
    return scores, choices


def geometric_mean(values):
    values = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    return float(np.exp(np.mean(np.log(values)))) if values else math.nan


def summarise(results, parts=True):
    """Geometric-mean MASE ratios of numbarnn to every method, pooled coverage per method,
    the geometric-mean MSIS, and the series where numbarnn trails seasonal naive by > 5 %;
    where some series know their noise-free curve (the synthetic panel), its MASE over
    each method's on those series (``noise_free_ratio``: what no forecaster is expected
    to beat).  With ``parts``, the same for the real series and the synthetic panel apart
    (``parts``: {'real', 'panel'}, where both are there)."""
    methods = sorted({m for r in results.values() for m in r["scores"]} - {"noise_free"})
    summary = {"mase_ratio": {}, "coverage": {}, "msis": {}, "mase": {}}
    for method in methods:
        have = [r["scores"] for r in results.values() if method in r["scores"]]
        summary["mase"][method] = geometric_mean([s[method]["mase"] for s in have])
        summary["msis"][method] = geometric_mean([s[method]["msis"] for s in have])
        summary["mase_ratio"][method] = geometric_mean(
            [s["numbarnn"]["mase"] / s[method]["mase"] for s in have])
        points = sum(s[method]["points"] for s in have)
        summary["coverage"][method] = {L: 100 * sum(s[method]["inside"][L] for s in have) / points
                                       for L in LEVELS}
    summary["worse_than_seasonal_naive"] = [
        name for name, r in results.items()
        if r["scores"]["numbarnn"]["mase"] > 1.05 * r["scores"]["seasonal_naive"]["mase"]]
    known = [r["scores"] for r in results.values() if "noise_free" in r["scores"]]
    if known:
        summary["noise_free_ratio"] = {
            method: geometric_mean([s["noise_free"]["mase"] / s[method]["mase"]
                                    for s in known if method in s]) for method in methods}
    panel = {name: r for name, r in results.items() if name.startswith("panel-")}
    if parts and panel and len(panel) < len(results):
        summary["parts"] = {"real": summarise({name: r for name, r in results.items()
                                               if name not in panel}, parts=False),
                            "panel": summarise(panel, parts=False)}
    return summary


def print_table(results, summary):
    methods = ["numbarnn", "naive", "seasonal_naive"] + [m for m in STATS_MODELS
                                                          if m in summary["mase"]]
    short = {"seasonal_naive": "snaive"}
    width = max([10] + [len(name) for name in results])
    print(f"\n{'series':{width}s} {'n':>5s} {'m':>3s} {'h':>3s}  "
          + "  ".join(f"{short.get(m, m):>10s}" for m in methods) + "   (MASE; numbarnn s)")
    for name, r in results.items():
        s = r["scores"]
        print(f"{name:{width}s} {r['length']:5d} {r['season']:3d} {r['horizon']:3d}  "
              + "  ".join(f"{s[m]['mase']:10.3f}" if m in s else f"{'-':>10s}" for m in methods)
              + f"   {s['numbarnn']['seconds']:6.1f}")
    print(f"\n{'':25s}" + "  ".join(f"{short.get(m, m):>10s}" for m in methods))
    rows = [("gmean MASE", lambda m: f"{summary['mase'][m]:10.3f}"),
            ("numbarnn / method", lambda m: f"{summary['mase_ratio'][m]:10.3f}"),
            ("gmean MSIS 95", lambda m: f"{summary['msis'][m]:10.2f}")]
    rows += [(f"coverage {L} %", lambda m, L=L: f"{summary['coverage'][m][L]:10.1f}")
             for L in LEVELS]
    for label, cell in rows:
        print(f"{label:25s}" + "  ".join(cell(m) for m in methods))
    for part, of in summary.get("parts", {}).items():
        print(f"{'numbarnn / method, ' + part:25s}"
              + "  ".join(f"{of['mase_ratio'][m]:10.3f}" if m in of["mase_ratio"] else
                          f"{'-':>10s}" for m in methods))
    if "noise_free_ratio" in summary:
        print(f"{'noise-free curve / method':25s}"
              + "  ".join(f"{summary['noise_free_ratio'][m]:10.3f}" for m in methods)
              + "   (the synthetic panel: no forecaster is expected below it)")
    print(f"\nnumbarnn worse than seasonal naive by > 5 %: "
          f"{summary['worse_than_seasonal_naive'] or 'none'}")
    if "airline" in results:
        print(f"airline 1960 MAPE {results['airline']['scores']['numbarnn']['last_mape']:.2f} %")


def _positive(text):
    """An argparse type: a positive integer."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a positive integer")
    return int(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", nargs="+", help="names from suite.json, or airline "
                        "(with --holdout or --suite-dir: from that suite.json)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--holdout", action="store_true",
                        help="the holdout series instead (holdout/suite.json: eight that ship "
                        "inside statsmodels, added after the defaults were chosen)")
    where.add_argument("--suite-dir", metavar="DIR",
                        help="the series of another folder instead: a suite.json ({name: "
                        "{season, horizon}}) beside one name.csv per series")
    parser.add_argument("--origins", type=int, default=1, help="rolling test origins, h apart")
    parser.add_argument("--panel", type=int, default=0, metavar="K",
                        help="also the first K series of the synthetic monthly panel "
                        "(numbarnn.panel.synthetic_panel, seed 0; season 12, horizon 12)")
    parser.add_argument("--stats-models", default=",".join(STATS_MODELS),
                        help="statsforecast models to compare, comma-separated ('' for none)")
    parser.add_argument("--arima-max-season", type=int, default=ARIMA_MAX_SEASON,
                        help="leave AutoARIMA out of series with a longer season")
    parser.add_argument("--stats-cache", help="a JSON file keeping statsforecast's forecasts "
                        "between runs (they do not depend on numbarnn)")
    parser.add_argument("--quick", action="store_true",
                        help="two short series, tiny training: a smoke test")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a ForecastConfig setting over the defaults (repeatable)")
    parser.add_argument("--last", type=int, nargs="+", metavar="N",
                        help="short series instead: each series cut to its last N steps, for "
                        "each N shorter than it (named series-N); where a cut cannot train, "
                        "the error is printed and the cut left out")
    parser.add_argument("--horizon", type=_positive, metavar="H",
                        help="every series' horizon (and test) instead of the suite's, e.g. "
                        "for short cuts of series with a long season")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    entries = suite(args.holdout, args.suite_dir)
    names = args.series or list(entries)
    from asv_benchmarks.series_quality import parse_setting

    options = dict(parse_setting(text) for text in args.set)
    if args.quick:
        names = args.series or (list(entries)[:2] if args.holdout or args.suite_dir else
                                ["austres", "nile"])
        options = {"epochs": 2, "members": 1, "hidden_size": 8, **options}
    unknown = sorted(set(names) - set(entries))
    if unknown:
        parser.error(f"unknown series {unknown}; known: {sorted(entries)}")
    stats_models = [m for m in args.stats_models.split(",") if m]
    cache_path = Path(args.stats_cache) if args.stats_cache else None
    cache = json.loads(cache_path.read_text()) if cache_path and cache_path.exists() else \
        ({} if cache_path else None)
    data = {name: (read_csv(str(entries[name][0])), entries[name][1],
                   args.horizon or entries[name][2]) for name in names}
    if args.last:
        data = {f"{name}-{n}": (series.tail(n), season, horizon)
                for name, (series, season, horizon) in data.items() for n in args.last
                if n < len(series)}
    data.update({f"panel-{k}": (series, 12, args.horizon or 12)
                 for k, series in synthetic(args.panel)})
    curves = {f"panel-{k}": series.values for k, series in synthetic(args.panel, True)}
    results = {}
    for name, (series, season, horizon) in data.items():
        try:
            scores, choices = evaluate_series(name, series, season, horizon, args.origins,
                                              options, stats_models, cache,
                                              args.arima_max_season, curves.get(name))
        except ValueError as e:
            if not args.last or "this configuration needs at least" not in str(e):
                raise  # (only a cut too short to train is left out)
            print(f"{name}: cannot train: {e}", flush=True)
            continue
        if cache_path:
            cache_path.write_text(json.dumps(cache))
        results[name] = {"season": season, "horizon": horizon,
                         "length": len(series), "scores": scores,
                         "numbarnn_choices": choices}
        print(f"{name}: numbarnn MASE {scores['numbarnn']['mase']:.3f}, seasonal naive "
              f"{scores['seasonal_naive']['mase']:.3f} ({scores['numbarnn']['seconds']:.1f} s)",
              flush=True)
    if not results:  # (no cut shorter than its series, or none long enough to train)
        parser.exit(1, "no series left to score: no cut is shorter than its series and long "
                    "enough to train\n")
    summary = summarise(results)
    print_table(results, summary)
    if args.out:
        Path(args.out).write_text(json.dumps({"results": results, "summary": summary,
                                              "origins": args.origins, "options": options},
                                             indent=1, default=str))
    return results, summary


if __name__ == "__main__":
    main()
