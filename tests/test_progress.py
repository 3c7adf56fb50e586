"""Tests of ``numbarnn.progress``: durations and the live progress line.

On a stream that is not a terminal only ``log`` lines appear; on a terminal
(faked by a StringIO whose ``isatty()`` is True) ``update`` draws the bar in
place, ``log`` wipes it first and ``close`` ends it.
"""
import io

import pytest

from numbarnn.progress import Progress, format_seconds


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("seconds,text", [
    (0, "0:00"), (0.4, "0:00"), (0.6, "0:01"), (5, "0:05"), (59.4, "0:59"), (60, "1:00"),
    (61, "1:01"), (599, "9:59"), (3599, "59:59"), (3600, "1:00:00"), (3661, "1:01:01"),
    (36000 + 62, "10:01:02"), (-5, "0:00"),
])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


# ------------------------------------------------------------------------- not a terminal
def test_non_tty_writes_only_log_lines():
    stream = io.StringIO()
    progress = Progress(stream, interval=0.0)
    assert not progress.live
    progress.update(0.5, "loss 1.23", force=True)
    progress.log("epoch 1 done")
    progress.update(0.9, "loss 0.90", force=True)
    progress.log("epoch 2 done")
    progress.close()
    assert stream.getvalue() == "epoch 1 done\nepoch 2 done\n"


def test_stream_without_isatty_is_not_live():
    class Sink:
        def __init__(self):
            self.parts = []

        def write(self, text):
            self.parts.append(text)

        def flush(self):
            pass

    sink = Sink()
    progress = Progress(sink)
    progress.update(0.5, "x", force=True)
    progress.log("kept")
    assert "".join(sink.parts) == "kept\n"


# ----------------------------------------------------------------------------- terminal
def test_tty_update_draws_bar_and_percentage():
    stream = FakeTTY()
    progress = Progress(stream, interval=0.0)
    assert progress.live
    progress.update(0.5, "loss 1.23", force=True)
    half = "#" * 12 + "." * 12
    assert stream.getvalue() == f"\r[{half}]  50%  loss 1.23"
    assert "\n" not in stream.getvalue()


@pytest.mark.parametrize("fraction,hashes,percent", [
    (0.0, 0, "  0%"), (1.0, 24, "100%"), (0.25, 6, " 25%"), (-1.0, 0, "  0%"), (7.0, 24, "100%"),
])
def test_tty_bar_fill_is_clamped(fraction, hashes, percent):
    stream = FakeTTY()
    Progress(stream).update(fraction, "t", force=True)
    assert stream.getvalue() == "\r[" + "#" * hashes + "." * (24 - hashes) + "] " + percent + "  t"


def test_tty_update_without_fraction_draws_text_only():
    stream = FakeTTY()
    Progress(stream).update(None, "step 10, 3.2 it/s", force=True)
    assert stream.getvalue() == "\rstep 10, 3.2 it/s"


def test_tty_redraw_pads_over_a_longer_previous_line():
    stream = FakeTTY()
    progress = Progress(stream)
    progress.update(None, "a long line of text", force=True)
    progress.update(None, "short", force=True)
    assert stream.getvalue() == "\ra long line of text" + "\rshort" + " " * 14


def test_tty_update_is_rate_limited():
    stream = FakeTTY()
    progress = Progress(stream, interval=3600.0)
    progress.update(0.1, "first", force=True)
    progress.update(0.2, "second")                   # within the interval: not drawn
    assert "second" not in stream.getvalue()
    progress.update(0.3, "third", force=True)        # force draws regardless
    assert stream.getvalue().endswith("third")


def test_tty_log_clears_the_live_line_then_writes():
    stream = FakeTTY()
    progress = Progress(stream, interval=0.0)
    progress.update(None, "abcdef", force=True)
    progress.log("saved checkpoint")
    assert stream.getvalue() == "\rabcdef" + "\r" + " " * 6 + "\r" + "saved checkpoint\n"
    # a log with nothing drawn writes only the line
    progress.log("again")
    assert stream.getvalue().endswith("saved checkpoint\nagain\n")


def test_tty_close_ends_the_line_once():
    stream = FakeTTY()
    progress = Progress(stream, interval=0.0)
    progress.update(1.0, "done", force=True)
    progress.close()
    value = stream.getvalue()
    assert value.endswith("done\n") and value.count("\n") == 1
    progress.close()
    assert stream.getvalue() == value


def test_tty_close_without_drawing_writes_nothing():
    stream = FakeTTY()
    Progress(stream).close()
    assert stream.getvalue() == ""


@pytest.mark.parametrize("stream_class", [io.StringIO, FakeTTY])
def test_disabled_writes_nothing(stream_class):
    stream = stream_class()
    progress = Progress(stream, enabled=False, interval=0.0)
    progress.update(0.5, "x", force=True)
    progress.log("a line")
    progress.close()
    assert stream.getvalue() == ""


def test_default_stream_is_stderr(capsys):
    progress = Progress()
    progress.log("to stderr")
    captured = capsys.readouterr()
    assert captured.err == "to stderr\n" and captured.out == ""
