"""The background writer keeps call order, bounds its queue and surfaces sink errors."""

import threading
import time

import pytest

from geoseg.inference.writer import BackgroundSink


def test_calls_run_in_order_in_another_thread():
    seen, threads = [], set()

    def sink(i, label):
        time.sleep(0.001 * (i % 3))
        seen.append((i, label))
        threads.add(threading.current_thread().name)

    with BackgroundSink(sink, depth=2) as writer:
        for i in range(50):
            writer(i, f"rows {i}")
    assert seen == [(i, f"rows {i}") for i in range(50)]  # all done on exit, in order
    assert threads == {"geoseg-writer"}


def test_a_sink_error_reaches_the_producer():
    def sink(i):
        if i == 3:
            raise OSError("disk full while writing out_prob.tif")

    writer = BackgroundSink(sink)
    with pytest.raises(OSError, match="disk full"):
        for i in range(100):  # raised at a later call (or at close), never swallowed
            writer(i)
        writer.close()
    writer.close()  # the thread is gone; closing again is harmless


def test_producer_error_wins_and_the_writer_stops():
    done = []
    with pytest.raises(ValueError, match="model failed"):
        with BackgroundSink(done.append) as writer:
            writer(1)
            raise ValueError("model failed")
    assert done == [1]
