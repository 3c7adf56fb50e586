"""The text job's configuration: every default of ``numbarnn train-text``, in one place.

``TextConfig`` is to the text generator what ``forecasting.ForecastConfig`` is to
the time-series predictor: a dataclass that holds every setting with its
default and checks itself when made, so that a mistake is one ``ValueError``
naming the setting.  The command line takes its defaults from it (and
``tests/test_cli_defaults.py`` checks that every option agrees).  Light to
import: no numba.
"""
from dataclasses import asdict, dataclass, fields

from .. import CELLS, OPTIMIZERS, SCHEDULES
from .._checks import check_choice, check_int, check_number
from ..devices import DEVICES

# training steps when no stop (steps, epochs, time budget) is given
DEFAULT_STEPS = 2000
# the settings that make the model (the rest are how it is trained)
MODEL_FIELDS = ("hidden_size", "num_layers", "cell", "embedding_dim", "dropout", "forget_bias",
                "dtype")


@dataclass(frozen=True)
class TextConfig:
    """A character-level training run; the defaults are char-rnn's classic small model.

    Parameters
    ----------
    hidden_size, num_layers : int
        Units per recurrent layer, stacked layers.
    cell : {'lstm', 'rnn', 'gru'}
    embedding_dim : int
        0 feeds one-hot characters; otherwise a learned embedding of this width.
    dropout : float in [0, 1)
        On each recurrent layer's output, in training.
    forget_bias : float
        The LSTM's initial forget-gate bias.
    dtype : {'float32', 'float64'}
    batch_size, seq_len : int
        Parallel streams over the text; characters per chunk (the BPTT length).
    val_frac : float in [0, 1)
        The end of the text held out for validation.
    optimizer : {'adam', 'sgd', 'rmsprop', 'adagrad'}
    lr, weight_decay : float
    clip : float
        Gradient clipping threshold (0: none), of the global norm or each value
        (``clip_mode``).
    lr_schedule : {'constant', 'step', 'cosine'}
    lr_step, lr_gamma : int, float
        The 'step' schedule: every ``lr_step`` steps the rate times ``lr_gamma``.
    eval_every : int
        Steps between validations and checkpoints.
    seed : int
    workers : int
        Threads that share each batch (part of the run: the same seed and
        workers give the same run anywhere).
    device : {'cpu', 'cuda'}
    """

    hidden_size: int = 256
    num_layers: int = 1
    cell: str = "lstm"
    embedding_dim: int = 0
    dropout: float = 0.0
    forget_bias: float = 1.0
    dtype: str = "float32"
    batch_size: int = 32
    seq_len: int = 64
    val_frac: float = 0.05
    optimizer: str = "adam"
    lr: float = 2e-3
    weight_decay: float = 0.0
    clip: float = 5.0
    clip_mode: str = "norm"
    lr_schedule: str = "constant"
    lr_step: int = 1000
    lr_gamma: float = 0.5
    eval_every: int = 200
    seed: int = 0
    workers: int = 2
    device: str = "cpu"

    def __post_init__(self):
        for name in ("hidden_size", "num_layers", "batch_size", "seq_len", "lr_step",
                     "eval_every", "workers"):
            check_int(name, getattr(self, name))
        check_int("embedding_dim", self.embedding_dim, 0,
                  expected="0 (one-hot) or a positive integer")
        check_int("seed", self.seed, -2 ** 63, expected="an integer")
        for name, allowed in (("cell", CELLS), ("dtype", ("float32", "float64")),
                              ("optimizer", OPTIMIZERS), ("clip_mode", ("norm", "value")),
                              ("lr_schedule", SCHEDULES), ("device", DEVICES)):
            check_choice(name, getattr(self, name), allowed)
        check_number("dropout", self.dropout, 0, 1, high_open=True,
                     expected="a probability in [0, 1)")
        check_number("val_frac", self.val_frac, 0, 1, high_open=True,
                     expected="a fraction in [0, 1)")
        check_number("lr", self.lr, 0, low_open=True, expected="a positive number")
        check_number("weight_decay", self.weight_decay, 0, expected="a number >= 0")
        check_number("clip", self.clip, 0, expected="a number >= 0 (0 turns clipping off)")
        check_number("lr_gamma", self.lr_gamma, 0, 1, expected="a factor in [0, 1]")
        check_number("forget_bias", self.forget_bias, expected="a finite number")
        if self.device != "cpu" and self.workers != 1:
            raise ValueError(f"workers: got {self.workers}; on device {self.device!r} the "
                             "model trains on one thread: use workers=1")
        if self.workers > self.batch_size:
            raise ValueError(f"workers: got {self.workers}, more than the batch size "
                             f"{self.batch_size} it splits")

    @classmethod
    def from_dict(cls, values):
        """A config from a mapping of its fields (a checkpoint's, metrics.json's); names
        it does not have are refused, naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown option(s) {unknown}; expected some of {sorted(known)}")
        return cls(**values)

    def replace(self, **changes):
        """A copy with ``changes`` (checked, as any new config)."""
        return self.from_dict({**asdict(self), **changes})

    def to_dict(self):
        return asdict(self)

    def model_options(self):
        """The settings that make the model (``CharRNN``'s arguments but the vocabulary)."""
        return {name: getattr(self, name) for name in MODEL_FIELDS}
