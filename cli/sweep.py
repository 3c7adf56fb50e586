"""``numbarnn sweep``: a training command over every combination of a grid.

The training command's own options are parsed by that command (same types, same
checks, same defaults); ``--grid`` values by the option they name.  The work is
``numbarnn.sweep.run_sweep``'s.  Only Click is imported at start-up, so that
``numbarnn --help`` stays fast.
"""
import math
import os
import sys
from dataclasses import asdict, fields

import click

from .common import hold_run_dir, user_errors
from .series import _config_settings, _read, _read_panel, gpu_workers, train_series
from .text import _RUN_OPTIONS, DEFAULT_STEPS, _load_corpus, train_text

# what a grid may vary: not what is scored (horizon, test, validation, season) nor the data
SWEEPABLE = {
    "train-series": ("window", "strategy", "cell", "hidden", "layers", "dropout", "log", "diff",
                     "seasonal-diff", "scale", "epochs", "batch-size", "patience", "lr", "clip",
                     "loss", "dtype", "members", "seed"),
    "train-text": ("cell", "hidden", "layers", "dropout", "embedding", "batch-size", "seq-len",
                   "optimizer", "lr", "weight-decay", "clip", "clip-mode", "lr-schedule",
                   "lr-step", "lr-gamma", "seed", "dtype", "steps", "epochs"),
}
COMMANDS = {"train-series": train_series, "train-text": train_text}
SERIES_METRICS = ("mase", "smape", "mae", "rmse")


@click.command("sweep", context_settings={"ignore_unknown_options": True})
@click.argument("command", metavar="COMMAND", type=click.Choice(list(COMMANDS)))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--grid", "grids", multiple=True, metavar="NAME=V1,V2,...",
              help="An option of COMMAND and the values to try (repeat for more options).")
@click.option("--metric", type=click.Choice(SERIES_METRICS),
              help="train-series: the validation score that ranks combinations "
              "[default: mase]; train-text ranks by validation loss.")
@click.option("--out", "out_dir", default=os.path.join("runs", "sweep"), show_default=True,
              type=click.Path(file_okay=False), help="Sweep directory.")
@click.option("--workers", type=click.IntRange(0), help="Processes of the local Dask cluster "
              "[default: one per core; 0: serially in this process].")
@click.option("--scheduler", metavar="ADDRESS", help="Run on this Dask scheduler "
              "(tcp://host:8786) instead of a local cluster.")
@click.option("--resume", is_flag=True, help="Continue the sweep in --out: combinations "
              "already trained there are kept (the grid may have grown).")
