"""How data-loader workers start: forked from a fork server, never from the training process itself.

The training process runs threads (PyTorch's, a reader's), and a child forked from it inherits any lock one of
them held at that instant, with no thread left to release it: a rare deadlock, which Python 3.12 and later warn
of ("This process is multi-threaded, use of fork() may lead to deadlocks in the child"). A fork server is a
fresh process with one thread; it imports the modules the workers need once, then forks each worker from itself.
Its first start costs one import of PyTorch: on a busy 2-core machine, the first loader's first batch of two workers
came after 2.9 to 4.9 s, against 0.3 to 0.5 s forked from the training process; each later loader's after 0.3 to
0.8 s, against 0.2 to 0.5 s.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import BaseContext


def worker_context(*modules: str) -> BaseContext:
    """The multiprocessing context for loader workers that unpickle objects of `modules` (the dataset's class,
    a worker_init_fn): a fork server that imports them before it forks any worker; spawn where there is no
    fork server (Windows), which starts each worker fresh."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", *modules])  # __main__: the server's default, kept
    return context
