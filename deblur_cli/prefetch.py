"""Read ahead in background threads, so decoding overlaps the model's work: `prefetched` runs an
iterable in one thread; `mapped_in_threads` decodes independent items (image files) in several."""

from __future__ import annotations

import collections
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_DECODE_WORKERS = 8  # bounds the threads, and the frames decoded ahead (two per thread), on large machines

_DONE = object()


class _Failure:
    """The worker's exception, carried through the queue to the consumer."""

    def __init__(self, error: BaseException):
        self.error = error


def put_unless_stopped(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put with a timeout loop so a stopped pipeline never blocks forever; False if stopped."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def prefetched(items: Iterable[T], depth: int) -> Iterator[T]:
    """The items of `items`, in order, produced by a background thread up to `depth` items ahead.

    An exception raised while producing an item is raised here, in its place in the sequence.
    Closing the returned generator (or leaving a `with closing(...)` block) stops the thread and
    waits for it, so whatever `items` reads from can be closed afterwards. PyAV decoding and
    torch's conversions release the GIL, so the thread really runs beside the consumer.
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                if not put_unless_stopped(q, item, stop):
                    return
            put_unless_stopped(q, _DONE, stop)
        except BaseException as e:  # noqa: BLE001 - raised again in the consumer
            put_unless_stopped(q, _Failure(e), stop)

    def consume() -> Iterator[T]:
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        try:
            while True:
                item = q.get()
                if item is _DONE:
                    return
                if isinstance(item, _Failure):
                    raise item.error
                yield item
        finally:
            stop.set()
            thread.join(timeout=5)

    return consume()


def decode_workers() -> int:
    """Threads for decoding independent images: one per CPU core, at most MAX_DECODE_WORKERS."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_DECODE_WORKERS, cores or 1))


def mapped_in_threads(function: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """function(item) for each item, in order, computed by up to `workers` threads, at most
    2 * workers results ahead of the consumer.

    An exception raised by one call is raised here, in its place in the sequence. Closing the
    returned generator cancels the calls not started and waits for the running ones. PyAV's
    decoding releases the GIL, so the threads decode in parallel (720p PNGs on 2 cores: 64 to 73 ms
    a frame with one thread, 38 to 40 ms with two; `benchmarks/bench_decode.py`).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")

    def results() -> Iterator[R]:
        pool = ThreadPoolExecutor(workers, thread_name_prefix="deblur-decode")
        pending: collections.deque = collections.deque()
        source = iter(items)
        try:
            for item in source:
                pending.append(pool.submit(function, item))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True)

    return results()
