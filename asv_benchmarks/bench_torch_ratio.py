"""numbarnn's time as a ratio to torch's, at the comparison table's sizes, commit by commit.

Each value is ``compare_torch.time_size``'s median ratio (numbarnn / torch,
float32, alternating blocks in one process): below 1 numbarnn is faster.  A
ratio, not a time, so that the report stays readable on machines whose speed
drifts.  Skipped where torch is not installed.
"""
from .common import BIDIRECTIONAL, CELLS, SIZES

MODES = ["train", "infer"]


class TorchRatio:
    params = (CELLS + BIDIRECTIONAL, MODES, SIZES)
    param_names = ["cell", "mode", "size"]
    number = 1
    repeat = 1
    timeout = 600
    seconds = 1.0  # per timed pair in time_size (the benchmark takes about 4x that)

    def setup(self, cell, mode, size):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed")  # asv: skipped
        self.torch = torch
        torch.set_num_threads(2)

    def track_ratio(self, cell, mode, size):
        from .compare_torch import time_size

        nb_train, torch_train, nb_infer, torch_infer = time_size(
            self.torch, cell, size, "float32", self.seconds)
        return nb_train / torch_train if mode == "train" else nb_infer / torch_infer

    track_ratio.unit = "numbarnn time / torch time"
