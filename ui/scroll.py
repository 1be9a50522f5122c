"""Page script that keeps the chat at the newest answer unless the person scrolled up to read.

Gradio's own autoscroll scrolls only when the chat is near its bottom *after* an update is in;
an answer taller than its margin (a mask overlay that finishes loading later) leaves the chat
"not at the bottom" and it never follows again. This script decides from what the person did
instead: the chat is *pinned* to its bottom until they scroll away from it (wheel, touch, keys,
scrollbar), pinned again when they scroll back down or start a turn (Enter, Apply correction,
Retry), and while pinned every change of the chat's content or size scrolls it to the bottom.
"""

from __future__ import annotations

FOLLOW_NEWEST_JS = """
() => {
  const setUp = (log) => {
    if (!log || log.dataset.prFollow) return;
    log.dataset.prFollow = "1";
    let pinned = true;
    let userAt = 0;
    const gap = () => log.scrollHeight - log.scrollTop - log.clientHeight;
    const stick = () => { if (pinned && gap() > 1) log.scrollTop = log.scrollHeight; };
    const soon = () => requestAnimationFrame(stick);
    const byUser = () => { userAt = performance.now(); };
    for (const kind of ["wheel", "touchmove", "keydown", "pointerdown"]) {
      log.addEventListener(kind, byUser, {passive: true});
    }
    log.addEventListener("scroll", () => {
      if (gap() <= 40) pinned = true;  // back at the newest answer, however it got there
      else if (performance.now() - userAt < 1000) pinned = false;  // the person scrolled up
    }, {passive: true});
    new MutationObserver(soon).observe(log, {childList: true, subtree: true, characterData: true});
    new ResizeObserver(soon).observe(log);
    log.addEventListener("load", soon, true);  // pictures grow the chat when they arrive
    const follow = () => { pinned = true; soon(); };
    document.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && e.target.closest && e.target.closest("#pr-msg")) follow();
    }, true);
    document.addEventListener("click", (e) => {
      if (e.target.closest && e.target.closest("#pr-apply, #pr-retry")) follow();
    }, true);
    soon();
  };
  const find = () => setUp(document.querySelector("#pr-chat [role=log]"));
  find();
  new MutationObserver(find).observe(document.body, {childList: true, subtree: true});
}
"""
"""Installed once per page (from the page script); re-attaches if Gradio re-creates the chat."""
