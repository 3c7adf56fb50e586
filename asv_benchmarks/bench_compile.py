"""Compile time of the kernels and start-up time with a warm compile cache."""
import tempfile

from .common import first_call_seconds, text_compile_seconds


class Compile:
    timeout = 300
    number = 1
    repeat = 1

    def track_cold_first_calls(self):
        with tempfile.TemporaryDirectory() as cache:
            return first_call_seconds(cache)

    track_cold_first_calls.unit = "seconds"

    def track_warm_first_calls(self):
        with tempfile.TemporaryDirectory() as cache:
            first_call_seconds(cache)
            return first_call_seconds(cache)

    track_warm_first_calls.unit = "seconds"

    def track_cold_text_run_compile(self):
        """What a first train-text run of the defaults spends compiling (the LSTM's forward
        here, its backward in a child process at the same time)."""
        with tempfile.TemporaryDirectory() as cache:
            return text_compile_seconds(cache)

    track_cold_text_run_compile.unit = "seconds"

