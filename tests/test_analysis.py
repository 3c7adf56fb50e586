"""``numbarnn.analysis`` and ``numbarnn gradient-flow``: the vanishing gradient, measured."""
import csv

import numpy as np
import pytest
from click.testing import CliRunner

from numbarnn import analysis
from numbarnn_cli.main import cli


def test_the_rnn_gradient_falls_faster_than_the_gated_cells():
    """At torch's initialisation the RNN's gradient vanishes fastest: its fitted slope of
    ln |dL/dx_t| per step is the most negative (measured about -0.65 against -0.50 for
    the LSTM and -0.48 for the GRU at H = 32)."""
    rates = {c: analysis.decay_rate(analysis.gradient_norms(c, steps=60, batch=32))
             for c in ("rnn", "lstm", "gru")}
    assert rates["rnn"] < rates["lstm"] - 0.05 and rates["rnn"] < rates["gru"] - 0.05
    assert all(r < 0 for r in rates.values())  # at the default init every gradient vanishes


def test_a_forget_bias_of_one_slows_the_lstms_decay():
    plain = analysis.decay_rate(analysis.gradient_norms("lstm", steps=60, batch=32))
    biased = analysis.decay_rate(analysis.gradient_norms("lstm", steps=60, batch=32,
                                                         forget_bias=1.0))
    assert biased > plain + 0.1


def test_larger_weights_slow_the_rnns_decay():
    small = analysis.decay_rate(analysis.gradient_norms("rnn", steps=40, batch=16))
    large = analysis.decay_rate(analysis.gradient_norms("rnn", steps=40, batch=16,
                                                        init_scale=3.0))
    assert large > small + 0.3


def test_gradient_norms_shape_and_order():
    norms = analysis.gradient_norms("gru", steps=12, hidden_size=4, batch=3)
    assert norms.shape == (12,) and (norms > 0).all()
    assert norms[0] > norms[-1]  # entry 0 is the step of the loss itself


def test_decay_rate_of_an_exact_geometric_series():
    assert analysis.decay_rate(0.5 ** np.arange(40)) == pytest.approx(np.log(0.5))
    assert analysis.decay_rate(np.zeros(10)) == pytest.approx(0.0)  # clamped, not -inf


def test_adding_batch_targets_are_the_two_marked_values():
    x, y = analysis.adding_batch(np.random.default_rng(0), 30, 50)
    assert x.shape == (30, 50, 2) and y.shape == (50,)
    marks = x[:, :, 1]
    assert (marks.sum(axis=0) == 2).all()
    first = marks.argmax(axis=0)
    assert (first < 3).all()  # the first mark lies in the first tenth
    second = 29 - marks[::-1].argmax(axis=0)
    assert (second >= 15).all()
    np.testing.assert_allclose(y, (x[:, :, 0] * marks).sum(axis=0), rtol=1e-6)


def test_a_gated_cell_learns_a_short_adding_problem():
    assert analysis.train_adding("gru", 10, hidden_size=16, train_steps=300) >= 0.9


def test_result_table_csv_and_span(tmp_path):
    result = analysis.gradient_flow(["rnn", "gru"], steps=10, hidden_size=4, delays=[3, 5],
                                    train_steps=5)
    assert set(result.accuracy) == {"rnn", "gru"}
    result.accuracy["gru"] = {3: 0.95, 5: 0.5}
    assert result.span("gru") == 3
    text = result.table()
    assert "ln-slope/step" in text and "longest" in text and "d=5" in text
    result.write_csv(tmp_path / "n.csv", tmp_path / "a.csv")
    rows = list(csv.DictReader(open(tmp_path / "n.csv")))
    assert len(rows) == 20 and rows[0] == {"steps_back": "0", "cell": "rnn",
                                           "gradient_norm": rows[0]["gradient_norm"]}
    assert len(list(csv.DictReader(open(tmp_path / "a.csv")))) == 4


@pytest.mark.parametrize("kwargs,match", [
    (dict(cells=["lstm", "tree"]), "cells: got lstm,tree, expected some of lstm, rnn, gru"),
    (dict(cells=[]), "cells: got none"),
    (dict(steps=0), "steps: got 0"),
    (dict(init_scale=-1.0), "init_scale: got -1.0"),
    (dict(delays=[10, 0]), "delays: got 0"),
    (dict(threshold=1.5), "threshold: got 1.5"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        analysis.gradient_flow(**{"steps": 5, "delays": (), **kwargs})


def test_command_prints_the_table_and_writes_its_files(tmp_path):
    out = tmp_path / "flow"
    result = CliRunner().invoke(cli, ["gradient-flow", "--steps", "8", "--hidden", "4",
                                      "--delays", "3", "--train-steps", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "ln-slope/step" in result.output and "adding problem" in result.output
    assert (out / "gradient_norms.csv").exists() and (out / "adding.csv").exists()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "no plot" in result.output
    else:
        assert (out / "gradient_flow.png").stat().st_size > 1000


@pytest.mark.parametrize("args,match", [
    (["--cells", "lstm,cnn"], "cells: got lstm,cnn"),
    (["--delays", "10,x"], "expected integers"),
    (["--steps", "1"], "--steps"),
])
def test_command_bad_input_is_one_line_and_exit_2(tmp_path, args, match):
    result = CliRunner().invoke(cli, ["gradient-flow", "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 2
    assert match in result.output
    assert "Traceback" not in result.output
