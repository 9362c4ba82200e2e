"""prefetched: a background thread reads ahead, within bounds, and stops when asked. mapped_in_threads:
several threads compute in parallel, results in order, within bounds, and stop when asked."""

from __future__ import annotations

import threading
import time
from contextlib import closing

import pytest

from deblur_cli.prefetch import decode_workers, mapped_in_threads, prefetched


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


def test_mapped_results_come_in_order_while_calls_overlap():
    barrier = threading.Barrier(2, timeout=10)  # two calls must be running at once, or it breaks

    def work(i):
        if i < 2:
            barrier.wait()
        time.sleep(0.001 * (7 - i % 7))  # later items finish first in part
        return i * i

    assert list(mapped_in_threads(work, range(40), workers=3)) == [i * i for i in range(40)]


def test_mapped_calls_stay_within_twice_the_workers_of_the_consumer():
    started = []

    def work(i):
        started.append(i)
        return i

    stream = mapped_in_threads(work, range(100), workers=2)
    assert next(stream) == 0
    time.sleep(0.05)  # the threads would go on here if nothing held them back
    assert len(started) <= 1 + 2 * 2
    assert list(stream) == list(range(1, 100))


def test_a_mapped_error_comes_in_its_place_and_later_results_are_dropped():
    def work(i):
        if i == 3:
            raise KeyError("the fourth")
        return i

    got = []
    with pytest.raises(KeyError, match="the fourth"):
        for item in mapped_in_threads(work, range(10), workers=4):
            got.append(item)
    assert got == [0, 1, 2]


def test_closing_a_map_cancels_what_has_not_started_and_joins_the_threads():
    started = []
    before = set(threading.enumerate())

    def work(i):
        started.append(i)
        time.sleep(0.02)
        return i

    with closing(mapped_in_threads(work, range(1000), workers=2)) as stream:
        assert next(stream) == 0
    assert set(threading.enumerate()) == before
    settled = len(started)
    time.sleep(0.1)
    assert len(started) == settled <= 1 + 2 * 2


def test_map_workers_below_one_are_refused_and_decode_workers_are_bounded():
    with pytest.raises(ValueError, match="workers"):
        mapped_in_threads(str, [], workers=0)
    assert 1 <= decode_workers() <= 8
