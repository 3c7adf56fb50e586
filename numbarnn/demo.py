"""A tiny end-to-end training run: an LSTM learns to echo its input a few steps late.

The input is a random stream of -1/+1; the target at step t is the input at
step t - delay (0 before that).  The network has to carry each value through
its state for ``delay`` steps, so a falling loss shows that the forward pass,
backpropagation through time and the optimiser all work together.
"""
import numpy as np

from .layers import LSTM, Linear
from .optim import Adam


def echo_batch(rng, batch, length, delay, dtype=np.float32):
    """Inputs (T, B, 1) and targets (T, B, 1) of the echo task."""
    x = rng.choice(np.array([-1.0, 1.0], dtype=dtype), size=(length, batch, 1))
    y = np.zeros_like(x)
    y[delay:] = x[:-delay]
    return x, y


def train_echo(steps=300, hidden_size=24, delay=3, batch=32, length=24, lr=0.01, seed=0):
    """Train LSTM -> Linear with MSE and Adam; yields ``(step, loss)`` after each step."""
    rng = np.random.default_rng(seed)
    lstm = LSTM(1, hidden_size, seed=seed)
    head = Linear(hidden_size, 1, seed=seed)
    opt = Adam([lstm, head], lr=lr)
    for step in range(1, steps + 1):
        x, y = echo_batch(rng, batch, length, delay)
        h, _ = lstm.forward(x)
        pred = head.forward(h)
        diff = pred - y
        loss = float(np.mean(diff * diff))
        dh = head.backward(2.0 * diff / diff.size)
        lstm.backward(dh)
        opt.step()
        yield step, loss
