"""What ``numbarnn train-series`` prints: the test metrics, the automatic choices in words,
the intervals' scores and a many-series run's summary, each as text lines (the commands
echo them)."""

_METRIC_NAMES = {"mae": "MAE", "rmse": "RMSE", "mape": "MAPE %", "smape": "sMAPE %",
                 "mase": "MASE"}


def score_text(value):
    """A score as the report writes it: three decimals, or n/a."""
    return "n/a" if value is None else f"{value:.3f}"


def metrics_table(metrics, compare=None):
    """The model's and the baselines' test metrics (and ``compare``'s statsforecast models')
    as aligned text lines."""
    rows = [("", *(_METRIC_NAMES[m] for m in _METRIC_NAMES))]
    for who, label in (("model", "model"), ("naive", "naive"),
                       ("seasonal_naive", "seasonal naive")):
        rows.append((label, *(score_text(metrics[who][m]) for m in _METRIC_NAMES)))
    for name, scores in (compare or {}).items():
        if "error" not in scores:
            rows.append((name, *(score_text(scores[m]) for m in _METRIC_NAMES)))
    return aligned(rows)


def aligned(rows):
    """Rows of cells as text lines: the first column left-aligned, the others right."""
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) if k == 0 else cell.rjust(w)
                      for k, (cell, w) in enumerate(zip(row, widths))) for row in rows]


def partner_alone(report):
    """Whether a statistical forecast that weighs all left the networks out."""
    combination = report.get("combination")
    return bool(combination) and combination["weight"] == 1


def networks_left_out(report):
    """Whether the model forecasts without its networks: with a statistical forecast that
    weighs all, or with seasonal naive's (--fallback)."""
    fallback = report.get("fallback")
    return partner_alone(report) or bool(fallback) and fallback["used"]


