"""Synthetic series that each stress one thing a forecaster must get right, for the suite.

    python -m asv_benchmarks.forecast_suite.stress DIR       # writes DIR/*.csv, DIR/suite.json
    python -m asv_benchmarks.forecast_suite.evaluate --suite-dir DIR --origins 3

The real series of the suite are mostly monthly and quarterly; these add what they
lack, each with a known structure, so that a change which helps the real series can be
checked against the cases it might break: intermittent demand, long seasons (weekly
data with a yearly season, hourly with a daily one), a wandering level under a fixed
season (daily sales) beside a fixed trend and season under autocorrelated noise (what
the linear trend and seasonal dummies are right for), a random walk with a drift, a
shock inside the validation part, a shift of level near the end, a multiplicative
season that grows, a damped trend, a persistent AR(1) and white noise.  Every series
has its own seed, 1000 plus its place in ``SERIES`` (add new ones at the end): the files
are the same wherever NumPy's generator is (NEP 19: within a NumPy version).

With ``--origins 3`` the events near the end fall where they are meant to at the latest
origin: the shift of ``shift_near_end`` (22 steps before the end) inside the validation
part there, inside the test at the second origin and out of the series at the third;
the shock of ``shock_in_validation`` (34 to 30 steps before the end) inside the
validation part at the first two origins and inside the test at the third.
"""
import argparse
import json
from pathlib import Path

import numpy as np


def _season(rng, m, size):
    """A fixed seasonal shape of ``m`` positions summing to 0, of spread ``size``."""
    shape = rng.normal(0, size, m)
    return shape - shape.mean()


def _ar1(rng, n, phi, sigma):
    e = np.zeros(n)
    for t in range(1, n):
        e[t] = phi * e[t - 1] + rng.normal(0, sigma)
    return e


def intermittent(rng, n, m):
    return (rng.random(n) < 0.3) * (1.0 + rng.poisson(2, n))


def wandering_level(rng, n, m):
    return 100 + rng.normal(0, 0.8, n).cumsum() + _season(rng, m, 3)[np.arange(n) % m] + \
        rng.normal(0, 1.5, n)


def wandering_level_drift(rng, n, m):
    return 100 + (0.05 + rng.normal(0, 0.6, n)).cumsum() + \
        _season(rng, m, 4.5)[np.arange(n) % m] + rng.normal(0, 1, n)


def fixed_trend_season(rng, n, m):
    t = np.arange(n)
    return 100 + 0.05 * t + _season(rng, m, 3)[t % m] + _ar1(rng, n, 0.5, 1.5)


def random_walk_drift(rng, n, m):
    return 100 + (0.3 + rng.normal(0, 1, n)).cumsum()


def shock_in_validation(rng, n, m):
    t = np.arange(n)
    y = 200 + 0.5 * t + 20 * np.sin(2 * np.pi * t / m) + rng.normal(0, 4, n)
    y[n - 34:n - 30] *= 0.4  # (four steps at 40 %, inside the validation part)
    return y


def shift_near_end(rng, n, m):
    t = np.arange(n)
    return 80 + 10 * np.sin(2 * np.pi * t / m) + rng.normal(0, 2, n) + 25 * (t >= n - 22)


def multiplicative_growth(rng, n, m):
    t = np.arange(n)
    return 50 * 1.012 ** t * (1 + 0.25 * np.sin(2 * np.pi * t / m)) * \
        np.exp(rng.normal(0, 0.03, n))


def damped_trend(rng, n, m):
    t = np.arange(n)
    return 100 + 75 * (1 - 0.96 ** t) + _season(rng, m, 3)[t % m] + rng.normal(0, 1.5, n)


def persistent_ar1(rng, n, m):
    return 20 + _ar1(rng, n, 0.9, 1.0)


def white_noise(rng, n, m):
    return 10 + rng.normal(0, 1, n)


# name: (generator, length, season, horizon, step of the dates); the order fixes the seeds
SERIES = {
    "intermittent_monthly": (intermittent, 96, 12, 12, "month"),
    "intermittent_weekly": (intermittent, 156, 1, 8, "week"),
    # (a yearly season of weeks: too long for AutoARIMA's seasonal search)
    "weekly_yearly_season": (wandering_level_drift, 260, 52, 13, "week"),
    "daily_wandering": (wandering_level, 560, 7, 14, "day"),
    "daily_wandering_drift": (wandering_level_drift, 560, 7, 14, "day"),
    "daily_fixed": (fixed_trend_season, 560, 7, 14, "day"),
    "monthly_wandering": (wandering_level, 180, 12, 12, "month"),
    "monthly_wandering_drift": (wandering_level_drift, 180, 12, 12, "month"),
    "monthly_fixed": (fixed_trend_season, 180, 12, 12, "month"),
    "hourly_wandering": (wandering_level, 600, 24, 24, "hour"),
    "hourly_wandering_drift": (wandering_level_drift, 600, 24, 24, "hour"),
    "hourly_fixed": (fixed_trend_season, 600, 24, 24, "hour"),
    "quarterly_wandering": (wandering_level, 140, 4, 8, "quarter"),
    "quarterly_wandering_drift": (wandering_level_drift, 140, 4, 8, "quarter"),
    "quarterly_fixed": (fixed_trend_season, 140, 4, 8, "quarter"),
    "random_walk_drift": (random_walk_drift, 200, 1, 12, "month"),
    "shock_in_validation": (shock_in_validation, 144, 12, 12, "month"),
    "shift_near_end": (shift_near_end, 150, 12, 12, "month"),
    "multiplicative_growth": (multiplicative_growth, 120, 12, 12, "month"),
    "damped_trend": (damped_trend, 80, 4, 8, "quarter"),
    "persistent_ar1": (persistent_ar1, 150, 1, 10, "month"),
    "white_noise": (white_noise, 100, 1, 8, "month"),
}


def dates(step, n):
    """``n`` ISO dates, one ``step`` apart, as numbarnn reads them."""
    if step in ("month", "quarter"):
        months = np.datetime64("2000-01", "M") + np.arange(n) * (3 if step == "quarter" else 1)
        return [str(d) for d in months]
    if step == "hour":
        hours = np.datetime64("2024-01-01T00", "h") + np.arange(n)
        return [str(d).replace("T", " ") + ":00" for d in hours]
    days = np.datetime64("2020-01-05", "D") + np.arange(n) * (7 if step == "week" else 1)
    return [str(d) for d in days]


def write(directory):
    """Every series of ``SERIES`` as ``directory/NAME.csv`` and the ``suite.json`` that
    ``evaluate --suite-dir`` reads."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    suite = {}
    for k, (name, (make, n, m, h, step)) in enumerate(SERIES.items()):
        values = make(np.random.default_rng(1000 + k), n, m)
        rows = "".join(f"{d},{v:.6g}\n" for d, v in zip(dates(step, n), values))
        (directory / f"{name}.csv").write_text("date,value\n" + rows)
        suite[name] = {"season": m, "horizon": h, "length": n,
                       "source": f"synthetic: {make.__name__.replace('_', ' ')}, season {m}, "
                                 f"one value {'an' if step == 'hour' else 'a'} {step} "
                                 "(asv_benchmarks/forecast_suite/stress.py)"}
    (directory / "suite.json").write_text(json.dumps(suite, indent=1) + "\n")
    return suite


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="where to write the series and suite.json")
    suite = write(parser.parse_args().directory)
    print(f"wrote {len(suite)} series")


if __name__ == "__main__":
    main()
