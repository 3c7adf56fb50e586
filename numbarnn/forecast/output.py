"""A forecast written out: a CSV (atomically) and a plot (matplotlib, ``[plot]`` extra)."""
import os

import numpy as np

from .config import level_name


def forecast_labels(forecast):
    """The time labels of a forecast (``Forecaster.forecast``'s dict), as strings: its
    dates, else its steps' numbers where the series numbered its own, else 1, 2, ...
    (1 = the first step after the data)."""
    labels = forecast["dates"] or forecast.get("steps") or range(1, len(forecast["values"]) + 1)
    return [str(label) for label in labels]


def write_forecast_csv(path, forecast, name="forecast"):
    """Write a forecast (``Forecaster.forecast``'s dict) as CSV, atomically.

    The columns are ``date,<name>`` where the dates are known, else ``step,<name>``
    (``forecast_labels``), then ``lo-L,hi-L`` for each interval level L (statsforecast's
    names).
    """
    from ..checkpoints import write_atomic

    values = forecast["values"]
    labels = forecast_labels(forecast)
    intervals = forecast.get("intervals") or {}
    columns = [f"{'date' if forecast['dates'] else 'step'}", name]
    for L in intervals:
        columns += [f"lo-{level_name(L)}", f"hi-{level_name(L)}"]
    lines = [",".join(columns)]
    for t, (label, value) in enumerate(zip(labels, values)):
        cells = [label, f"{value:.10g}"]
        for lo, hi in intervals.values():
            cells += [f"{lo[t]:.10g}", f"{hi[t]:.10g}"]
        lines.append(",".join(cells))
    write_atomic(path, "\n".join(lines) + "\n")


def plot_format(path):
    """The image format of ``path`` (its extension; png without one), checked before any
    work is done.

    Raises
    ------
    ValueError
        If matplotlib is not installed, or cannot write that format.
    """
    try:
        import matplotlib  # noqa: F401 -- (first: a submodule already loaded would pass)
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise ValueError("the plot needs matplotlib: pip install 'numbarnn[plot]'") from None
    fmt = str(path).rsplit(".", 1)[-1].lower() if "." in os.path.basename(str(path)) else "png"
    formats = FigureCanvasBase.get_supported_filetypes()
    if fmt not in formats:
        raise ValueError(f"{path}: cannot write a plot as {fmt!r}; the formats are "
                         f"{', '.join(sorted(formats))}")
    return fmt


def plot_forecast(path, forecast, test=None, title=None):
    """Draw the history, the forecast and (given ``test``) the test actuals beside the
    model's test forecast, into an image file.

    Parameters
    ----------
    path : str
        The image file; its extension picks the format (png, svg, pdf).
    forecast : dict
        ``Forecaster.forecast``'s result.
    test : dict, optional
        ``{'dates', 'actual', 'forecast'}`` of the training run's test (``model.info['test']``).

    Raises
    ------
    ValueError
        If matplotlib is not installed, or cannot write the format (``plot_format``).
    """
    fmt = plot_format(path)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..checkpoints import write_atomic

    history = np.asarray(forecast["history"])
    n_history, horizon = history.size, len(forecast["values"])
    # (a series that numbers its steps: the axis shows its numbers)
    start = forecast["steps"][0] - n_history if forecast.get("steps") else 0
    steps = start + np.arange(n_history + horizon)
    fig, ax = plt.subplots(figsize=(9, 4.5), constrained_layout=True)
    ax.plot(steps[:n_history], history, color="0.25", lw=1.2, label="history")
    if test is not None and test.get("actual"):
        n_test = len(test["actual"])
        test_steps = steps[n_history - n_test:n_history]
        ax.plot(test_steps, test["actual"], color="tab:green", lw=1.6, label="test (actual)")
        ax.plot(test_steps[:len(test["forecast"])], test["forecast"], color="tab:orange",
                lw=1.4, ls="--", label="model on the test")
    future = steps[n_history - 1:]
    intervals = forecast.get("intervals") or {}
    for k, (L, (lo, hi)) in enumerate(sorted(intervals.items(), reverse=True)):  # widest first
        ax.fill_between(future[1:], lo, hi, color="tab:blue", alpha=0.12 + 0.12 * k, lw=0,
                        label=f"{level_name(L)} % interval")
    ax.plot(future, np.concatenate([history[-1:], forecast["values"]]), color="tab:blue", lw=1.8,
            label="forecast")
    labels = forecast["history_dates"]
    if labels is not None and forecast["dates"] is not None:
        labels = labels + forecast["dates"]
        ticks = np.arange(0, len(steps), max(1, len(steps) // 8))
        ax.set_xticks(steps[ticks], [labels[k] for k in ticks], rotation=30, ha="right")
    else:
        ax.set_xlabel("step")
    ax.axvline(start + n_history - 0.5, color="0.6", lw=0.8, ls=":")
    ax.set_title(title or "forecast")
    ax.legend(loc="upper left", frameon=False)
    ax.grid(alpha=0.3)
    import io

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format=fmt, dpi=110)
    except ValueError as e:
        raise ValueError(f"{path}: cannot write the plot in this format ({e})") from None
    finally:
        plt.close(fig)
    write_atomic(path, buffer.getvalue())
