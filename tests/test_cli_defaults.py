"""No default is written twice: every option of every training command takes its default
(and its choices) from the job's configuration dataclass."""
from dataclasses import fields

import click
import pytest

from numbarnn import CELLS, TextConfig, optim
from numbarnn.text.config import OPTIMIZERS, SCHEDULES
from numbarnn.forecast.config import LOSSES, SCALERS, STRATEGIES, ForecastConfig
from numbarnn_cli.main import cli

# option name -> config field, where the two differ
RENAMED = {"hidden": "hidden_size", "layers": "num_layers", "embedding": "embedding_dim"}
# options whose None means the config's 'auto'
AUTO = {"log", "diff", "seasonal_diff", "nonnegative"}


def option_defaults(command, config):
    """(option, CLI default, config default) for every option that names a config field."""
    names = {f.name for f in fields(config)}
    rows = []
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        field = RENAMED.get(param.name, param.name)
        if field in names:
            default = param.default
            if default is getattr(click.core, "UNSET", None):  # (click >= 8.2: no default)
                default = None
            if field in AUTO and default is None:
                default = "auto"
            elif param.callback is not None:  # a default spelled as typed ("80,95")
                default = param.callback(None, param, default)
            rows.append((param.name, default, getattr(config, field)))
    return rows


@pytest.mark.parametrize("command,config,covered", [
    ("train-text", TextConfig(), {"forget_bias", "device"}),
    ("train-series", ForecastConfig(), set()),
])
def test_every_cli_default_is_the_librarys(command, config, covered):
    rows = option_defaults(cli.commands[command], config)
    mismatched = [(name, cli_value, lib) for name, cli_value, lib in rows
                  if name != "device" and cli_value != lib]
    assert not mismatched, mismatched
    # every field has an option (or is known not to: set by the library or by --resume)
    named = {RENAMED.get(name, name) for name, _, _ in rows}
    assert {f.name for f in fields(config)} - named <= covered


def test_choices_come_from_the_library():
    text, series = cli.commands["train-text"], cli.commands["train-series"]
    choices = {(c.name, p.name): tuple(p.type.choices) for c in (text, series) for p in c.params
               if isinstance(p.type, click.Choice)}
    assert choices[("train-text", "cell")] == choices[("train-series", "cell")] == CELLS
    assert choices[("train-text", "optimizer")] == OPTIMIZERS == tuple(optim.OPTIMIZERS)
    assert choices[("train-text", "lr_schedule")] == SCHEDULES
    assert choices[("train-series", "strategy")] == STRATEGIES
    assert choices[("train-series", "scale")] == SCALERS
    assert choices[("train-series", "loss")] == LOSSES


@pytest.mark.parametrize("changes,match", [
    ({"hidden_size": 0}, "hidden_size: got 0, expected a positive integer"),
    ({"hidden_size": True}, "hidden_size: got True"),
    ({"cell": "tree"}, "cell: got 'tree', expected one of lstm, rnn, gru"),
    ({"dropout": 1.0}, r"dropout: got 1.0, expected a probability in \[0, 1\)"),
    ({"lr": 0}, "lr: got 0, expected a positive number"),
    ({"lr": float("nan")}, "lr: got nan"),
    ({"embedding_dim": -1}, "embedding_dim: got -1, expected 0"),
    ({"optimizer": "lion"}, "optimizer: got 'lion'"),
    ({"workers": 3, "batch_size": 2}, "workers: got 3, more than the batch size 2"),
    ({"device": "cuda"}, "workers: got 2; on device 'cuda'"),
    ({"size": 3}, r"unknown option\(s\) \['size'\]"),
])
def test_text_config_checks_itself(changes, match):
    with pytest.raises(ValueError, match=match):
        TextConfig.from_dict(changes)


def test_text_config_round_trip_and_trainer():
    from numbarnn.text.training import DEFAULTS, TextTrainer

    config = TextConfig(hidden_size=8, batch_size=2, seq_len=4, workers=1)
    assert TextConfig.from_dict(config.to_dict()) == config
    assert config.replace(lr=0.01).lr == 0.01 and config.lr == TextConfig().lr
    assert DEFAULTS == TextConfig().to_dict()
    text = "abcdefgh " * 40
    a = TextTrainer(text, config=config)
    b = TextTrainer(text, hidden_size=8, batch_size=2, seq_len=4, workers=1)
    assert a.config == b.config and a.settings == config
    with pytest.raises(ValueError, match="config: got dict, expected a TextConfig"):
        TextTrainer(text, config={"hidden_size": 8})


@pytest.mark.parametrize("command, function", [("gradient-flow", "analysis.gradient_flow"),
                                               ("demo", "demo.train_echo")])
def test_the_other_commands_defaults_are_their_functions(command, function):
    import importlib
    import inspect

    module, name = function.split(".")
    parameters = inspect.signature(
        getattr(importlib.import_module(f"numbarnn.{module}"), name)).parameters
    compared = []
    for param in cli.commands[command].params:
        field = {"hidden": "hidden_size"}.get(param.name, param.name)
        if not isinstance(param, click.Option) or field not in parameters:
            continue
        value = param.default
        if isinstance(value, str) and "," in value:  # --cells rnn,lstm,gru, --delays 10,20
            value = tuple(int(v) if v.isdigit() else v for v in value.split(","))
        library = parameters[field].default
        assert value == (tuple(library) if isinstance(library, list) else library), field
        compared.append(field)
    assert len(compared) >= 3  # steps, hidden_size, seed at least
