"""The callbacks through which library code tells its caller how far a long task has come: library code never
prints, the command line shows them (a bar, or a line a minute where stderr is a log)."""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[int, int], None]
"""Called as progress(done, total) by long loops (sampler steps, a network's tiles, a download's bytes); total is 0
while unknown."""

Say = Callable[[str], None]
"""Called with one line of how far a task has come, or of what it passed over (fetching, packing and adding
training sources)."""
