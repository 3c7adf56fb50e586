"""The GPU check script runs at a tiny size (under the simulator in CI), so it cannot rot."""
from asv_benchmarks import gpu_check


def test_gpu_check_tiny(capsys):
    assert gpu_check.main(["--tiny"]) == 0
    out = capsys.readouterr().out
    assert "parity failures: 0" in out and "lstm" in out and "rnn" in out
    parity = [line.split() for line in out.splitlines() if line.rstrip().endswith(" ok")]
    assert {(row[-5], row[-3]) for row in parity} == {
        (cell, design) for cell in ("lstm", "rnn") for design in ("warp", "tiled")}
    assert "tiled J=3, 1 blocks of 256, persistent" in out
    assert "train-text step (its defaults, one thread), ms: cpu" in out


def test_gpu_check_breakdown_tiny(capsys):
    assert gpu_check.main(["--tiny", "--breakdown"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "|" in line][1:]
    assert [r.split("|")[0].split()[-1] for r in rows] == ["warp", "tiled"] * 2
    assert all(float(r.split("|")[1].split()[0]) > 0 for r in rows)
