"""A model too large for the machine is refused before anything is allocated."""
import pytest
from click.testing import CliRunner

import numbarnn
from numbarnn import TextConfig, _checks
from numbarnn.text.training import training_bytes
from numbarnn_cli.main import cli


@pytest.mark.parametrize("cls", [numbarnn.LSTM, numbarnn.GRU, numbarnn.RNN])
def test_a_layer_that_cannot_fit_is_refused(cls, monkeypatch):
    monkeypatch.setattr(_checks, "available_memory", lambda: 2 ** 30)
    with pytest.raises(ValueError, match=r"needs about [\d.]+ GiB of memory, and this machine "
                                         r"has 1\.0 GiB available"):
        cls(8, 40000)
    cls(8, 64)  # small layers are not affected


def test_the_text_job_counts_training_memory():
    small = training_bytes(TextConfig(hidden_size=64), 80)
    large = training_bytes(TextConfig(hidden_size=128), 80)
    assert 1.5 * small < large < 4 * small  # the weights grow as H^2, activations as H
    assert training_bytes(TextConfig(hidden_size=64, dtype="float64"), 80) == 2 * small


@pytest.mark.parametrize("command", [["train-text", "--hidden", "100000"],
                                     ["train-series", "--hidden", "100000"]])
def test_a_huge_hidden_size_is_one_line_and_writes_nothing(tmp_path, command):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, [*command, "--out", str(out), "-q"])
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert "GiB of memory, and this machine has" in result.output
    assert not any(p.name.endswith(".safetensors") for p in out.rglob("*"))
