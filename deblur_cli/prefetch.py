"""Read an iterable ahead in a background thread, so decoding overlaps the model's work."""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

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
