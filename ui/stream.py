"""Running a turn beside the Gradio handler and handing its events over in batches."""

from __future__ import annotations

import logging
import queue
import threading
from typing import TYPE_CHECKING, Any

from agent.errors import PixelrsError

if TYPE_CHECKING:
    from graphs.runtime import Runtime

log = logging.getLogger(__name__)

END = object()
"""Marks the end of a turn's event queue."""


def start_turn(
    runtime: Runtime, session_id: str, text: str, *, stop: threading.Event | None = None, **kwargs: Any
) -> queue.SimpleQueue[Any]:
    """Run the turn in its own thread and return the queue its events arrive on.

    The thread runs the graph inline (``run_turn_sync`` with the queue as event sink), so each
    event costs one queue hand-off and no LangGraph worker threads are involved.

    Gradio post-processes and sends each update before it asks the handler for the next one;
    running the turn beside it keeps that time out of the turn, and the handler sends the latest
    state of everything that happened meanwhile in one update (:func:`drain`). A turn whose
    browser went away still completes and is stored. The queue ends with :data:`END`; an
    exception escaping the runtime (it catches user and backend errors itself) is queued as is.
    Setting ``stop`` ends the turn at its next event (see ``Runtime.run_turn_sync``).
    """
    events: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def pump() -> None:
        try:
            runtime.run_turn_sync(session_id, text, on_event=events.put, stop=stop, **kwargs)
        except PixelrsError:
            pass  # its one-line ``error`` event is already queued
        except BaseException as exc:  # noqa: BLE001 - handed to the handler as a one-line error
            log.exception("turn failed outside the runtime's own handling")
            events.put(exc)
        finally:
            events.put(END)

    threading.Thread(target=pump, name=f"pixelrs-turn-{session_id[:8]}", daemon=True).start()
    return events


def drain(events: queue.SimpleQueue[Any]) -> list[Any]:
    """Wait for the next event, then take the others already waiting, up to and including a mask.

    A mask always ends its batch, so it goes to the browser in an update of its own, before the
    explanation that may already be waiting behind it.
    """
    batch = [events.get()]
    while getattr(batch[-1], "kind", None) != "mask":
        try:
            batch.append(events.get_nowait())
        except queue.Empty:
            break
    return batch
