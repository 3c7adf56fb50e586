"""Optimisers that update a module's ``params`` in place from its ``grads``.

They follow ``torch.optim``'s update rules and defaults, so that a training
recipe moves across unchanged.
"""
import numpy as np


class Optimizer:
    """Base class: holds the parameter dicts of one or more modules."""

    def __init__(self, modules, lr):
        if not lr > 0:
            raise ValueError(f"lr: got {lr!r}, expected a positive number")
        modules = modules if isinstance(modules, (list, tuple)) else [modules]
        self.lr = float(lr)
        self.pairs = [(m.params[name], m.grads[name]) for m in modules for name in m.params]
        self.steps = 0

    def step(self):
        self.steps += 1
        for k, (p, g) in enumerate(self.pairs):
            self._update(k, p, g)


class SGD(Optimizer):
    """Stochastic gradient descent with optional (heavy-ball) momentum."""

    def __init__(self, modules, lr=0.01, momentum=0.0):
        super().__init__(modules, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum: got {momentum!r}, expected a number in [0, 1)")
        self.momentum = momentum
        self.velocity = [np.zeros_like(p) for p, _ in self.pairs]

    def _update(self, k, p, g):
        if self.momentum:
            v = self.velocity[k]
            v *= self.momentum
            v += g
            g = v
        p -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, as ``torch.optim.Adam``."""

    def __init__(self, modules, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(modules, lr)
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas: got {betas!r}, expected two numbers in [0, 1)")
        self.betas, self.eps = betas, eps
        self.m = [np.zeros_like(p) for p, _ in self.pairs]
        self.v = [np.zeros_like(p) for p, _ in self.pairs]

    def _update(self, k, p, g):
        b1, b2 = self.betas
        m, v = self.m[k], self.v[k]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        step_size = self.lr / (1 - b1 ** self.steps)
        denom = np.sqrt(v / (1 - b2 ** self.steps)) + self.eps
        p -= (step_size * m / denom).astype(p.dtype)