@click.option("--force", is_flag=True, help="Start over in an --out that holds a run.")
@click.option("--quiet", "-q", is_flag=True, help="No progress, only the ranking.")
def sweep(command, args, grids, metric, out_dir, workers, scheduler, resume, force, quiet):
    """Run COMMAND (train-series or train-text) for every combination of the --grid values.

    ARGS are COMMAND's own arguments and options (numbarnn COMMAND --help), shared by
    every combination; the sweep's options below may come anywhere.  The combinations
    are ranked by a validation score (the test takes no part): OUT/sweep.csv lists
    them best first, OUT/sweep.json holds everything, OUT/trials/ every
    combination's model, and the best model is copied to the top of OUT, so that
    `numbarnn forecast OUT` or `numbarnn generate OUT` use it.

    \b
    numbarnn sweep train-series sales.csv --grid hidden=16,32,64 --grid window=12,24
    numbarnn sweep train-text notes.txt --steps 500 --grid lr=1e-3,3e-3 --grid layers=1,2
    """
    from numbarnn.checkpoints import prepare_run_dir
    from numbarnn.devices import get_device
    from numbarnn.parallel import WorkerLost
    from numbarnn.progress import Progress
    from numbarnn.sweep import expand_grid, run_sweep

    target = COMMANDS[command]
    # COMMAND's own parser reads ARGS: its types, checks and defaults, its usage line
    context = target.make_context(f"{click.get_current_context().command_path} {command}",
                                  list(args))
    with user_errors():
        device = context.params.get("device") or "cpu"
        if device != "cpu":
            get_device(device)  # no GPU: one line now, not one per task
        grid = parse_grid(target, context, grids, SWEEPABLE[command])
        combinations = expand_grid(grid)
        if metric and command != "train-series":
            raise ValueError(f"--metric: {command} sweeps rank by validation loss")
        build = _series_sweep if command == "train-series" else _text_sweep
        plan = build(context, grid, combinations, metric or "mase")
        hold_run_dir(out_dir)
        prepare_run_dir(out_dir, resume=resume, force=force, kind="sweep")
    progress = Progress(enabled=not quiet)
    progress.log(f"{'resuming' if resume else 'running'} {len(combinations)} combinations of "
                 f"{command}: " + ", ".join(f"{k} in {{{', '.join(map(str, v))}}}"
                                             for k, v in grid.items()))

    def report(done, total, combination, result, best):
        status = f"failed: {result['error']}" if result.get("error") else \
            f"{plan['score_name']} {_format(plan['score']([result]))}"
        best_text = "n/a" if best is None else \
            f"{_format(best[0])} ({_params(best[1])})"
        progress.update(done / total, f"{done}/{total}  best {best_text}  "
                        f"{_params(combination)}: {status}")

    with user_errors():
        try:
            summary = run_sweep(plan["function"], plan["tasks"], grid, out_dir,
                                plan["score_name"], plan["score"], plan["columns"],
                                plan["best_files"], plan["settings"], resume=resume,
                                workers=gpu_workers(workers, scheduler, device),
                                scheduler=scheduler, on_result=report, warm_up=plan["warm_up"])
        except WorkerLost as e:
            raise click.ClickException(str(e)) from None
        finally:
            progress.close()
    if summary["execution"]["note"]:
        click.echo(summary["execution"]["note"], err=True)
    if summary["status"] == "interrupted":
        click.echo(f"interrupted: {summary['finished']} of {summary['combinations']} "
                   f"combinations trained and saved in {out_dir}; run the same command with "
                   "--resume to train the rest", err=True)
        sys.exit(130)
    for line in ranking_lines(summary, list(grid)):
        click.echo(line)
    if summary["best"] is None:
        raise click.ClickException("no combination could be trained; see the errors above")
    click.echo(f"best: {_params(summary['best']['params'])}; its model is in {out_dir} "
               f"({plan['use'].format(out_dir=out_dir)})")


def parse_grid(command, context, specs, sweepable):
    """``NAME=V1,V2`` specs as ``{option name: [values]}``, each value converted and
    checked by the option's own type.

    Raises
    ------
    ValueError
        For a malformed spec, an unknown or unsweepable option, an option given twice
        (in two specs, or also as a fixed option), an empty list or a bad value.
    """
    if not specs:
        raise ValueError("give at least one --grid NAME=V1,V2,...")
    options = {opt[2:]: param for param in command.params if isinstance(param, click.Option)
               for opt in param.opts if opt.startswith("--")}
    grid = {}
    for spec in specs:
        name, equals, text = spec.partition("=")
        name = name.strip().lstrip("-").replace("_", "-")
        if not equals or not name:
            raise ValueError(f"--grid {spec!r}: expected NAME=V1,V2,... (for example "
                             "hidden=16,32)")
        if name not in options:
            raise ValueError(f"--grid {name}: {command.name} has no option --{name}; a grid "
                             f"can vary {', '.join(sweepable)}")
        if name not in sweepable:
            raise ValueError(f"--grid {name}: not for a sweep (it changes what is scored, or "
                             f"the data); a grid can vary {', '.join(sweepable)}")
        param = options[name]
        if param.name in grid:
            raise ValueError(f"--grid {name}: given twice; list every value in one --grid")
        if context.get_parameter_source(param.name) is click.core.ParameterSource.COMMANDLINE:
            raise ValueError(f"--grid {name}: also given as --{name}; keep one")
        raw = [value.strip() for value in text.split(",")]
        if not any(raw):
            raise ValueError(f"--grid {name}: no values (expected {name}=V1,V2,...)")
        if not all(raw):
            raise ValueError(f"--grid {spec!r}: an empty value")
        values = []
        for value in raw:
            try:
                values.append(param.type.convert(value, param, context))
            except click.BadParameter as e:
                raise ValueError(f"--grid {name}: {e.message}") from None
        grid[param.name] = values
    return grid


