"""Serving until told to stop: SIGTERM ends the app as Ctrl-C does, and nothing is left behind.

Service managers stop a program with SIGTERM. The app then stops taking requests, gives the
turns still running a grace period to finish and be stored, marks those that did not
``interrupted`` (the app offers to retry them on the next open), and removes its temporary
folders (users' uploads and pictures).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graphs.runtime import Runtime

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 20.0
"""How long running turns may take to finish after SIGTERM before they are marked interrupted."""


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt in the main thread (what Ctrl-C does)."""

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _end_without_native_teardown() -> None:
    """End the process at exit without finalising the interpreter.

    A turn that outlived the grace period may be inside a model's native code (ONNX Runtime,
    LiteRT, OpenCV) on a worker thread that cannot be stopped; tearing those libraries down under
    it aborts the process ("terminate called without an active exception"). Its turn is already
    marked interrupted and the temporary folders are gone, so only the output is flushed.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken pipe: nothing more to say
            pass
    os._exit(0)


def wait_for_turns(runtime: Runtime, grace_s: float) -> list[int]:
    """Wait up to ``grace_s`` for the turns this process runs; return those still running."""
    deadline = time.monotonic() + grace_s
    running = runtime.memory.running_turns()
    while running and time.monotonic() < deadline:
        time.sleep(0.05)
        running = runtime.memory.running_turns()
    return running


def serve_until_stopped(runtime: Runtime, *, grace_s: float = DEFAULT_GRACE_S, **serve_kwargs: Any) -> None:
    """Run :func:`ui.serve` until Ctrl-C or SIGTERM, then shut down cleanly and close the runtime."""
    from ui import serve

    app = None
    try:
        with sigterm_as_interrupt():
            try:
                app = serve(runtime, **serve_kwargs)  # blocks; Gradio ends it on KeyboardInterrupt
            except KeyboardInterrupt:
                log.info("stopped while starting")
            if app is not None and app.demo is not None:
                app.demo.close()  # no new requests from here on
            left = wait_for_turns(runtime, grace_s)
            if left:
                log.warning("%d turn(s) still running after %.0f s; marking them interrupted", len(left), grace_s)
                atexit.register(_end_without_native_teardown)
    finally:
        if app is not None:
            app.close()  # temporary folders
        runtime.close()  # interrupts whatever still runs
