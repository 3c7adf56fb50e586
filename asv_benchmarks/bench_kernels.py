"""Speed and peak memory of the RNN, LSTM and GRU time loops, through the layers."""
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
