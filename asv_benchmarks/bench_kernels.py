"""Speed and peak memory of the RNN and LSTM time loops, through the layers."""
from .common import CELLS, DTYPES, SIZES, make_layer


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
