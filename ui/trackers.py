"""The app's intent-tracker control: which tracker (offline rules, an LLM) reads this browser's turns.

The runtime offers the trackers the server was started with (``--tracker``/``--llm`` or
``PIXELRS_TRACKER``/``PIXELRS_LLM``); each browser picks one for its own turns (kept in its
``UIState``), so one person choosing the LLM changes nothing for anybody else. The control only
shows when there is a choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import gradio as gr

from graphs.runtime import Runtime
from ui.state import UIState

LABELS: Mapping[str, str] = MappingProxyType({"rules": "Offline rules (spaCy)", "llm": "Language model"})
"""How the control names each tracker (a model-backed one adds its model's name)."""


def tracker_choices(runtime: Runtime) -> list[tuple[str, str]]:
    """(label, name) of every tracker the runtime offers, the default first."""
    out = []
    for name, tracker in runtime.trackers.items():
        label = LABELS.get(name, name)
        model = getattr(tracker, "model_name", None)
        out.append((f"{label}: {model}" if model else label, name))
    return out


def tracker_control(runtime: Runtime) -> Any:
    """Return the radio that picks this browser's tracker (hidden when there is only one)."""
    choices = tracker_choices(runtime)
    return gr.Radio(
        choices, value=runtime.tracker_name, label="Intent tracker", elem_id="pr-tracker",
        visible=len(choices) > 1,
        info="What reads your messages; a language model falls back to the rules if it fails or is slow.",
    )


def set_tracker(choice: str | None, state: UIState) -> UIState:
    """Remember the tracker this browser chose (an unknown name keeps the current one)."""
    if choice:
        state.tracker = choice
    return state


__all__ = ["LABELS", "set_tracker", "tracker_choices", "tracker_control"]