def choice_lines(report):
    """What the automatic settings chose, and the fallback's verdict, as text lines."""
    from numbarnn.forecast.combination import ALONE_WINDOWS, FEW_WINDOWS, FEW_WINDOWS_WEIGHTS
    from numbarnn.forecast.training import RULE_CHOICE, describe_transforms

    choices = report["choices"]
    seasonality = choices["seasonality"]
    found = "" if seasonality["acf"] is None else \
        (" (found by the autocorrelation test" if seasonality["seasonal"] else
         " (not found by the autocorrelation test") + \
        f": r_{seasonality['season']} = {seasonality['acf']:.2f}, bound " \
        f"{seasonality['threshold']:.2f})"
    lines = [f"window {choices['window']}, validation {choices['val_size']} steps; season "
             f"{seasonality['season']}{found}"]
    for name, short in (choices.get("shortened") or {}).items():
        if name == "val_size" and choices["val_size"] == 0:
            lines.append("no validation part: even one horizon of it would leave the "
                         "networks no training window")
            continue
        lines.append(
            f"{'window' if name == 'window' else 'validation'} shorter than "
            f"{short['default']}: with it the training part held "
            f"{short['training_windows']} window{'s' * (short['training_windows'] != 1)}, "
            + ("fewer than the horizon" if name == "window" else "fewer than half the horizon"))
    variance = choices.get("log_test")
    by_rule = choices["chosen"]["by"] == RULE_CHOICE
    if variance is not None:
        verdict = {True: "asks for the log", False: "asks for no log",
                   None: "leaves the log to the rule, with no validation part to choose on"
                   if by_rule else "leaves the log to validation"}[variance["log"]]
        lines.append("log: data not all positive, no log" if variance["power"] is None and
                     variance["log"] is False else
                     f"log: Guerrero's Box-Cox power {score_text(variance['power'])} {verdict}")
    floor = choices.get("nonnegative")
    if floor and floor["floor"]:
        lines.append("forecasts and intervals kept at 0 or above" +
                     (" (--nonnegative)" if floor["by"] == "setting" else
                      f": {floor['by']} (--no-nonnegative to allow them below)") +
                     ("" if floor["after"] else
                      "; not after the series, whose test goes below 0"))
    if any(step["name"] == "winsorize" for step in report["transforms"]):
        lines.append(f"winsorized: a few training differences beyond "
                     f"{report['config']['winsorize']:g} robust standard deviations of their "
                     "median (a level shift, an outlier) kept within them for the networks "
                     "(--winsorize 0 to leave them)")
    level = choices.get("level_test")
    if level is not None and level["statistic"] is not None:
        lines.append(f"level: KPSS statistic {level['statistic']:.3f} " +
                     (f"<= {level['bound']}, stationary" if level["stationary"] else
                      f"> {level['bound']}, the level wanders: differenced"
                      if level["differenced"] else
                      f"> {level['bound']}, the level wanders, but {level['because']}: "
                      "not differenced"))
    chosen = choices["chosen"]
    if choices["candidates"]:
        tried = ", ".join(f"{describe_transforms(c)} {score_text(c['validation_mase'])}"
                          for c in choices["candidates"])
        combined = " (each as it forecasts, combined as --combine says)" \
            if report["config"].get("combine", "none") != "none" else ""
        lines.append(f"transforms: {describe_transforms(chosen)}, the lowest validation MASE"
                     f"{combined} of {tried}")
    else:
        by = "by rule, with no validation part to choose on" if by_rule else chosen["by"]
        lines.append(f"transforms: {describe_transforms(chosen)} ({by})")
    linear, combination = report.get("linear"), report.get("combination")
    replaced = partner_alone(report)
    if linear:
        lines.append(("averaged with a linear autoregression on the same windows"
                      if linear["weight"] else "not averaged with a linear autoregression")
                     + _scores(linear["validation_mase"], "averaged")
                     + (", left out with the networks below" if linear["weight"] and replaced
                        else ""))
    if combination:
        name = PARTNER_NAMES[combination["method"]]
        weight = combination["weight"]
        windows = combination.get("few_windows")
        if not weight:
            verdict = "not combined with a statistical forecast"
        elif replaced:
            verdict = f"forecasting with {name} alone (the networks left out)"
        else:
            share = "half each" if weight == 0.5 else \
                f"weighing {weight:g} against the networks' {1 - weight:g}"
            verdict = f"combined with {name}, {share}"
        if weight and combination.get("one_origin"):
            verdict += (", as --combine auto does where validation has one forecast "
                        "origin, too few to choose a partner on")
        elif weight and combination.get("unvalidated"):
            verdict += (f", as --combine auto does without a validation origin where the "
                        f"networks train on fewer than {FEW_WINDOWS} windows ({windows} "
                        "here)")
        elif weight and combination.get("too_few_to_choose"):
            verdict += (f", as --combine auto does where the networks train on fewer than "
                        f"{ALONE_WINDOWS} windows ({windows} here), too few to choose a "
                        "partner on")
        elif weight and windows is not None:
            weights = " or ".join(f"{w:g}" for w in FEW_WINDOWS_WEIGHTS)
            verdict += (f"; with fewer than {FEW_WINDOWS} training windows ({windows} here) "
                        f"validation chose among partners weighing {weights}")
        # (without a validation origin the verdict says so already: no scores to add)
        lines.append(verdict if combination.get("unvalidated") else
                     verdict + _scores(combination["validation_mase"],
                                       f"{'with' if replaced else 'combined with'} {name}",
                                       combination["method"]))
    fallback = report.get("fallback")
    if fallback:
        verdict = "forecasting with seasonal naive (--fallback)" if fallback["used"] else \
            "--fallback would forecast with it"
        # (what it beat: what forecasts, the networks or the statistical forecast that
        # left them out)
        beaten = PARTNER_NAMES[combination["method"]] if replaced else "the networks"
        lines.append(f"seasonal naive beat {beaten} on the validation part (MASE "
                     f"{score_text(fallback['seasonal_naive_mase'])} against "
                     f"{score_text(fallback['model_mase'])}): {verdict}")
    return lines


