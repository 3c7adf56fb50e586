"""Every benchmark runs once at a tiny size, so that the suites cannot rot."""
import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from asv_benchmarks import bench_compile, bench_kernels, compare_torch
from asv_benchmarks.common import BIDIRECTIONAL, CELLS, DTYPES, flops

TINY = (2, 3, 3, 4)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_suite_runs(cell, dtype):
    suite = bench_kernels.RecurrentKernels()
    suite.setup(cell, dtype, TINY)
    methods = [m for name, m in inspect.getmembers(suite, inspect.ismethod)
               if name.startswith(("time_", "peakmem_"))]
    assert len(methods) == 4
    for method in methods:
        method(cell, dtype, TINY)


@pytest.mark.parametrize("cell", CELLS + BIDIRECTIONAL)
@pytest.mark.parametrize("batch", ["full", "lengths"])
def test_directions_and_lengths_suite_runs(cell, batch):
    suite = bench_kernels.DirectionsAndLengths()
    suite.setup(cell, batch, TINY)
    suite.time_forward_backward(cell, batch, TINY)
    suite.peakmem_forward_backward(cell, batch, TINY)
    assert (suite.lengths is None) == (batch == "full")


def test_tile_product_suite_runs():
    suite = bench_kernels.TileProduct()
    suite.repeats = 2
    suite.setup((3, 5, 17))
    np.testing.assert_allclose(suite.out, suite.a @ suite.weight.T, rtol=1e-5, atol=1e-5)
    assert suite.track_gflops((3, 5, 17)) > 0


def test_flop_count():
    # LSTM forward: 2 * T * B * 4H * (D + H); forward + backward is three times that
    assert flops("lstm", (1, 1, 1, 1), backward=False) == 2 * 4 * 2
    assert flops("rnn", (2, 3, 4, 5)) == 3 * 2 * 3 * 2 * 5 * 9
    assert flops("gru-bi", (1, 1, 1, 1), backward=False) == 2 * (2 * 3 * 2)


def test_compile_suite_runs():
    assert 0 < bench_compile.Compile().track_warm_first_calls() < 60


def test_torch_ratio_suite_runs(monkeypatch):
    pytest.importorskip("torch")
    from asv_benchmarks import bench_torch_ratio

    suite = bench_torch_ratio.TorchRatio()
    monkeypatch.setattr(suite, "seconds", 0.01)
    for cell in CELLS + BIDIRECTIONAL:
        for mode in bench_torch_ratio.MODES:
            suite.setup(cell, mode, TINY)
            assert 0 < suite.track_ratio(cell, mode, TINY) < 1000


def test_torch_comparison_quick(capsys):
    pytest.importorskip("torch")
    # (the cold-compile measurement is test_compile_suite_runs' to run)
    assert compare_torch.main(["--quick", "--no-compile"]) == 0
    out = capsys.readouterr().out
    assert "lstm" in out and "rnn" in out and "peak memory" in out
    assert "gru-bi" in out and "torch packed" in out
    assert "peak (the tile product on every core)" in out


def test_step_breakdown_quick(capsys):
    from asv_benchmarks import step_breakdown

    assert step_breakdown.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "dx, dW, db" in out and "(4, 6, 5, 8)" in out


def test_tile_peak_is_a_rate():
    assert compare_torch.tile_peak("float32", seconds=0.001) > 0


def test_text_comparison_quick(capsys):
    pytest.importorskip("torch")
    from asv_benchmarks import compare_text

    assert compare_text.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "training step (median)" in out and "sampling at batch 1" in out
    assert "best validation loss within" in out


def test_text_suite_runs(monkeypatch):
    from asv_benchmarks import bench_text

    monkeypatch.setattr(bench_text.TextGenerator, "sizes",
                        {"hidden_size": 8, "batch_size": 2, "seq_len": 4})
    monkeypatch.setattr(bench_text.TextGenerator, "text_chars", 2000)
    monkeypatch.setattr(bench_text.TextGenerator, "sample_chars", 10)
    suite = bench_text.TextGenerator()
    for layers in (1, 2):
        suite.setup(layers, "lstm")
        suite.time_train_step(layers, "lstm")
        suite.time_generate(layers, "lstm")
        suite.peakmem_train_step(layers, "lstm")
    assert len(bench_text.synthetic_text(500)) == 500


