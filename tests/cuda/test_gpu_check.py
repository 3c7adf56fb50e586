"""The GPU check script runs at a tiny size (under the simulator in CI), so it cannot rot."""
import re

import pytest

from asv_benchmarks import gpu_check


def test_gpu_check_tiny(capsys):
    assert gpu_check.main(["--tiny"]) == 0
    out = capsys.readouterr().out
    assert "parity failures: 0" in out and "lstm" in out and "rnn" in out
    parity = [line.split() for line in out.splitlines() if line.rstrip().endswith(" ok")]
    assert {(row[-5], row[-3]) for row in parity} == {
        (cell, design) for cell in ("lstm", "rnn") for design in ("warp", "tiled")}
    assert "tiled J=3 (85 threads a pair), 1 blocks of 256, persistent" in out
    assert "train-text step (its defaults, one thread), ms: cpu" in out


@pytest.mark.slow  # (about 20 s under the simulator)
def test_gpu_check_breakdown_tiny(capsys):
    assert gpu_check.main(["--tiny", "--breakdown"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "|" in line][1:]
    assert [r.split("|")[0].split()[-1] for r in rows] == ["warp", "tiled"] * 2
    assert all(float(r.split("|")[1].split()[0]) > 0 for r in rows)


@pytest.mark.slow  # (about 40 s under the simulator)
def test_gpu_check_reports_a_failing_design_and_goes_on(capsys, monkeypatch):
    """GPU time is scarce: a design that fails to run is reported, the rest still measured."""
    from numbarnn.kernels import cuda_rnn

    class Broken:  # a kernel that fails at launch, as a compile error would
        def __getitem__(self, launch_config):
            raise RuntimeError("stand-in compile failure")

    broken = Broken()

    real = cuda_rnn._kernels.__wrapped__
    monkeypatch.setattr(cuda_rnn, "_kernels",
                        lambda dtype, geometry: {**real(dtype, geometry),
                                                 ("tiled", "forward"): (broken, broken)})
    # the text-training timing is the other test's; here it would only cost time
    monkeypatch.setattr(gpu_check, "time_text_training", lambda tiny, repeats: (1.0, 1.0, 0.1))
    with pytest.warns(RuntimeWarning, match="cooperative launch failed"):
        assert gpu_check.main(["--tiny"]) == 1
    out = capsys.readouterr().out
    assert "rnn  float64 tiled FAIL RuntimeError: stand-in compile failure" in out
    assert re.search(r"rnn\s+float64 warp\s+\S+ ok", out) and "parity failures: 2" in out
    assert "tiled failed: RuntimeError: stand-in compile failure" in out
    assert "train-text step" in out  # the run went on to the end
