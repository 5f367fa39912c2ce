"""Hold Python's cyclic garbage collector back over a burst of allocations that builds no cycles.

Evaluating a 100,000-row answer builds 200,000 objects (an outcome and its context each), and
recording it reads 100,000 instance keys; meanwhile the collector walked the whole heap again
and again, and took most of the time: evaluation 0.22 s with it, 0.08 s without
(docs/performance.md, "Per-entity alerts"). What these bursts build does not refer back to
itself, so reference counting frees all of it and a collection there finds nothing; anything
else waits for the one collection that follows.
"""

import gc
from contextlib import contextmanager


@contextmanager
def collector_paused():
    if not gc.isenabled():  # paused already (an outer burst, or the process's own choice)
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
