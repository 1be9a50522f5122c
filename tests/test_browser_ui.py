"""End-to-end tests of the chat app in real headless Chromium against a live server on a free port.

Screenshots go to ``tests/artifacts/`` (kept out of git) for review.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.memory import Memory
from agent.types import Mask
from graphs.runtime import Runtime
from tests._data import HDMI_JPG
from tools.backends.base import ExplainRequest, SegmentRequest, SegmentResult
from tools.backends.lite import LiteBackend
from ui.app import ChatUI
from ui.testing import CHROMIUM_ARGS, free_port, running_app

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
TIMEOUT_MS = 30_000

BOT_IMAGES = "#pr-chat .bot-row img.pr-pic"
"""Overlay images in assistant messages (one per segmenting turn)."""


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian `chromium` not found on PATH; install it (apt-get install chromium) to run browser tests")
    return path


@pytest.fixture(scope="module")
def live(tmp_path_factory, chromium: str) -> Iterator[tuple[str, Runtime]]:
    db = tmp_path_factory.mktemp("browser") / "db.sqlite"
    runtime = Runtime(memory=Memory(f"sqlite:///{db}"), backend=LiteBackend())
    ui = ChatUI(runtime)
    with running_app(ui) as url:
        yield url, runtime
    runtime.close()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        yield b
        b.close()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _ready(page: Any) -> None:
    page.wait_for_selector("#pr-msg textarea:not([disabled])", timeout=TIMEOUT_MS)


def _count(page: Any, selector: str) -> int:
    return int(page.locator(selector).count())


def _send(page: Any, text: str, image: Path | None = None) -> None:
    """Type (and attach), press Enter, and wait until the turn finished and the box is enabled again."""
    _ready(page)
    if image is not None:
        page.set_input_files("#pr-msg input[type=file]", str(image))
        page.wait_for_selector("#pr-msg .thumbnail-item img", timeout=TIMEOUT_MS)
    before = _count(page, "#pr-chat .user-row")
    page.fill("#pr-msg textarea", text)
    page.press("#pr-msg textarea", "Enter")
    page.wait_for_function(  # the turn started: the message is in the chat and the box disabled
        "(n) => document.querySelectorAll('#pr-chat .user-row').length > n", arg=before, timeout=TIMEOUT_MS
    )
    _ready(page)  # enabled again once the turn finished


def _wait_count(page: Any, selector: str, n: int) -> None:
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length === n", arg=[selector, n], timeout=TIMEOUT_MS
    )


def _session_id(page: Any) -> str:
    page.wait_for_function("() => document.querySelector('#pr-sid input, #pr-sid textarea')?.value?.length > 8", timeout=TIMEOUT_MS)
    return str(page.locator("#pr-sid input, #pr-sid textarea").first.input_value())


def _side_src(page: Any) -> str:
    return str(page.locator("#pr-side img").first.get_attribute("src"))


def _click_image(page: Any, x: float, y: float) -> None:
    """Click the side picture at image pixel (x, y), allowing for its letterboxing (object-fit)."""
    image = page.locator("#pr-side img").first
    image.scroll_into_view_if_needed()
    box = image.bounding_box()
    natural = page.evaluate("() => { const i = document.querySelector('#pr-side img'); return [i.naturalWidth, i.naturalHeight]; }")
    scale = min(box["width"] / natural[0], box["height"] / natural[1])
    left = (box["width"] - natural[0] * scale) / 2
    top = (box["height"] - natural[1] * scale) / 2
    image.click(position={"x": left + x * scale, "y": top + y * scale})


def test_three_turns_reload_export_and_click_correction(live, browser, tmp_path) -> None:
    url, runtime = live
    context = browser.new_context(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    try:
        page.goto(url)
        _ready(page)
        _shot(page, "01_empty")

        _send(page, "find the HDMI label", HDMI_JPG)
        _wait_count(page, BOT_IMAGES, 1)
        _shot(page, "02_first_mask")
        sid = _session_id(page)
        assert f"session={sid}" in page.url

        _send(page, "what does it say?")
        assert _count(page, BOT_IMAGES) == 1  # a question about the mask: no new mask
        assert "HDMI" in page.locator("#pr-chat .bot-row").last.inner_text()

        _send(page, "now the port next to it")
        _wait_count(page, BOT_IMAGES, 2)
        _shot(page, "03_three_turns")
        assert "port" in page.locator("#pr-intent").inner_text()
        assert "Revision history (3)" in page.locator("#pr-intent").inner_text()

        history = runtime.history(sid)
        assert [t.status for t in history.turns] == ["ok"] * 6
        # screen readers hear words, not our markup: pictures by their alt text, no tags
        labels = page.evaluate("() => [...document.querySelectorAll('#pr-chat [aria-label]')].map(e => e.getAttribute('aria-label'))")
        assert any("image: mask overlay" in label for label in labels)
        assert any("image: uploaded image" in label for label in labels)
        assert not [label for label in labels if "<" in label], labels

        # reload: the same session comes back from ?session= ...
        page.reload()
        _wait_count(page, BOT_IMAGES, 2)
        assert _session_id(page) == sid
        # ... and from the browser's storage when the URL has no query
        page.goto(url)
        _wait_count(page, BOT_IMAGES, 2)
        assert _session_id(page) == sid
        _shot(page, "04_resumed")

        # export the current mask: the downloaded PNG decodes to the stored mask
        page.wait_for_selector("#pr-dl-mask:not([disabled])", timeout=TIMEOUT_MS)
        with page.expect_download(timeout=TIMEOUT_MS) as info:
            page.click("#pr-dl-mask")
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
        stored = runtime.history(sid).current_mask
        assert saved.name.endswith(".png") and f"mask{stored.id}" in saved.name
        assert np.array_equal(Mask.from_png(saved.read_bytes()).array, stored.mask().array)
        with page.expect_download(timeout=TIMEOUT_MS) as info:
            page.click("#pr-dl-session")
        assert info.value.suggested_filename.endswith(".zip")

        # the side panel's view toggle: mask only, then back to the overlay
        overlay_src = _side_src(page)
        page.get_by_role("radio", name="Mask only", exact=True).check()
        page.wait_for_function("(src) => document.querySelector('#pr-side img')?.src !== src", arg=overlay_src, timeout=TIMEOUT_MS)
        _shot(page, "05a_mask_only")
        page.get_by_role("radio", name="Overlay", exact=True).check()
        page.wait_for_function("(src) => document.querySelector('#pr-side img')?.src === src", arg=overlay_src, timeout=TIMEOUT_MS)

        # click correction: add a positive click on the HDMI port and apply it
        before_src, before_id = _side_src(page), stored.id
        _click_image(page, 400, 212)  # the HDMI port, right of the label
        page.wait_for_function("() => (document.querySelector('#pr-marks')?.innerText || '').includes('1 positive')", timeout=TIMEOUT_MS)
        _shot(page, "05_click")
        page.click("#pr-apply")
        _wait_count(page, BOT_IMAGES, 3)
        _ready(page)
        page.wait_for_function("(src) => document.querySelector('#pr-side img')?.src !== src", arg=before_src, timeout=TIMEOUT_MS)
        _shot(page, "06_corrected")
        corrected = runtime.history(sid).current_mask
        assert corrected.id != before_id and corrected.source == "user-edit"
        assert not np.array_equal(corrected.mask().array, stored.mask().array)
        assert "Correction" in page.locator("#pr-chat .user-row").last.inner_text()

        # the conversation continues on the corrected mask
        _send(page, "why is this part important?")
        assert runtime.history(sid).turns[-1].status == "ok"
        _shot(page, "07_after_correction")
        assert page_errors == [], page_errors  # no JavaScript errors in the page
    finally:
        context.close()


def test_two_browsers_never_see_each_others_sessions(live, browser) -> None:
    url, runtime = live
    alice = browser.new_context(viewport={"width": 1400, "height": 950})
    bob = browser.new_context(viewport={"width": 1400, "height": 950})
    try:
        pa, pb = alice.new_page(), bob.new_page()
        pa.goto(url)
        pb.goto(url)
        _send(pa, "find the HDMI label", HDMI_JPG)
        _send(pb, "hello <b>bold</b> <img src=x onerror=alert(1)>")  # no image yet, HTML in the text
        assert "upload an image first" in pb.locator("#pr-chat .bot-row").last.inner_text().lower()
        shown = pb.locator("#pr-chat .user-row").last.inner_text()
        assert "<b>bold</b>" in shown and "<img src=x" in shown  # rendered as text
        assert _count(pb, "#pr-chat img[src='x']") == 0 and _count(pb, "#pr-chat .user-row b") == 0
        sid_a, sid_b = _session_id(pa), _session_id(pb)
        assert sid_a != sid_b
        pa.click("#pr-refresh")
        pb.click("#pr-refresh")
        _wait_count(pa, "#pr-gallery .gallery-item", 1)
        _wait_count(pb, "#pr-gallery .gallery-item", 1)
        assert "find the HDMI label" in pa.locator("#pr-gallery").inner_text()
        assert "find the HDMI label" not in pb.locator("#pr-gallery").inner_text()
        # bob types alice's session id: a one-line refusal, none of alice's chat
        pb.fill("#pr-sid input, #pr-sid textarea", sid_a)
        pb.click("#pr-open")
        pb.wait_for_function("() => (document.querySelector('#pr-chat')?.innerText || '').includes('another user')", timeout=TIMEOUT_MS)
        assert _count(pb, BOT_IMAGES) == 0 and "HDMI" not in pb.locator("#pr-chat").inner_text()
        # and ?session=<alice's id> in bob's URL does not open it either
        pb.goto(f"{url}/?session={sid_a}")
        pb.wait_for_function("() => (document.querySelector('#pr-chat')?.innerText || '').includes('another user')", timeout=TIMEOUT_MS)
        assert _count(pb, BOT_IMAGES) == 0
        _shot(pb, "08_bob_refused")
        _shot(pa, "09_alice")
        assert runtime.history(sid_a).turns[-1].status == "ok"
    finally:
        alice.close()
        bob.close()


def test_sessions_list_open_rename_new_delete(live, browser) -> None:
    url, runtime = live
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    page = context.new_page()
    try:
        page.goto(url)
        _send(page, "find the HDMI label", HDMI_JPG)
        first = _session_id(page)
        page.click("#pr-new")
        page.wait_for_function("() => document.querySelector('#pr-sid input, #pr-sid textarea')?.value === ''", timeout=TIMEOUT_MS)
        assert _count(page, BOT_IMAGES) == 0
        _send(page, "find the HDMI label", HDMI_JPG)
        second = _session_id(page)
        assert second != first
        _wait_count(page, "#pr-gallery .gallery-item", 2)
        # rename the open session; the caption follows
        page.fill("#pr-title input, #pr-title textarea", "Laptop ports")
        page.click("#pr-rename")
        page.wait_for_function("() => (document.querySelector('#pr-gallery')?.innerText || '').includes('Laptop ports')", timeout=TIMEOUT_MS)
        # open the older one from the list (newest first, so it is the second thumbnail)
        page.locator("#pr-gallery .gallery-item button").nth(1).click()
        page.wait_for_function("(sid) => document.querySelector('#pr-sid input, #pr-sid textarea')?.value === sid", arg=first, timeout=TIMEOUT_MS)
        _wait_count(page, BOT_IMAGES, 1)
        _shot(page, "10_sessions")
        # delete needs two clicks
        page.click("#pr-delete")
        page.wait_for_function("() => (document.querySelector('#pr-delete')?.innerText || '').includes('again')", timeout=TIMEOUT_MS)
        page.click("#pr-delete")
        page.wait_for_function("() => document.querySelector('#pr-sid input, #pr-sid textarea')?.value === ''", timeout=TIMEOUT_MS)
        _wait_count(page, "#pr-gallery .gallery-item", 1)
        assert first not in [s.id for s in runtime.list_sessions()]
        assert "Laptop ports" in page.locator("#pr-gallery").inner_text()
    finally:
        context.close()


def test_resume_after_server_restart(tmp_path, browser) -> None:
    """Stop the server, start a new one (new runtime, same database and port), reload the page."""
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    port = free_port()
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    page = context.new_page()
    try:
        runtime = Runtime(memory=Memory(db), backend=LiteBackend())
        with running_app(ChatUI(runtime), server_port=port) as url:
            page.goto(url)
            _send(page, "find the HDMI label", HDMI_JPG)
            _wait_count(page, BOT_IMAGES, 1)
            sid = _session_id(page)
        runtime.close()
        restarted = Runtime(memory=Memory(db), backend=LiteBackend())
        with running_app(ChatUI(restarted), server_port=port) as url:
            page.goto(url)  # no ?session=: the browser's storage remembers the session and its owner
            _wait_count(page, BOT_IMAGES, 1)
            assert _session_id(page) == sid
            assert "HDMI label" in page.locator("#pr-intent").inner_text()
            _send(page, "what does it say?")
            assert "HDMI" in page.locator("#pr-chat .bot-row").last.inner_text()
            _shot(page, "11_after_restart")
        restarted.close()
    finally:
        context.close()


class SlowLite:
    """Lite's real answers, explained at a slow model's pace (so there is time to press Stop)."""

    name = "lite"

    def __init__(self, delay_s: float) -> None:
        self.inner, self.delay_s = LiteBackend(), delay_s

    def segment(self, request: SegmentRequest) -> SegmentResult:
        return self.inner.segment(request)

    def explain(self, request: ExplainRequest) -> Iterator[str]:
        for chunk in self.inner.explain(request):
            time.sleep(self.delay_s)
            yield chunk

    def forget_session(self, session_id: str) -> None:
        self.inner.forget_session(session_id)


def test_stop_button_stops_a_streaming_answer(tmp_path, browser) -> None:
    backend = SlowLite(delay_s=0.3)
    runtime = Runtime(memory=Memory(f"sqlite:///{tmp_path / 'db.sqlite'}"), backend=backend)  # type: ignore[arg-type]
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    page = context.new_page()
    try:
        with running_app(ChatUI(runtime)) as url:
            page.goto(url)
            _ready(page)
            page.set_input_files("#pr-msg input[type=file]", str(HDMI_JPG))
            page.wait_for_selector("#pr-msg .thumbnail-item img", timeout=TIMEOUT_MS)
            page.fill("#pr-msg textarea", "find the HDMI label")
            page.press("#pr-msg textarea", "Enter")
            _wait_count(page, BOT_IMAGES, 1)  # the mask is shown; the explanation is streaming slowly
            page.get_by_role("button", name="Stop").click()
            page.wait_for_function(
                "() => document.querySelector('#pr-chat').innerText.includes('Stopped')", timeout=TIMEOUT_MS
            )
            _ready(page)  # the message box is usable again
            _shot(page, "12_stopped")
            sid = _session_id(page)
            assert _count(page, BOT_IMAGES) == 0  # the stopped answer's mask was not kept
            backend.delay_s = 0.0
            _send(page, "find the HDMI label")
            _wait_count(page, BOT_IMAGES, 1)
            assert "HDMI" in page.locator("#pr-chat .bot-row").last.inner_text()
        history = runtime.memory.history(sid)
        assert [(t.role, t.status) for t in history.turns] == [("user", "failed"), ("user", "ok"), ("assistant", "ok")]
        assert "stopped" in (history.turns[0].error or "")
    finally:
        context.close()
        runtime.close()