def test_series_suite_runs(monkeypatch):
    from asv_benchmarks import bench_series

    monkeypatch.setattr(bench_series.SeriesTraining, "options", {"epochs": 2, "members": 1})
    suite = bench_series.SeriesTraining()
    suite.setup()
    suite.time_train_airline()
    assert 0 < suite.track_airline_mape() < 100


def test_long_series_suite_runs(monkeypatch):
    from asv_benchmarks import bench_series

    monkeypatch.setattr(bench_series.LongSeries, "options",
                        {"epochs": 1, "members": 1, "hidden_size": 4, "epoch_windows": 32})
    suite = bench_series.LongSeries()
    suite.setup()
    suite.time_train_half_hourly()
    assert 0 < suite.track_half_hourly_mase() < 10


def test_forecast_suite_quick(capsys):
    from asv_benchmarks.forecast_suite import evaluate

    results, summary = evaluate.main(["--quick", "--stats-models", "", "--panel", "1"])
    assert set(results) == {"austres", "nile", "panel-store_0"}
    for name in results:
        scores = results[name]["scores"]
        # the synthetic series also scores its noise-free curve as a forecast
        assert set(scores) - {"noise_free"} == {"numbarnn", "naive", "seasonal_naive"}
        assert ("noise_free" in scores) == name.startswith("panel-")
        assert scores["numbarnn"]["points"] == results[name]["horizon"]
    assert 0 < results["panel-store_0"]["scores"]["noise_free"]["mase"] < \
        results["panel-store_0"]["scores"]["naive"]["mase"]
    assert 0 <= summary["coverage"]["numbarnn"][95] <= 100
    assert set(summary["parts"]) == {"real", "panel"}
    assert summary["parts"]["panel"]["mase_ratio"]["seasonal_naive"] == pytest.approx(
        results["panel-store_0"]["scores"]["numbarnn"]["mase"]
        / results["panel-store_0"]["scores"]["seasonal_naive"]["mase"])
    out = capsys.readouterr().out
    assert "gmean MASE" in out and "noise-free curve / method" in out


def test_panel_redraw_quick(capsys):
    from asv_benchmarks.forecast_suite import redraw

    scores = redraw.main(["store_0", "--draws", "2", "--panel", "1", "--quick"])
    assert scores.shape == (2, 2) and np.all(np.isfinite(scores)) and np.all(scores > 0)
    assert scores[0, 1] != scores[1, 1]  # (each draw its own noise)
    assert "more than 5 % behind it in" in capsys.readouterr().out


def test_forecast_suite_horizon_and_cuts_too_short(capsys):
    from asv_benchmarks.forecast_suite import evaluate

    with pytest.raises(SystemExit) as stop:
        evaluate.main(["--quick", "--stats-models", "", "--series", "nile", "--last", "20",
                       "--horizon", "10"])
    assert stop.value.code == 1
    assert "nile-20: cannot train" in capsys.readouterr().out
    # --horizon: every series' horizon and test
    results, _ = evaluate.main(["--quick", "--stats-models", "", "--series", "nile",
                                "--horizon", "5"])
    assert results["nile"]["horizon"] == 5 and results["nile"]["scores"]["numbarnn"]["points"] == 5


def test_forecast_holdout_quick():
    from asv_benchmarks.forecast_suite import evaluate

    results, _ = evaluate.main(["--quick", "--holdout", "--stats-models", "", "--series",
                                "rate", "elec_equip"])
    assert set(results) == {"rate", "elec_equip"}
    assert (results["rate"]["season"], results["elec_equip"]["season"]) == (4, 12)
    assert results["rate"]["length"] == 107 and results["elec_equip"]["length"] == 257


