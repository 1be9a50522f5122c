"""The chat follows the newest answer on every turn, unless the person scrolled up to read.

Real Gradio in headless Chromium, 12 turns with mask overlays (each answer adds a tall picture
that loads after the text): after every turn the chat's scroll box must end at its bottom. A
person who scrolls up with the mouse wheel while an answer streams stays where they are; their
next message brings the chat back to the newest answer.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agent.memory import Memory
from graphs.runtime import Runtime
from tests._data import HDMI_JPG
from tools.backends.base import ExplainRequest, SegmentRequest, SegmentResult
from tools.backends.lite import LiteBackend
from ui.app import ChatUI
from ui.testing import CHROMIUM_ARGS, running_app

pytestmark = pytest.mark.browser

TIMEOUT_MS = 30_000
GAP = """() => { const log = document.querySelector('#pr-chat [role=log]');
  return log.scrollHeight - log.scrollTop - log.clientHeight; }"""
"""Pixels of chat below the visible part of the chat's scroll box (0: at the newest answer)."""
TURNS = [
    "find the HDMI label", "what does it say?", "now the port next to it", "no, the one on the right",
    "find the HDMI label", "only the left half of it", "find the HDMI label", "why is it important?",
    "now the port next to it", "find the HDMI label", "no, the other one", "find the HDMI label",
]


class _SlowLite(LiteBackend):
    """Lite with a settable pause before segmenting: time to scroll while an answer is on its way."""

    name = "slow-lite"
    pause_s = 0.0

    def segment(self, request: SegmentRequest) -> SegmentResult:
        time.sleep(self.pause_s)
        return super().segment(request)

    def explain(self, request: ExplainRequest) -> Iterator[str]:
        return super().explain(request)


@pytest.fixture(scope="module")
def page(tmp_path_factory: Any) -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian `chromium` not found on PATH; install it to run browser tests")
    sync_api = pytest.importorskip("playwright.sync_api")
    db = tmp_path_factory.mktemp("scroll") / "db.sqlite"
    backend = _SlowLite()
    runtime = Runtime(memory=Memory(f"sqlite:///{db}"), backend=backend)
    ui = ChatUI(runtime)
    try:
        with running_app(ui) as url, sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            tab = context.new_page()
            tab.goto(url)
            tab.wait_for_selector("#pr-msg textarea:not([disabled])", timeout=TIMEOUT_MS)
            yield tab, backend
            browser.close()
    finally:
        runtime.close()


def _send(page: Any, text: str, *, image: bool = False, wait: bool = True) -> None:
    page.wait_for_selector("#pr-msg textarea:not([disabled])", timeout=TIMEOUT_MS)
    if image:
        page.set_input_files("#pr-msg input[type=file]", str(HDMI_JPG))
        page.wait_for_selector("#pr-msg .thumbnail-item img", timeout=TIMEOUT_MS)
    before = page.locator("#pr-chat .user-row").count()
    page.fill("#pr-msg textarea", text)
    page.press("#pr-msg textarea", "Enter")
    page.wait_for_function("(n) => document.querySelectorAll('#pr-chat .user-row').length > n", arg=before, timeout=TIMEOUT_MS)
    if wait:
        _finished(page)


def _finished(page: Any) -> None:
    page.wait_for_selector("#pr-msg textarea:not([disabled])", timeout=TIMEOUT_MS)
    page.wait_for_function(  # every picture in the chat has loaded (they change the height last)
        "() => [...document.querySelectorAll('#pr-chat img')].every((i) => i.complete)", timeout=TIMEOUT_MS
    )
    page.wait_for_timeout(800)  # past Gradio's own 300 ms scroll delay


def test_the_chat_follows_every_answer_and_respects_scrolling_up(page: Any) -> None:
    page, backend = page
    gaps = []
    for number, text in enumerate(TURNS):
        _send(page, text, image=number == 0)
        gaps.append(page.evaluate(GAP))
    assert page.locator("#pr-chat .bot-row img.pr-pic").count() >= 8  # tall overlays in most answers
    assert all(gap <= 2 for gap in gaps), gaps  # at the newest answer after every one of 12 turns

    # scrolling up while an answer is on its way: the chat stays where the person is reading
    backend.pause_s = 1.5
    _send(page, "now the port next to it", wait=False)
    log = page.locator("#pr-chat [role=log]")
    box = log.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -1500)
    page.wait_for_timeout(200)
    reading = page.evaluate("() => document.querySelector('#pr-chat [role=log]').scrollTop")
    _finished(page)
    assert page.evaluate(GAP) > 500
    assert abs(page.evaluate("() => document.querySelector('#pr-chat [role=log]').scrollTop") - reading) <= 2

    # sending again brings the newest answer back into view
    backend.pause_s = 0.0
    _send(page, "find the HDMI label")
    assert page.evaluate(GAP) <= 2
