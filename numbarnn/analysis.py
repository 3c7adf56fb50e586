"""The vanishing gradient, measured: how far back each cell's gradient reaches, and what
it can learn to remember.

Two measurements per cell (``rnn``, ``lstm``, ``gru``):

* ``gradient_norms``: a layer at its default initialisation (torch's, optionally
  scaled by ``init_scale``), a loss on the last step only, and the mean over a
  batch of random sequences of ‖∂L/∂x_t‖ for every earlier step.  In an RNN each
  step back multiplies the gradient by W_hh^T diag(1 - h²), so it falls (or,
  with large weights, grows) geometrically; the LSTM's cell state adds instead
  of multiplying (c_t = f c_{t-1} + i g), so the gradient along it is scaled by
  the forget gate alone, and the GRU's h_t = (1 - z) n + z h_{t-1} has the same
  additive path.  ``decay_rate`` fits the slope of log ‖∂L/∂x_t‖ per step.
* the adding problem (``train_adding``): each cell trained for a fixed budget
  to add two marked values of a sequence, the first at least half the sequence
  back, for increasing lengths (the delay d), and the accuracy on fresh
  sequences: the longest delay learnt above ``threshold`` is the cell's span.

``gradient_flow`` runs both and returns a ``GradientFlow`` (tables, CSV, plot).
"""
import csv
import math
from dataclasses import dataclass, field

import numpy as np

from . import CELLS
from ._checks import check_int
from .layers import LAYERS, Linear
from .optim import Adam



def _check_cells(cells):
    cells = list(cells)
    bad = [c for c in cells if c not in CELLS]
    if bad or not cells:
        raise ValueError(f"cells: got {','.join(map(str, cells)) or 'none'}, expected some of "
                         f"{', '.join(CELLS)}")
    return cells


def make_layer(cell, input_size, hidden_size, init_scale=1.0, seed=0, forget_bias=None):
    """A one-layer float32 ``cell`` at torch's initialisation, every weight times
    ``init_scale``; for the LSTM, ``forget_bias`` (if given) replaces the forget gate's
    bias (``bias_ih`` gets it, ``bias_hh`` 0, as numbarnn's text model starts at 1)."""
    if not (isinstance(init_scale, (int, float)) and math.isfinite(init_scale) and init_scale > 0):
        raise ValueError(f"init_scale: got {init_scale!r}, expected a positive number")
    layer = LAYERS[cell](input_size, hidden_size, dtype=np.float32, seed=seed)
    for p in layer.params.values():
        p *= np.float32(init_scale)
    if cell == "lstm" and forget_bias is not None:
        H = hidden_size
        layer.params["bias_ih_l0"][H:2 * H] = forget_bias
        layer.params["bias_hh_l0"][H:2 * H] = 0.0
    return layer


def gradient_norms(cell, steps=100, hidden_size=32, input_size=8, batch=64, init_scale=1.0,
                   seed=0, forget_bias=None):
    """Mean ‖∂L/∂x_t‖ over a batch, for a loss on the last output only.

    Returns a (steps,) array whose entry k is the norm k steps back from the last
    step (k = 0: the last step itself).  The loss is ``sum(out[T-1] * u)`` with
    ``u`` a random direction per sequence, the inputs standard normal.
    """
    steps, hidden_size = check_int("steps", steps), check_int("hidden_size", hidden_size)
    layer = make_layer(cell, input_size, hidden_size, init_scale, seed, forget_bias)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((steps, batch, input_size)).astype(np.float32)
    out, _ = layer.forward(x)
    dout = np.zeros_like(out)
    u = rng.standard_normal((batch, hidden_size))
    dout[-1] = u / np.linalg.norm(u, axis=1, keepdims=True)
    dx, _ = layer.backward(dout)
    return np.linalg.norm(dx, axis=2).mean(axis=1)[::-1].copy()


