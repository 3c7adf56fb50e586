"""Combining the networks' forecast with partners, where the validation part says so.

``choose_linear`` averages the networks with the linear member (a ridge autoregression on
the same windows); ``choose_partner`` then averages the result with a statistical
forecast (``partners.PARTNERS``: the Theta method, a linear trend and seasonal dummies, the
naive forecast, seasonal naive's, an ARIMA(p, d, 0), the mean of the Theta method's and
the ARIMA forecast), choosing the partner and its weight by the validation MASE on the
rolling origins, or taking a fixed one where the networks have too few windows to
choose on; ``fallback_verdict`` says whether seasonal naive beat the result on
validation.  The first two act on the ``Forecaster`` that ``training`` has just trained.
"""
import math

from .metrics import score_forecasts
from .partners import PARTNERS


def _partner(config, always, validation, partnered, values, origins, season, test_start):
    """Whether a forecast takes a partner (the linear member, a statistical forecast): ``always``,
    or where the validation MASE of ``partnered()`` (its forecasts from the validation
    ``origins``, made only where there is a validation part) is below that of the forecasts
    ``validation`` scored.

    Returns
    -------
    use : bool
    mase : {``networks``: without the partner, ``combined``: with it}, or None
    validation : the validation scores of what is then forecast
    paths : ``partnered()``'s forecasts, or None without a validation part
    """
    if validation is None:
        return always, None, validation, None
    paths = partnered()
    scores = score_forecasts(values, origins, paths[:, paths.shape[1] // 2], config.horizon,
                             season, test_start)
    mase = {"networks": validation["model"]["mase"], "combined": scores["model"]["mase"]}
    use = always or (math.isfinite(mase["combined"]) and mase["combined"] < mase["networks"])
    return use, mase, scores if use else validation, paths


# the statistical partner's share of a combined forecast (ForecastConfig.combine): the plain
# mean, the combination the forecasting competitions found hard to beat
COMBINED_WEIGHT = 0.5
# the share of the mean of the Theta method's and the ARIMA forecast where 'auto' takes it
# without a choice (a validation part of one origin, networks on fewer than ALONE_WINDOWS
# windows, or on fewer than FEW_WINDOWS without a validation origin).  On 131 short cuts
# (README, "Short series"), for one origin, with the Theta method: 0.5 -> 0.75 -> 1.0
# (Theta alone) 1.164 -> 1.124 -> 1.101 geometric-mean MASE, 42 -> 36 -> 38 cuts more than
# 5 % behind seasonal naive; with the mean (README, "Few windows"), 0.75 -> 1.0 (the mean
# alone): 1.070 -> 0.990, 38 -> 39 behind
FIXED_PARTNER_WEIGHT = 1.0
# Below this many training windows (from ALONE_WINDOWS up) 'auto' always combines the
# networks with a statistical partner, which weighs one of FEW_WINDOWS_WEIGHTS (all of it:
# the partner's forecast alone), validation choosing the partner and its weight: networks
# fitted on a few dozen windows forecast worse than the partners on validation and test
# alike.  Measured (README, "Few windows"), threshold 0 -> 40 -> 60 -> 100: 22 series
# never used to choose a default before, geometric-mean MASE over AutoETS's 1.247 -> 1.022
# -> 1.013 -> 1.000; eight holdout series 1.096 -> 1.096 -> 1.089 -> 1.112; with 60, the
# suite's twelve real series 0.584 -> 0.574 and 131 short cuts 1.090 -> 1.070.  With half
# each among the weights, validation took it on noise (the 22 series 1.135 with 40).
FEW_WINDOWS = 60
FEW_WINDOWS_WEIGHTS = (0.75, 1.0)
# Below this many training windows, fewer still, 'auto' forecasts with the mean of the Theta
# method's and the ARIMA forecast alone, as for one validation origin: the handful of
# validation origins such a series has chose among ten (partner, weight) pairs on noise
# (fert_NER took the naive forecast at two of three test origins).  Measured (README,
# "Too few windows to choose on"), threshold 0 -> 25 -> 60: the 22 series over AutoETS's
# 1.014 -> 0.881 -> 0.879, 140 short cuts 0.835 -> 0.814 -> 0.814, the holdout 1.089 ->
# 1.089 -> 1.078, the suite's 32 series 0.825 -> 0.825 -> 0.827 (its 95 % MSIS 5.48 -> 5.49
# -> 5.84: the mean's intervals are wider where the networks have a few dozen windows)
ALONE_WINDOWS = 25


def choose_partner(model, config, values, origins, paths, validation, season, test_start,
                   untested_season, train_windows):
    """Whether the model combines its forecast (the networks', with the linear member where
    it has one) with a statistical forecast (``config.combine``): always with the Theta
    method for 'theta' and 'both'; for 'auto' with the partner of ``PARTNERS`` (the Theta
    method, for a season of 2 or more the linear trend and seasonal dummies, the naive
    forecast, and for an ``untested_season`` (seen fewer than three times before the test:
    ``selection.testable_season``) seasonal naive's, and the ARIMA(p, d, 0) forecast) whose
    combination has the lowest validation MASE, where that is below the networks' own on
    the same rolling origins (whose steps the networks never trained on; ``paths``: their
    forecasts from there); with one such origin, or fewer than ``ALONE_WINDOWS``
    ``train_windows`` (the networks' training windows), always with the mean of the Theta
    method's and the ARIMA forecast, which then weighs ``FIXED_PARTNER_WEIGHT`` (all);
    from ``ALONE_WINDOWS`` up to ``FEW_WINDOWS``, always with the partner and weight of
    ``FEW_WINDOWS_WEIGHTS`` whose combination has the lowest validation MASE; without a
    validation origin, with the mean alone for networks on fewer than ``FEW_WINDOWS``
    windows, else not.

    Sets ``model.info['combination']`` where it does.  Returns the report's
    ``combination`` ({``setting``, ``method`` (the partner taken, else the best one
    scored, else 'theta'), ``weight``, ``validation_mase``: {``networks``: without a
    partner (with the linear member where the model has it), ``combined``: with
    ``method``, ``partners``: every partner scored, combined (at its best weight)} or
    None, ``one_origin``: whether 'auto' took the Theta and ARIMA mean for its one
    validation origin, ``few_windows``: the networks' training windows where they were
    fewer than ``FEW_WINDOWS``, else None, ``too_few_to_choose``: whether 'auto' took the
    mean for fewer than ``ALONE_WINDOWS`` (or for fewer than ``FEW_WINDOWS`` without a
    validation origin: ``unvalidated``)}) and the validation scores of the forecasts the
    model now makes.
    """
    # With one validation origin (a short series' validation part of one horizon) each
    # partner's validation MASE is that of a single forecast, too few to choose on: 'auto'
    # then combines with a fixed partner (first the Theta method, as 'theta' does).  On 131
    # short cuts of the suite's and the holdout's series (README, "Short series") the
    # geometric-mean MASE went 1.246 -> 1.164 with Theta, half each (cyclic yearly series,
    # which Theta cannot follow, worse); choosing only whether to combine with Theta, on
    # that one origin, 1.255; leaving the linear member out there, or taking it always,
    # made no clear difference.
    # The mean of the Theta method's and the ARIMA forecast instead of Theta's alone (README,
    # "An autoregressive partner", with the ARIMA partner offered at more origins): 1.115 ->
    # 1.090, the ARIMA forecast alone 1.116.
    one_origin = config.combine == "auto" and origins.size == 1
    few = config.combine == "auto" and origins.size > 1 and train_windows < FEW_WINDOWS
    # (without a validation origin the mean needs none to be taken, for networks on fewer
    # than FEW_WINDOWS windows, which always take a partner: a series too short for one
    # horizon of validation, training._choose, or a validation part the user made shorter)
    unvalidated = config.combine == "auto" and origins.size == 0 and \
        train_windows < FEW_WINDOWS
    too_few = (few and train_windows < ALONE_WINDOWS) or unvalidated
    mean_alone = one_origin or too_few
    always = config.combine in ("theta", "both") or mean_alone or few
    weights = (FIXED_PARTNER_WEIGHT,) if mean_alone else FEW_WINDOWS_WEIGHTS if few else \
        (COMBINED_WEIGHT,)
    scored = {}  # (method, weight): _partner's (use, mase, validation)
    # (the regression is for a fixed season: without one it is a straight line, whose
    # drift the Theta method already offers, and one more choice for validation's noise;
    # seasonal naive only for a season too long for the seasonality test to judge, which
    # then neither the transforms nor the Theta method take, and the networks see fewer
    # than three times: elsewhere it too is one more choice for the noise; the mean of the
    # Theta method and ARIMA only where it is taken without a choice)
    offered = {"theta": True, "regression": season >= 2, "naive": True,
               "seasonal_naive": untested_season, "arima": True, "theta_arima": False}
    fixed = always and (mean_alone or not few)
    for method in ("theta_arima" if mean_alone else "theta",) if fixed else \
            [m for m in PARTNERS if offered[m]]:
        for weight in weights:
            scored[method, weight] = _partner(
                config, always, validation,
                lambda: model.combined(paths, values, origins, weight, method), values,
                origins, season, test_start)[:3]

    def score(key):  # (the lowest first; a NaN last, and the first without scores)
        mase = scored[key][1]
        return mase["combined"] if mase and math.isfinite(mase["combined"]) else math.inf

    method, weight = min(scored, key=score)
    use, mase, validation = scored[method, weight]
    if mase is not None:  # (each partner's at its best weight)
        best = {m: min(((m, w) for w in weights), key=score)
                for m in dict.fromkeys(m for m, _ in scored)}
        mase = {**mase, "partners": {m: scored[key][1]["combined"] for m, key in best.items()}}
    if use:
        model.info["combination"] = {"method": method, "weight": weight}
    return {"setting": config.combine, "method": method, "weight": weight if use else 0.0,
            "validation_mase": mase, "one_origin": one_origin,
            "few_windows": train_windows if few or unvalidated else None,
            "too_few_to_choose": too_few, "unvalidated": unvalidated}, validation


# the linear member's share of the transformed forecast where the networks are averaged with
# it (ForecastConfig.combine): the plain mean, as with the Theta method
LINEAR_WEIGHT = 0.5


def choose_linear(model, config, values, features, origins, paths, validation, season,
                  test_start):
    """Whether ``model`` (its linear member fitted) averages its networks with the linear
    member (``config.combine``): always for 'linear' and 'both', for 'auto' where that
    lowers the validation MASE on the rolling origins whose forecasts are ``paths`` (the
    networks'); without a validation part, 'auto' does not.

    Sets ``model.info['linear']`` where it does, else drops the member.  Returns the
    report's ``linear`` ({``setting``, ``weight``, ``validation_mase``: {``networks``,
    ``combined``} or None}) and the validation scores and paths of what the model now
    forecasts.
    """
    model.info["linear"] = {"weight": LINEAR_WEIGHT}
    use, mase, validation, mixed = _partner(
        config, config.combine in ("linear", "both"), validation,
        lambda: model._forecast_paths(values, features, origins, config.horizon), values,
        origins, season, test_start)
    if use and mixed is not None:
        paths = mixed
    if not use:
        model.info.pop("linear")
        model.linear = None
    return {"setting": config.combine, "weight": LINEAR_WEIGHT if use else 0.0,
            "validation_mase": mase}, validation, paths


def fallback_verdict(config, validation):
    """None where the networks beat seasonal naive on the validation part (or it is too short
    to tell), else both MASEs and whether ``config.fallback`` puts seasonal naive in their
    place."""
    if validation is None:
        return None
    model, baseline = validation["model"]["mase"], validation["seasonal_naive"]["mase"]
    # (within rounding: a model whose forecast is seasonal naive's own, its partner taken
    # whole, scores the same but for the log's round trip)
    if not (math.isfinite(model) and math.isfinite(baseline)) or \
            model <= baseline * (1 + 1e-9):
        return None
    return {"better": "seasonal_naive", "model_mase": model, "seasonal_naive_mase": baseline,
            "used": config.fallback}
