"""Browser latency of the chat app: Enter -> first streamed update, and Enter -> mask shown.

Starts the app on the lite backend (SQLite in a temp folder) in this process, drives it from
headless Chromium, and times in the page itself (``performance.now()``): the keydown of Enter,
the first new chat row (the user's message and the progress bubble, streamed by the handler),
and the moment the turn's overlay image has loaded in the chat. The backend's own segment time
comes from the stored tool call of each turn. Prints one JSON object.

Targets (issue 3): first update <= 300 ms; mask shown <= segment backend time + 300 ms.
Usage: ``python bench/bench_ui.py [--turns 20] [--runs 3]``: each run is a fresh server, browser
and session; the summary pools the turns of all runs and also lists each run's medians.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from agent.memory import Memory  # noqa: E402
from graphs.runtime import Runtime  # noqa: E402
from tools.backends.lite import LiteBackend  # noqa: E402
from ui.app import ChatUI  # noqa: E402
from ui.testing import CHROMIUM_ARGS, running_app  # noqa: E402

PROMPTS = ["find the HDMI label", "now the port next to it", "find the white text", "the port on the right"]
BOT_IMAGES = "#pr-chat .bot-row img.pr-pic"

INSTRUMENT = """
() => {
  const BOT = "__BOT__";
  window.__pr = null;
  const ta = document.querySelector('#pr-msg textarea');
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      window.__pr = {t0: performance.now(), first: null, mask: null,
        rows: document.querySelectorAll('#pr-chat .message-row').length,
        imgs: document.querySelectorAll(BOT).length};
    }
  }, true);
  const check = () => {
    const s = window.__pr;
    if (!s) return;
    if (s.first === null && document.querySelectorAll('#pr-chat .message-row').length > s.rows) s.first = performance.now();
    if (s.mask === null) {
      const imgs = document.querySelectorAll(BOT);
      if (imgs.length > s.imgs) {
        const img = imgs[imgs.length - 1];
        if (img.complete && img.naturalWidth > 0) s.mask = performance.now();
        else img.addEventListener('load', () => { if (s.mask === null) s.mask = performance.now(); }, {once: true});
      }
    }
  };
  new MutationObserver(check).observe(document.body, {childList: true, subtree: true, attributes: true});
}
""".replace("__BOT__", BOT_IMAGES)


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 1),
        "p90": round(ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))], 1),
        "max": round(ordered[-1], 1),
    }


def run_once(turns: int, image: Path, chromium: str) -> list[dict[str, float | None]]:
    """One fresh server, browser and session: a warm-up turn, then ``turns`` measured turns."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(memory=Memory(f"sqlite:///{tmp}/bench.db"), backend=LiteBackend())
        ui = ChatUI(runtime)
        rows: list[dict[str, float | None]] = []
        with running_app(ui) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
            page = browser.new_page(viewport={"width": 1400, "height": 950})
            page.goto(url)
            page.wait_for_selector("#pr-msg textarea:not([disabled])", timeout=30_000)
            page.evaluate(INSTRUMENT)

            def turn(text: str, image: Path | None) -> dict[str, float | None]:
                page.wait_for_selector("#pr-msg textarea:not([disabled])", timeout=30_000)
                if image is not None:
                    page.set_input_files("#pr-msg input[type=file]", str(image))
                    page.wait_for_selector("#pr-msg .thumbnail-item img", timeout=30_000)
                page.fill("#pr-msg textarea", text)
                page.press("#pr-msg textarea", "Enter")
                page.wait_for_selector("#pr-msg textarea[disabled]", timeout=30_000)
                page.wait_for_selector("#pr-msg textarea:not([disabled])", timeout=60_000)
                time.sleep(0.05)
                s = page.evaluate("() => window.__pr")
                sid = page.locator("#pr-sid input, #pr-sid textarea").first.input_value()
                last = runtime.history(sid).turns[-1]
                segment = [c.duration_ms for c in last.tool_calls if c.tool == "segment"]
                return {
                    "first_update_ms": s["first"] - s["t0"] if s["first"] is not None else None,
                    "mask_shown_ms": s["mask"] - s["t0"] if s["mask"] is not None else None,
                    "segment_backend_ms": segment[0] if segment else None,
                    "turn_latency_ms": last.latency_ms,
                }

            turn("find the HDMI label", image)  # warm-up: OCR engine, per-image analysis, first render
            page.click("#pr-new")
            page.wait_for_function("() => document.querySelector('#pr-sid input, #pr-sid textarea').value === ''")
            rows.append(turn(PROMPTS[0], image))
            for i in range(1, turns):
                rows.append(turn(PROMPTS[i % len(PROMPTS)], None))
            browser.close()
        runtime.close()
    return rows


def _overheads(rows: list[dict[str, float | None]]) -> list[float]:
    return [r["mask_shown_ms"] - r["segment_backend_ms"] for r in rows if r["mask_shown_ms"] is not None and r["segment_backend_ms"] is not None]  # type: ignore[operator]


def main() -> None:
    """Run the benchmark and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=20, help="measured segmenting turns per run")
    parser.add_argument("--runs", type=int, default=1, help="independent runs (fresh server, browser, session)")
    parser.add_argument("--image", type=Path, default=REPO / "data/photos/textcaps_hdmi.jpg")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        print(json.dumps({"benchmark": "ui_browser_latency", "skipped": "chromium not found"}))
        return
    runs: list[list[dict[str, float | None]]] = []
    for _ in range(args.runs):
        with contextlib.redirect_stdout(sys.stderr):  # Gradio prints server messages; stdout is the JSON
            runs.append(run_once(args.turns, args.image, chromium))
    rows = [r for run in runs for r in run]
    firsts = [r["first_update_ms"] for r in rows if r["first_update_ms"] is not None]
    masked = [r for r in rows if r["mask_shown_ms"] is not None and r["segment_backend_ms"] is not None]
    overheads = _overheads(rows)
    result = {
        "benchmark": "ui_browser_latency",
        "backend": "lite",
        "browser": "headless chromium",
        "runs": len(runs),
        "turns": len(rows),
        "segmenting_turns": len(masked),
        "first_update_ms": _stats(firsts),
        "mask_shown_ms": _stats([r["mask_shown_ms"] for r in masked]),  # type: ignore[misc]
        "segment_backend_ms": _stats([r["segment_backend_ms"] for r in masked]),  # type: ignore[misc]
        "mask_shown_minus_backend_ms": _stats(overheads),
        "per_run_medians": [
            {
                "first_update_ms": round(statistics.median([r["first_update_ms"] for r in run if r["first_update_ms"] is not None]), 1),  # type: ignore[type-var]
                "mask_shown_minus_backend_ms": round(statistics.median(_overheads(run)), 1) if _overheads(run) else None,
            }
            for run in runs
        ],
        "target": {"first_update_ms": 300, "mask_shown_minus_backend_ms": 300},
        "pass_median": bool(firsts and overheads) and statistics.median(firsts) <= 300 and statistics.median(overheads) <= 300,
        "pass_p90": bool(firsts and overheads) and _stats(firsts)["p90"] <= 300 and _stats(overheads)["p90"] <= 300,
        "pass_every_turn": bool(firsts and overheads) and max(firsts) <= 300 and max(overheads) <= 300,
        "per_turn": [{k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()} for r in runs[-1]],
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