# what the report's combination ``method`` names
PARTNER_NAMES = {"theta": "the Theta method", "regression": "a linear trend and seasonal dummies",
                 "naive": "the last value (naive)",
                 "seasonal_naive": "the value a season earlier (seasonal naive)",
                 "arima": "an ARIMA (an autoregression, on the differences where the level "
                          "wanders)",
                 "theta_arima": "the mean of the Theta method and an ARIMA"}


def _scores(mase, done, method=None):
    """`` (validation MASE <combined> <done>, <networks> without it; with <another
    partner than method> <its combined MASE> ...)``, or that there was no validation part."""
    if mase is None:
        return " (no validation part to compare on)"
    others = "".join(f"; with {PARTNER_NAMES[m]} {score_text(v)}"
                     for m, v in mase.get("partners", {}).items() if m != method)
    return (f" (validation MASE {score_text(mase['combined'])} {done}, "
            f"{score_text(mase['networks'])} without it{others})")


def interval_lines(intervals, calibration=None):
    """Test coverage and MSIS of the model's and seasonal naive's intervals, as text lines;
    the title says where the errors are in units of a statistical partner's spread
    (``calibration``'s ``scale``: 'spread')."""
    levels = list(intervals["model"])
    rows = [("", *(f"{kind} {L} %" for L in levels for kind in ("coverage", "MSIS")))]
    for who, label in (("model", "model"), ("seasonal_naive", "seasonal naive")):
        # (an MSIS is None where the series never changed: no scale to divide by)
        rows.append((label, *("n/a" if intervals[who][L][m] is None else
                              f"{intervals[who][L][m]:.{1 if m == 'coverage' else 3}f}"
                              for L in levels for m in ("coverage", "msis"))))
    spread = (calibration or {}).get("scale") == "spread"
    return ["intervals on the test" + (" (calibrated in units of the statistical forecast's "
                                       "own spread):" if spread else ":")] + aligned(rows)


def panel_summary_lines(summary):
    """The many-series summary as text lines."""
    execution = summary["execution"]
    reused = execution["reused"]
    if execution["mode"] is None:  # (nothing was run: all stored, or none readable)
        lines = [f"{summary['trained']} of {summary['series']} series trained: "
                 + ("every result was already stored, nothing left to train" if reused else
                    "none could be read (below)")]
    else:
        where = {"serial": "serially in this process",
                 "local-cluster": "on a local Dask cluster",
                 "scheduler": "on the Dask scheduler's cluster"}[execution["mode"]]
        warm_up = list(execution["warm_up"].values())
        lines = [f"{summary['trained']} of {summary['series']} series trained "
                 + (f"({reused} stored by the earlier run, the rest now) " if reused else "")
                 + f"{where} ({execution['workers']} worker"
                 f"{'s' if execution['workers'] > 1 else ''}) in {summary['seconds']:.1f} s: "
                 f"{summary['series_per_minute']:.1f} series per minute; compiling or loading "
                 f"the kernels took {max(warm_up, default=0):.1f} s per worker"]
    if summary["trained"]:
        share = summary["beat_seasonal_naive"]
        lines.append(f"the model beats seasonal naive (MAE) on {share:.0%} of the series")
        rows = [("", "mean MASE", "median MASE", "mean sMAPE %", "median sMAPE %")]
        for who, label in (("model", "model"), ("naive", "naive"),
                           ("seasonal_naive", "seasonal naive")):
            rows.append((label, *(score_text(summary[m][who][s]) for m in ("mase", "smape")
                                  for s in ("mean", "median"))))
        lines += aligned(rows)
    if summary["failed"]:
        lines.append(f"{len(summary['failed'])} series skipped:")
        lines += [f"  {failure['id']}: {failure['reason']}" for failure in summary["failed"]]
    if summary.get("diverged"):  # (a run stored before this count has none)
        lines.append(f"{len(summary['diverged'])} series diverged (kept at their best epoch, "
                     "status 'diverged' in metrics.csv):")
        lines += [f"  {d['id']}: {d['reason']}" for d in summary["diverged"]]
    return lines