def _series_sweep(context, grid, combinations, metric):
    """The tasks and scoring of a train-series sweep: one series, or with --id-column every
    series of a long-format file per combination."""
    from numbarnn.forecasting import ForecastConfig
    from numbarnn.panel import series_task, train_series_task, warm_up_task
    from numbarnn.series import load_airline, synthetic as make_synthetic

    p = context.params
    if p["backtest"]:
        raise ValueError("sweep train-series: not with --backtest (combinations are ranked on "
                         "the validation steps)")
    if p["csv_path"] and p["synthetic"]:
        raise ValueError("CSV and --synthetic: give one or the other")
    config_keys = {"hidden", "layers"} | {f.name for f in fields(ForecastConfig)}
    shared = {k: v for k, v in p.items() if k in config_keys}
    configs = [ForecastConfig(**_config_settings({**shared, **c})) for c in combinations]
    horizon, val_size = configs[0].horizon, configs[0].val_size
    if val_size is not None and val_size < horizon:
        raise ValueError(f"sweep train-series ranks on the validation steps: --val-size "
                         f"{val_size} holds no whole horizon ({horizon}); give at least that")
    if p["id_column"] is not None:
        plan = _panel_sweep(context, configs, metric)
    else:
        if p["csv_path"]:
            series = _read(p["csv_path"], p["column"], p["date_column"], p["no_dates"],
                           p["features"], p["fill"])
        elif p["synthetic"]:
            series = make_synthetic(p["synthetic"], p["length"], seed=p["seed"])
        else:
            series = load_airline()
        plan = _one_series_sweep(series, configs, metric)
        plan["tasks"] = [[(None, series_task(series.name, series, config, p["device"]))]
                         for config in configs]
    plan.update(function=train_series_task, score_name=f"val_{metric}",
                warm_up=(warm_up_task, asdict(configs[0])),
                settings={"command": "train-series",  # the device may change on resume
                          **{k: v for k, v in p.items() if k not in grid and k != "device"},
                          "data": _digest([(task["values"], task["dates"])
                                           for _, task in plan["tasks"][0]])})
    return plan


def _one_series_sweep(series, configs, metric):
    def score(results):
        validation = results[0]["validation"]
        return None if validation is None else validation["model"][metric]

    def columns(results):
        result = results[0]
        test, val = result["metrics"], result["validation"]
        return {f"val_{metric}_seasonal_naive":
                None if val is None else val["seasonal_naive"][metric],
                f"test_{metric}": None if test is None else test["model"][metric],
                f"test_{metric}_seasonal_naive":
                None if test is None else test["seasonal_naive"][metric],
                "epochs": result["epochs"], "seconds": result["seconds"]}

    def best_files(index, results):
        result = results[0]
        return {"model.safetensors": result["checkpoint"],
                "metrics.json": {key: result[key] for key in ("metrics", "validation",
                                                              "season", "epochs", "seconds")}}

    return {"score": score, "columns": columns, "best_files": best_files,
            "use": "numbarnn forecast {out_dir}"}


def _panel_sweep(context, configs, metric):
    """Every series of a long-format file per combination: ranked by the mean validation
    score over the series, the best combination written as a many-series run."""
    import numpy as np

    from numbarnn.panel import (SERIES_DIR, panel_rows, panel_run_files, safe_name,
                                series_task, summarize)

    p = context.params
    if metric not in ("mase", "smape"):
        raise ValueError(f"--metric {metric}: with --id-column the series' scores are averaged, "
                         "which needs a scale-free metric: mase or smape")
    panel = _read_panel(p["csv_path"], p["id_column"], p["column"], p["date_column"],
                        p["no_dates"], p["fill"], p["features"], p["synthetic"])
    tasks = [[(safe_name(series_id), series_task(series_id, series, config, p["device"]))
              for series_id, series in panel.series.items()] for config in configs]

    def validation_scores(results):
        return [r["validation"]["model"][metric] for r in results
                if r["validation"] is not None and r["validation"]["model"][metric] is not None]

    def score(results):
        values = validation_scores(results)
        return float(np.mean(values)) if values else None

    def columns(results):
        summary = summarize(results)
        return {"series_trained": summary["trained"], "series_failed": len(summary["failed"]),
                f"test_mean_{metric}": summary[metric]["model"]["mean"],
                f"test_mean_{metric}_seasonal_naive": summary[metric]["seasonal_naive"]["mean"],
                "beat_seasonal_naive": summary["beat_seasonal_naive"]}

    def best_files(index, results):
        rows = panel_rows(panel, results)
        files = panel_run_files(panel, configs[index], rows, "finished", summarize(rows))
        files.update({f"{SERIES_DIR}/{safe_name(r['id'])}.safetensors": r["checkpoint"]
                      for r in results if r["checkpoint"] is not None})
        return files

    return {"tasks": tasks, "score": score, "columns": columns, "best_files": best_files,
            "use": "numbarnn forecast {out_dir}"}