def decay_rate(norms, span=30):
    """The least-squares slope of ln ‖∂L/∂x‖ per step back over the first ``span`` steps
    (or as many as are above 1e-300): below 0 the gradient vanishes, above 0 it explodes."""
    n = min(span, len(norms))
    logs = np.log(np.maximum(np.asarray(norms[:n], np.float64), 1e-300))
    if n < 2:
        return 0.0
    return float(np.polyfit(np.arange(n), logs, 1)[0])


def adding_batch(rng, length, batch):
    """The adding problem: (length, B, 2) inputs and (B,) targets.

    Channel 0 holds values uniform in [0, 1), channel 1 marks two of them: one in
    the first tenth of the sequence, one in its second half.  The target is the
    sum of the two marked values, read after the last step: the first lies at
    least ``length / 2`` steps back.
    """
    x = np.zeros((length, batch, 2), np.float32)
    x[:, :, 0] = rng.random((length, batch))
    rows = np.arange(batch)
    first = rng.integers(0, max(1, length // 10), batch)
    second = rng.integers(length // 2, length, batch)
    x[first, rows, 1] = 1.0
    x[second, rows, 1] = 1.0
    return x, x[first, rows, 0] + x[second, rows, 0]


TOLERANCE = 0.1  # a sum counts as right within this; guessing 1 is right about 19 % of the time


def train_adding(cell, length, hidden_size=32, train_steps=400, batch=32, lr=1e-2,
                 init_scale=1.0, seed=0, forget_bias=None):
    """Train ``cell`` -> Linear on the adding problem of ``length`` steps for ``train_steps``
    Adam steps (MSE on the last step, gradients clipped at norm 1); returns the
    accuracy (sums within ``TOLERANCE``) on 512 fresh sequences."""
    rng = np.random.default_rng(seed)
    layer = make_layer(cell, 2, hidden_size, init_scale, seed, forget_bias)
    head = Linear(hidden_size, 1, dtype=np.float32, seed=seed)
    opt = Adam([layer, head], lr=lr)
    for _ in range(train_steps):
        x, y = adding_batch(rng, length, batch)
        out, _ = layer.forward(x)
        error = head.forward(out[-1])[:, 0] - y
        dout = np.zeros_like(out)
        dout[-1] = head.backward((2.0 / batch * error)[:, None].astype(np.float32))
        layer.backward(dout, input_grad=False)
        grads = [g for m in (layer, head) for g in m.grads.values()]
        norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
        if norm > 1.0:
            for g in grads:
                g *= np.float32(1.0 / norm)
        opt.step()
    x, y = adding_batch(np.random.default_rng(seed + 1), length, 512)
    out, _ = layer.forward(x, train=False)
    return float(np.mean(np.abs(head.forward(out[-1], train=False)[:, 0] - y) < TOLERANCE))


@dataclass
class GradientFlow:
    """What ``gradient_flow`` measured."""

    norms: dict  # cell -> (steps,) mean gradient norm k steps back
    rates: dict  # cell -> slope of ln norm per step (decay_rate)
    accuracy: dict = field(default_factory=dict)  # cell -> {delay: accuracy}
    threshold: float = 0.9

    def span(self, cell):
        """The longest delay learnt with accuracy >= threshold (0: none)."""
        learnt = [d for d, a in self.accuracy.get(cell, {}).items() if a >= self.threshold]
        return max(learnt, default=0)

    def table(self):
        """The report as text: gradient norms at a few distances, slopes, accuracies."""
        cells = list(self.norms)
        steps = len(next(iter(self.norms.values())))
        marks = [k for k in (0, 1, 5, 10, 20, 50, 100, 200, 500) if k < steps]
        lines = ["gradient norm |dL/dx_t| k steps before the loss (mean over the batch)",
                 f"{'cell':5} " + " ".join(f"{'k=' + str(k):>9}" for k in marks)
                 + f" {'ln-slope/step':>14}"]
        for c in cells:
            lines.append(f"{c:5} " + " ".join(f"{self.norms[c][k]:9.2e}" for k in marks)
                         + f" {self.rates[c]:14.3f}")
        if self.accuracy:
            delays = sorted({d for acc in self.accuracy.values() for d in acc})
            lines += ["", f"adding problem over d steps: accuracy (sums within {TOLERANCE}; "
                          f"guessing gets about 0.19; learnt >= {self.threshold:.2f})",
                      f"{'cell':5} " + " ".join(f"{'d=' + str(d):>7}" for d in delays)
                      + f" {'longest':>8}"]
            for c in cells:
                lines.append(f"{c:5} " + " ".join(f"{self.accuracy[c].get(d, math.nan):7.2f}"
                                                   for d in delays) + f" {self.span(c):8d}")
        return "\n".join(lines)

    def write_csv(self, norms_path, accuracy_path=None):
        """``steps_back,cell,gradient_norm`` rows; and ``cell,delay,accuracy`` rows."""
        with open(norms_path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["steps_back", "cell", "gradient_norm"])
            for c, norms in self.norms.items():
                w.writerows((k, c, f"{v:.6e}") for k, v in enumerate(norms))
        if accuracy_path is not None and self.accuracy:
            with open(accuracy_path, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["cell", "delay", "accuracy"])
                for c, acc in self.accuracy.items():
                    w.writerows((c, d, f"{a:.4f}") for d, a in sorted(acc.items()))

    def plot(self, path):
        """Gradient norm against steps back (log scale), and accuracy against delay."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        panels = 2 if self.accuracy else 1
        fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4), squeeze=False)
        ax = axes[0, 0]
        for c, norms in self.norms.items():
            shown = norms > 0  # (a norm below float32's range is 0: the line stops there)
            ax.semilogy(np.arange(len(norms))[shown], norms[shown], label=c)
        ax.set_xlabel("steps back from the loss")
        ax.set_ylabel("mean |dL/dx_t|")
        ax.set_title("gradient reaching earlier steps")
        ax.legend()
        if self.accuracy:
            ax = axes[0, 1]
            for c, acc in self.accuracy.items():
                delays = sorted(acc)
                ax.semilogx(delays, [acc[d] for d in delays], marker="o", label=c)
            ax.axhline(self.threshold, color="grey", linestyle=":")
            ax.set_xlabel("sequence length d of the adding problem")
            ax.set_ylabel("accuracy")
            ax.set_title("what each cell learns to remember")
            ax.set_ylim(0, 1.02)
            ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


DEFAULT_CELLS = ("rnn", "lstm", "gru")
DEFAULT_DELAYS = (10, 20, 40, 80, 160)


def gradient_flow(cells=DEFAULT_CELLS, steps=100, hidden_size=32, init_scale=1.0, seed=0,
                  delays=DEFAULT_DELAYS, train_steps=400, threshold=0.9, forget_bias=None,
                  progress=None):
    """Both measurements for each of ``cells``; ``delays=()`` skips the training.

    ``progress``, if given, is called with a line of text after each training run.
    """
    cells = _check_cells(cells)
    steps, hidden_size = check_int("steps", steps), check_int("hidden_size", hidden_size)
    train_steps = check_int("train_steps", train_steps)
    delays = [check_int("delays", d) for d in delays]
    if not (isinstance(threshold, (int, float)) and 0 < threshold <= 1):
        raise ValueError(f"threshold: got {threshold!r}, expected an accuracy in (0, 1]")
    norms = {c: gradient_norms(c, steps, hidden_size, init_scale=init_scale, seed=seed,
                               forget_bias=forget_bias) for c in cells}
    result = GradientFlow(norms, {c: decay_rate(n) for c, n in norms.items()},
                          threshold=threshold)
    for c in cells if delays else ():
        result.accuracy[c] = {}
        for d in delays:
            result.accuracy[c][d] = train_adding(c, d, hidden_size, train_steps,
                                                 init_scale=init_scale, seed=seed,
                                                 forget_bias=forget_bias)
            if progress is not None:
                progress(f"{c} delay {d}: accuracy {result.accuracy[c][d]:.2f}")
    return result