def test_forecast_suite_of_another_folder(tmp_path):
    from asv_benchmarks.forecast_suite import evaluate

    # the committed "more" series, and any folder laid out the same way
    results, _ = evaluate.main(["--quick", "--stats-models", "", "--suite-dir",
                                str(evaluate.HERE / "more"), "--series", "dp"])
    assert list(results) == ["dp"] and results["dp"]["length"] == 107
    (tmp_path / "suite.json").write_text('{"wave": {"season": 1, "horizon": 4}}')
    (tmp_path / "wave.csv").write_text("value\n" + "\n".join(
        f"{10 + np.sin(k / 3):.4f}" for k in range(60)) + "\n")
    results, _ = evaluate.main(["--quick", "--stats-models", "", "--suite-dir", str(tmp_path)])
    assert list(results) == ["wave"] and results["wave"]["horizon"] == 4
    with pytest.raises(SystemExit, match="has no suite.json"):
        evaluate.main(["--quick", "--suite-dir", str(tmp_path / "nowhere")])
    with pytest.raises(SystemExit):  # (one suite or the other)
        evaluate.main(["--quick", "--holdout", "--suite-dir", str(tmp_path)])


def test_stress_series_are_written_as_the_suite_reads_them(tmp_path):
    from asv_benchmarks.forecast_suite import evaluate, stress
    from numbarnn.forecast.series import read_csv

    suite = stress.write(tmp_path)
    assert set(suite) == set(stress.SERIES) and (tmp_path / "suite.json").is_file()
    frequencies = {"hourly_fixed": "hourly", "daily_fixed": "daily",
                   "intermittent_weekly": "weekly", "monthly_fixed": "monthly",
                   "quarterly_fixed": "quarterly"}
    for name, frequency in frequencies.items():
        series = read_csv(tmp_path / f"{name}.csv")
        assert len(series) == suite[name]["length"] and series.frequency == frequency
    # the same files on every machine (a seed each), and the suite runs on them
    again = tmp_path / "again"
    stress.write(again)
    assert (again / "damped_trend.csv").read_text() == \
        (tmp_path / "damped_trend.csv").read_text()
    results, _ = evaluate.main(["--quick", "--stats-models", "", "--suite-dir", str(tmp_path),
                                "--series", "intermittent_monthly", "shift_near_end"])
    assert set(results) == {"intermittent_monthly", "shift_near_end"}


def test_many_series_suite_runs(monkeypatch):
    from asv_benchmarks import bench_series

    monkeypatch.setattr(bench_series.ManySeries, "options",
                        {"epochs": 2, "members": 1, "hidden_size": 4})
    monkeypatch.setattr(bench_series.ManySeries, "n_series", 4)
    suite = bench_series.ManySeries()
    suite.setup()
    try:
        suite.time_panel_serial()
        assert 0 <= suite.track_panel_beats_seasonal_naive() <= 100
        suite.time_sweep_serial()
    finally:
        suite.teardown()


def test_cuda_host_cost_runs_where_numba_cuda_is_installed():
    """The no-GPU host-cost script (it replaces numba-cuda's driver calls, so it runs in a
    process of its own); skipped without numba-cuda, as in CI."""
    pytest.importorskip("numba_cuda")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    script = Path(__file__).parents[1] / "asv_benchmarks" / "cuda_host_cost.py"
    result = subprocess.run([sys.executable, str(script), "--tiny", "--repeats", "1"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(("lstm", "rnn"))]
    assert [r[0] for r in rows] == ["lstm", "rnn"]
    assert all(int(r[-4]) >= 3 and int(r[-2]) > int(r[-4]) for r in rows)  # launches counted


def test_gpu_check_settings_are_restored_after_a_failure(monkeypatch):
    """gpu_check times each kernel setting in turn: a failure must not leave it set for the rest."""
    from asv_benchmarks import gpu_check
    from numbarnn.kernels import _cuda_gemm, _cuda_loop

    monkeypatch.delenv("NUMBARNN_CUDA_GEMM", raising=False)
    monkeypatch.setenv("NUMBARNN_CUDA_LOOP", "warp")
    with pytest.raises(ValueError, match="NUMBARNN_CUDA_GEMM: got 'bogus'"):
        with gpu_check.kernel_setting("NUMBARNN_CUDA_GEMM", "bogus"), \
                gpu_check.loop_design("tiled"):
            assert _cuda_loop.loop_design() == "tiled"
            _cuda_gemm.gemm_backend()  # reads the new setting, not a cached one
    assert "NUMBARNN_CUDA_GEMM" not in os.environ and os.environ["NUMBARNN_CUDA_LOOP"] == "warp"
    assert _cuda_gemm.gemm_backend() in ("numba", "cupy")
