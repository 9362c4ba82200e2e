"""prefetched: a background thread reads ahead, within bounds, and stops when asked."""

from __future__ import annotations

import threading
import time
from contextlib import closing

import pytest

from deblur_cli.prefetch import prefetched


def test_items_come_in_order_from_another_thread():
    threads = []

    def items():
        for i in range(50):
            threads.append(threading.current_thread())
            yield i

    assert list(prefetched(items(), depth=3)) == list(range(50))
    assert set(threads) != {threading.current_thread()} and len(set(threads)) == 1


def test_reads_ahead_at_most_depth_items_plus_the_one_in_hand():
    produced = []

    def items():
        for i in range(100):
            produced.append(i)
            yield i

    stream = prefetched(items(), depth=4)
    assert next(stream) == 0
    deadline = time.monotonic() + 10
    while len(produced) < 5 and time.monotonic() < deadline:  # the thread fills its queue
        time.sleep(0.01)
    time.sleep(0.05)  # and would go on here if nothing held it back
    # consumed 1; the queue holds 4; the thread holds a 6th it cannot put yet
    assert 5 <= len(produced) <= 6
    stream.close()


def test_an_error_comes_in_its_place_in_the_sequence():
    def items():
        yield 1
        yield 2
        raise KeyError("the third")

    got = []
    with pytest.raises(KeyError, match="the third"):
        for item in prefetched(items(), depth=8):
            got.append(item)
    assert got == [1, 2]


def test_closing_stops_the_thread_before_it_reads_everything():
    produced = []
    before = set(threading.enumerate())

    def items():
        for i in range(10_000):
            produced.append(i)
            yield i

    with closing(prefetched(items(), depth=2)) as stream:
        assert next(stream) == 0
    assert set(threading.enumerate()) == before  # joined, not left running
    assert len(produced) < 10


def test_depth_below_one_is_refused():
    with pytest.raises(ValueError, match="depth"):
        prefetched(iter([]), depth=0)
