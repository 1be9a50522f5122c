"""Plug-in answers in real headless Chromium: a measure count draws its masks, a zoom's close-up
loads in the chat, and both are there again after a reload (read back from SQL)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pixelrs_measure import MeasureTool
from pixelrs_zoom import zoom

from agent.memory import Memory
from graphs.runtime import Runtime
from ui.app import ChatUI
from ui.testing import CHROMIUM_ARGS, running_app

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
COFFEE = REPO / "data" / "photos" / "coffee.png"
ARTIFACTS = REPO / "tests" / "artifacts"
TIMEOUT_MS = 60_000
BOT_PICTURES = "#pr-chat .bot-row img.pr-pic"
LOADED = """(sel) => [...document.querySelectorAll(sel)].map((i) => [i.alt, i.complete ? i.naturalWidth : 0])"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian `chromium` not found on PATH; install it (apt-get install chromium) to run browser tests")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        yield b
        b.close()


def _send(page: Any, text: str, image: Path | None = None) -> None:
    page.wait_for_selector("#pr-msg textarea:not([disabled])", timeout=TIMEOUT_MS)
    if image is not None:
        page.set_input_files("#pr-msg input[type=file]", str(image))
        page.wait_for_selector("#pr-msg .thumbnail-item img", timeout=TIMEOUT_MS)
    before = page.locator("#pr-chat .user-row").count()
    page.fill("#pr-msg textarea", text)
    page.press("#pr-msg textarea", "Enter")
    page.wait_for_function(
        "(n) => document.querySelectorAll('#pr-chat .user-row').length > n", arg=before, timeout=TIMEOUT_MS
    )
    page.wait_for_selector("#pr-msg textarea:not([disabled])", timeout=TIMEOUT_MS)


def _pictures(page: Any, n: int) -> list[tuple[str, int]]:
    """Wait until ``n`` assistant pictures have loaded; return (alt, natural width) of each."""
    page.wait_for_function(
        "([sel, n]) => { const s = [...document.querySelectorAll(sel)];"
        " return s.length === n && s.every((i) => i.complete && i.naturalWidth > 0); }",
        arg=[BOT_PICTURES, n], timeout=TIMEOUT_MS,
    )
    return [(str(alt), int(width)) for alt, width in page.evaluate(LOADED, BOT_PICTURES)]


def test_plugin_masks_and_pictures_show_in_the_browser(tmp_path: Path, lite: Any, browser: Any) -> None:
    runtime = Runtime(memory=Memory(f"sqlite:///{tmp_path / 'db.sqlite'}"), backend=lite, tools=[MeasureTool(), zoom])
    ui = ChatUI(runtime)
    try:
        with running_app(ui) as url:
            context = browser.new_context(viewport={"width": 1500, "height": 1000})
            page = context.new_page()
            page.goto(url)
            _send(page, "find the cup", COFFEE)
            _send(page, "how many are there?")
            assert "I count" in page.locator("#pr-chat .bot-row").last.inner_text()
            _send(page, "zoom in")
            shown = _pictures(page, 3)  # the cup, the counted mask, the close-up
            assert [alt for alt, _ in shown[:2]] == ["mask overlay", "mask overlay"]
            alt, width = shown[2]
            assert alt.startswith("Close-up of the cup") and width >= 400
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "plugins_live.png"), full_page=True)
            page.reload()  # resumes the session from the browser's storage
            again = _pictures(page, 3)
            assert [a for a, _ in again] == [a for a, _ in shown]
            page.screenshot(path=str(ARTIFACTS / "plugins_reloaded.png"), full_page=True)
            context.close()
    finally:
        ui.close()
        runtime.close()
