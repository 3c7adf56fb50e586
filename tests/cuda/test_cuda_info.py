"""``numbarnn info`` on a machine where CUDA kernels can run (here: the simulator)."""
from click.testing import CliRunner

from numbarnn_cli.main import cli


def test_info_names_the_kernel_settings(monkeypatch):
    monkeypatch.setenv("NUMBARNN_CUDA_LOOP", "tiled")
    result = CliRunner().invoke(cli, ["info"])
    assert result.exit_code == 0
    assert "cuda           yes: " in result.output
    assert "cuda kernels   time loop tiled (NUMBARNN_CUDA_LOOP), GEMM " in result.output


def test_info_reports_a_bad_setting_without_failing(monkeypatch):
    monkeypatch.setenv("NUMBARNN_CUDA_LOOP", "fast")
    result = CliRunner().invoke(cli, ["info"])
    assert result.exit_code == 0
    assert "NUMBARNN_CUDA_LOOP: got 'fast', expected one of ('auto', 'warp', 'tiled')" in result.output
