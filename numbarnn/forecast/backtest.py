"""Rolling-origin evaluation: a fresh forecaster trained and tested at each of the last
few origins of a series."""
import math

import numpy as np

from .._checks import check_int
from .config import merge_options
from .training import train_forecaster

def backtest(series, config=None, origins=3, step=1, progress=None, device=None, **options):
    """Rolling-origin evaluation: retrain and test at each of the last ``origins`` origins.

    Fold ``k`` (0 = the latest) uses the series cut ``k * step`` steps before its end: a
    fresh model is trained on what precedes that fold's test and scored on it.

    Returns
    -------
    dict
        ``folds``: per fold its end and metrics; ``mean``: each measure averaged over the
        folds, for the model and both baselines.
    """
    config = merge_options(config, options)
    check_int("backtest origins", origins, 1)
    check_int("backtest step", step, 1)
    folds = []
    for k in range(origins):
        end = len(series) - k * step
        if progress is not None:
            progress.log(f"backtest fold {k + 1}/{origins}: data up to step {end}")
        _, report = train_forecaster(series.head(end), config, device=device)
        folds.append({"end": end, "metrics": report["metrics"]})
    mean = {who: {m: _nanmean([f["metrics"][who][m] for f in folds]) for m in scores}
            for who, scores in folds[0]["metrics"].items()}
    return {"origins": origins, "step": step, "folds": folds, "mean": mean}


def _nanmean(values):
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None
