"""Runs: the directories they write (locked while in use), parallel execution (Dask),
many series at once, and sweeps.

==========  ===============================================================
run_dir     ``run_lock``, ``prepare_run_dir``, ``load_run``
parallel    tasks run serially or on Dask; results stored as they finish
panels      ``train_panel``: one forecaster per series of a panel
sweep       ``run_sweep``: every combination of a grid, ranked
sweep_specs ``SeriesSweep``, ``PanelSweep``, ``TextSweep``: what a sweep of
            each job trains, how it scores, which files are its best model
==========  ===============================================================
"""
from .._lazy import lazy_exports

__all__ = ["PanelSweep", "Run", "SeriesSweep", "TextSweep", "load_run", "prepare_run_dir",
           "run_lock", "run_sweep", "train_panel"]
__getattr__, __dir__ = lazy_exports(globals(), {
    "Run": "run_dir", "load_run": "run_dir", "prepare_run_dir": "run_dir",
    "run_lock": "run_dir", "train_panel": "panels", "run_sweep": "sweep",
    "SeriesSweep": "sweep_specs", "PanelSweep": "sweep_specs", "TextSweep": "sweep_specs",
})
