"""Speed and peak memory of the RNN, LSTM and GRU time loops, through the layers, and
of the product inside them."""
import time

import numpy as np

from .common import BIDIRECTIONAL, CELLS, DTYPES, SIZES, make_layer, padded_lengths


class RecurrentKernels:
    params = (CELLS, DTYPES, SIZES)
    param_names = ["cell", "dtype", "size"]
    timeout = 300

    def setup(self, cell, dtype, size):
        self.layer, self.x, self.dout = make_layer(cell, size, dtype)
        self.time_forward_backward(cell, dtype, size)  # compile / load and size buffers

    def time_forward_backward(self, cell, dtype, size):
        self.layer.forward(self.x)
        self.layer.backward(self.dout)

    def time_inference(self, cell, dtype, size):
        self.layer.forward(self.x, train=False)

    def peakmem_forward_backward(self, cell, dtype, size):
        self.layer.forward(self.x)
        self.layer.backward(self.dout)

    def peakmem_inference(self, cell, dtype, size):
        self.layer.forward(self.x, train=False)


class DirectionsAndLengths:
    """Bidirectional layers, and padded batches with ``lengths`` (float32)."""

    params = (CELLS + BIDIRECTIONAL, ["full", "lengths"], SIZES)
    param_names = ["cell", "batch", "size"]
    timeout = 300

    def setup(self, cell, batch, size):
        self.layer, self.x, self.dout = make_layer(cell, size, "float32")
        self.lengths = padded_lengths(size) if batch == "lengths" else None
        self.time_forward_backward(cell, batch, size)

    def time_forward_backward(self, cell, batch, size):
        self.layer.forward(self.x, lengths=self.lengths)
        self.layer.backward(self.dout)

    def peakmem_forward_backward(self, cell, batch, size):
        self.layer.forward(self.x, lengths=self.lengths)
        self.layer.backward(self.dout)


class TileProduct:
    """The product inside the CPU time loops (``numbarnn.kernels._tile``), alone on one
    thread, float32, at the (B, K, R) one thread of a layer multiplies per step at the
    comparison table's sizes: [x_t, h_{t-1}] (B, K) by its packed share of the weights
    (K, R).  ``track_gflops`` is what the time loops can reach at best."""

    params = [[(1, 40, 128), (16, 96, 128), (32, 192, 256), (64, 384, 512), (64, 512, 1024)]]
    param_names = ["B, K, R"]
    repeats = 50

    def setup(self, shape):
        from numbarnn.kernels._tile import empty_packed, pack_transposed_rows, packed_product

        B, K, R = shape
        rng = np.random.default_rng(0)
        self.a = rng.standard_normal((B, K)).astype(np.float32)
        self.weight = rng.standard_normal((R, K)).astype(np.float32)
        self.w = empty_packed(K, R, self.a)
        pack_transposed_rows(self.weight, np.arange(R), self.w, 0)
        self.out = np.empty((B, R), np.float32)
        self.product = packed_product
        self.time_product(shape)  # compile / load

    def time_product(self, shape):
        self.product(self.a, self.w, self.out, False)

    def track_gflops(self, shape):
        B, K, R = shape
        times = []
        for _ in range(self.repeats):
            start = time.perf_counter()
            self.product(self.a, self.w, self.out, False)
            times.append(time.perf_counter() - start)
        return 2 * B * K * R / float(np.median(times)) / 1e9

    track_gflops.unit = "GFLOP/s"