def _text_sweep(context, grid, combinations, metric):
    """The tasks and scoring of a train-text sweep: one thread per combination."""
    from numbarnn.training import train_text_task, warm_up_text_task

    p = context.params
    text, corpus_name = _load_corpus(p["corpus"], p["encoding"], lambda *a, **k: None)
    if p["val_frac"] == 0:
        raise ValueError("sweep train-text ranks by validation loss: --val-frac 0 holds none "
                         "out")
    shared = {_RUN_OPTIONS[k]: v for k, v in p.items() if k in _RUN_OPTIONS}
    stops = {k: p[k] for k in ("steps", "epochs", "time_budget")}
    tasks = []
    for combination in combinations:
        config = {**shared, **{_RUN_OPTIONS[k]: v for k, v in combination.items()
                               if k in _RUN_OPTIONS}, "workers": 1}
        if p["device"] not in (None, "cpu"):  # only then: a CPU task stays as it was
            config["device"] = p["device"]
        stop = {**stops, **{k: v for k, v in combination.items() if k in stops}}
        if all(v is None for v in stop.values()):
            stop["steps"] = DEFAULT_STEPS
        tasks.append([(None, {"text": text, "corpus_name": corpus_name, "config": config,
                               **stop})])

    def score(results):
        return results[0]["best_val_loss"]

    def columns(results):
        summary = results[0]["summary"] or {}
        return {"best_step": summary.get("best_step"), "steps": summary.get("steps"),
                "final_val_loss": summary.get("final_val_loss"),
                "chars_per_second": summary.get("chars_per_second"),
                "seconds": results[0]["seconds"]}

    def best_files(index, results):
        return {"best.safetensors": results[0]["checkpoint"],
                "metrics.json": results[0]["summary"]}

    shared_settings = {k: v for k, v in p.items() if k not in grid
                       and k not in ("workers", "device")}
    return {"function": train_text_task, "tasks": tasks, "score_name": "val_loss",
            "score": score, "columns": columns, "best_files": best_files,
            "settings": {"command": "train-text", **shared_settings,
                         "data": _digest(text)},
            "warm_up": (warm_up_text_task, tasks[0][0][1]["config"]),
            "use": "numbarnn generate {out_dir}"}


def _digest(*data):
    from numbarnn.parallel import task_digest

    return task_digest(list(data))


def _format(value):
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4g}"


def _params(combination):
    return " ".join(f"{k.replace('_', '-')}={v}" for k, v in combination.items())


def ranking_lines(summary, parameters, top=10):
    """The best combinations as an aligned table, and the failed ones."""
    ranked = [e for e in summary["ranking"] if e["rank"] is not None]
    failed = [e for e in summary["ranking"] if e["rank"] is None]
    execution = summary["execution"]
    reused = execution["reused"]
    lines = [f"{len(ranked)} of {summary['combinations']} combinations trained in "
             f"{summary['seconds']:.1f} s"
             + (f" ({reused} stored by the earlier run)" if reused else "")
             + f"; ranked by {summary['score']} (validation), best first:"]
    rows = [("rank", *(p.replace("_", "-") for p in parameters), summary["score"])]
    rows += [(str(e["rank"]), *(str(e["params"][p]) for p in parameters), _format(e["score"]))
             for e in ranked[:top]]
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    lines += ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
    if len(ranked) > top:
        lines.append(f"... {len(ranked) - top} more in sweep.csv")
    if failed:
        lines.append(f"{len(failed)} combination{'s' if len(failed) > 1 else ''} failed:")
        lines += [f"  {_params(e['params'])}: {e['error']}" for e in failed]
    return lines


__all__ = ["parse_grid", "ranking_lines", "sweep"]
