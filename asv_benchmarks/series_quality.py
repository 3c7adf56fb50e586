"""Forecast quality over several seeds, beside the naive and seasonal-naive baselines.

Accuracy, not speed: each seed trains a fresh model with the given settings and
the script prints every metric's mean, standard deviation and range over the seeds.

    python -m asv_benchmarks.series_quality                       # airline, the defaults
    python -m asv_benchmarks.series_quality --set window=12 --set diff=true
    python -m asv_benchmarks.series_quality --data mackey-glass --set horizon=84
"""
import argparse
import sys
import time

import numpy as np

from numbarnn.forecast.config import ForecastConfig
from numbarnn.forecast.training import train_forecaster
from numbarnn.forecast.metrics import METRICS
from numbarnn.forecast.datasets import load_airline, synthetic


def parse_setting(text):
    """``name=value`` as a ForecastConfig field with a value of the field's type."""
    name, _, raw = text.partition("=")
    if name not in ForecastConfig.__dataclass_fields__:
        raise SystemExit(f"--set {text}: unknown setting {name!r}")
    if raw.lower() in ("true", "false"):
        return name, raw.lower() == "true"
    if raw.lower() == "none":
        return name, None
    for kind in (int, float):
        try:
            return name, kind(raw)
        except ValueError:
            pass
    return name, raw


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="airline", choices=["airline", "sine", "mackey-glass"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a ForecastConfig setting (repeatable)")
    args = parser.parse_args(argv)
    options = dict(parse_setting(s) for s in args.set)
    series = load_airline() if args.data == "airline" else synthetic(args.data)
    runs, seconds = [], []
    for seed in range(args.seeds):
        start = time.perf_counter()
        _, report = train_forecaster(series, ForecastConfig(**{**options, "seed": seed}))
        seconds.append(time.perf_counter() - start)
        runs.append(report["metrics"])
        model = report["metrics"]["model"]
        print(f"seed {seed}: " + "  ".join(f"{m} {model[m]:.3f}" for m in METRICS)
              + f"  (best epochs {[m['best_epoch'] for m in report['training']['members']]},"
              f" {seconds[-1]:.1f} s)", flush=True)
    print(f"\n{args.data}, settings {options or 'default'}, {args.seeds} seeds "
          f"(mean ± standard deviation (min..max)); training {np.mean(seconds):.1f} s per seed")
    print(f"{'':16s}" + "".join(f"{m:>30s}" for m in METRICS))
    for who in ("model", "naive", "seasonal_naive"):
        row = f"{who:16s}"
        for m in METRICS:
            v = np.array([r[who][m] if r[who][m] is not None else np.nan for r in runs])
            row += f"{v.mean():.4g} ± {v.std():.2g} ({v.min():.3g}..{v.max():.3g})".rjust(30)
        print(row)
    if args.data != "airline":
        std = np.std(series.values)
        nrmse = [r["model"]["rmse"] / std for r in runs]
        print(f"NRMSE (RMSE / std of the series): model {np.mean(nrmse):.4f} "
              f"({min(nrmse):.4f}..{max(nrmse):.4f}), naive {runs[0]['naive']['rmse'] / std:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
