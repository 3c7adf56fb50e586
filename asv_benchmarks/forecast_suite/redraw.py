"""A synthetic panel series again, with fresh noise: is its score the method or the draw?

    python -m asv_benchmarks.forecast_suite.redraw store_15 --draws 12

The panel's series (``numbarnn.forecast.panel.synthetic_panel``) are noise-free curves
times log-normal noise.  This keeps one series' curve and dates, draws new noise of the
spread its own noise has, trains numbarnn's defaults on each draw (``--season 12
--horizon 12``, the last 12 steps the test) and prints numbarnn's test MASE beside
seasonal naive's, then the geometric mean of their ratio and how many draws trail
seasonal naive by more than 5 %.
"""
import argparse

import numpy as np

from numbarnn.forecast.series import Series
from numbarnn.forecast.training import train_forecaster

from .evaluate import synthetic


def redraw(name, draws, panel=20, seed=100, options=None):
    """``[(numbarnn's MASE, seasonal naive's MASE)]`` for ``draws`` fresh noise draws of the
    panel series ``name`` (one of the first ``panel``), draw k seeded ``seed + k``;
    ``options``: ForecastConfig settings over the defaults."""
    curve = dict(synthetic(panel, noise_free=True))[name]
    noisy = dict(synthetic(panel))[name]
    spread = float(np.std(np.log(noisy.values / curve.values)))
    scores = []
    for k in range(draws):
        noise = np.random.default_rng(seed + k).normal(0.0, spread, len(curve))
        values = np.round(curve.values * np.exp(noise), 2)  # (as the panel rounds them)
        _, report = train_forecaster(Series(values, name, dates=curve.dates),
                                     **{"season": 12, "horizon": 12, **(options or {})})
        scores.append((report["metrics"]["model"]["mase"],
                       report["metrics"]["seasonal_naive"]["mase"]))
        print(f"draw {k}: numbarnn MASE {scores[-1][0]:.3f}, seasonal naive {scores[-1][1]:.3f}",
              flush=True)
    return scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("series", help="a series of the synthetic panel, e.g. store_15")
    parser.add_argument("--draws", type=int, default=12)
    parser.add_argument("--panel", type=int, default=20, help="the panel's first K series")
    parser.add_argument("--quick", action="store_true", help="tiny training: a smoke test")
    args = parser.parse_args(argv)
    known = [name for name, _ in synthetic(args.panel)]
    if args.series not in known:
        parser.error(f"unknown series {args.series!r}; the panel's first {args.panel}: "
                     f"{', '.join(known)}")
    options = {"epochs": 2, "members": 1, "hidden_size": 8} if args.quick else None
    scores = np.array(redraw(args.series, args.draws, args.panel, options=options))
    ratio = float(np.exp(np.mean(np.log(scores[:, 0] / scores[:, 1]))))
    behind = int(np.sum(scores[:, 0] > 1.05 * scores[:, 1]))
    print(f"numbarnn / seasonal naive (geometric mean): {ratio:.3f}; more than 5 % behind "
          f"it in {behind} of {len(scores)} draws")
    return scores


if __name__ == "__main__":
    main()
