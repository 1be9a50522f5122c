"""Layout and event wiring of the chat app (the Blocks), plus its CSS and page scripts.

:func:`build_blocks` lays out the sessions column, the chat and the side panel and wires every
event to a handler of the app (:class:`~ui.protocols.ChatHandlers`); the handlers hold all behaviour and are tested
without a server.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import gradio as gr

from ui.render import intent_html, marks_summary, status_html
from ui.scroll import FOLLOW_NEWEST_JS
from ui.state import UIState
from ui.trackers import set_tracker, tracker_control

if TYPE_CHECKING:
    from ui.protocols import ChatHandlers

CSS = """
#pr-header h1 { margin: 0; font-size: 1.4rem; }
#pr-header p { margin: 2px 0 0; opacity: .75; font-size: .9rem; }
.pr-kv th { text-align: left; padding-right: 10px; font-weight: 600; opacity: .7; white-space: nowrap; }
.pr-kv td, .pr-kv th { padding: 2px 6px 2px 0; vertical-align: top; border: none; }
.pr-chip { display: inline-block; padding: 0 6px; margin: 1px 2px; border-radius: 10px; font-size: .85em;
           background: rgba(120,120,120,.15); }
.pr-excl { background: rgba(230,40,40,.15); }
.pr-rel { background: rgba(0,114,178,.15); }
.pr-none { opacity: .6; font-style: italic; }
.pr-swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 6px;
             vertical-align: middle; }
.pr-history table, .pr-latency table { font-size: .82em; width: 100%; }
.pr-history summary, .pr-latency summary { cursor: pointer; font-weight: 600; margin-top: 6px; }
.pr-status p { margin: 2px 0; }
#pr-side img { cursor: crosshair; }
#pr-intent table, #pr-intent tr, #pr-intent td, #pr-intent th,
#pr-status table, #pr-status tr, #pr-status td, #pr-status th { border: none !important; background: none !important; }
.pr-history tbody tr, .pr-latency tbody tr { border-top: 1px solid rgba(128,128,128,.25) !important; }
.pr-history td, .pr-history th, .pr-latency td, .pr-latency th { padding: 2px 6px !important; text-align: left; }
.pr-exports { display: flex; flex-direction: column; gap: 6px; }
.pr-dl { display: block; padding: 4px 10px; border-radius: 6px; font-size: .85rem; text-align: center;
         border: 1px solid rgba(128,128,128,.35); text-decoration: none !important; color: inherit !important; }
a.pr-dl:hover { background: rgba(128,128,128,.12); }
.pr-dl[disabled] { opacity: .5; cursor: not-allowed; background: none; }
#pr-chat img.pr-pic { max-width: 100%; height: auto; display: block; border-radius: 4px; }
#pr-chat .message-row { content-visibility: auto; contain-intrinsic-size: auto 120px; }
#pr-gallery .caption-label { white-space: normal; overflow: hidden; max-height: 3.2em; font-size: .72rem;
                             line-height: 1.1rem; max-width: calc(100% - 8px); }
"""

PAGE_JS = """
() => {
  // Gradio marks chat images loading="lazy"; the browser then waits for layout before it even
  // asks for a new mask overlay. Load pictures as soon as they are inserted instead.
  const eager = (node) => {
    if (node.nodeType !== 1) return;
    if (node.tagName === "IMG" && node.loading === "lazy") node.loading = "eager";
    node.querySelectorAll && node.querySelectorAll('img[loading="lazy"]').forEach((img) => { img.loading = "eager"; });
  };
  // Gradio reads a message's aria-label from its raw text, so screen readers would hear our
  // <img>/<span> markup: say "image: <alt>" for pictures and drop the other tags.
  const speakable = (label) => {
    const box = document.createElement("textarea");
    box.innerHTML = label
      .replace(/<img\\b[^>]*\\balt="([^"]*)"[^>]*>/gi, "image: $1")
      .replace(/<[^>]+>/g, "");
    return box.value;
  };
  const relabel = (node) => {
    if (node.nodeType !== 1) return;
    const found = node.matches && node.matches("#pr-chat [aria-label]") ? [node] : [];
    node.querySelectorAll && found.push(...node.querySelectorAll("#pr-chat [aria-label]"));
    for (const el of found) {
      const label = el.getAttribute("aria-label");
      if (label && label.includes("<")) el.setAttribute("aria-label", speakable(label));
    }
  };
  new MutationObserver((records) => records.forEach((r) => {
    r.addedNodes.forEach((n) => { eager(n); relabel(n); });
    if (r.type === "attributes") relabel(r.target);
  })).observe(document.body, {childList: true, subtree: true, attributes: true, attributeFilter: ["aria-label"]});
  (FOLLOW_NEWEST)();
}
""".replace("FOLLOW_NEWEST", FOLLOW_NEWEST_JS.strip())
"""Page script: eager chat pictures, speakable message labels, the chat following the newest answer."""

URL_SYNC_JS = """
(sid) => {
  const url = new URL(window.location.href);
  if (sid) { url.searchParams.set("session", sid); } else { url.searchParams.delete("session"); }
  window.history.replaceState(null, "", url.toString());
}
"""


def build_blocks(ui: ChatHandlers) -> gr.Blocks:
    """Build the app's Blocks (not launched) with the queue configured."""
    with gr.Blocks(title=ui.title, fill_width=True, delete_cache=(3600, 86400), analytics_enabled=False) as demo:
        state = gr.State(UIState())
        browser = gr.BrowserState({}, storage_key="pixelrs-ui", secret=ui.browser_secret)
        gr.HTML(
            f"<h1>{html.escape(ui.title)} <small style='font-weight:400;opacity:.6'>· multi-turn pixel reasoning</small></h1>"
            "<p>Upload an image, ask for something in it, then refine over several turns. "
            "Click the image on the right to correct a mask.</p>",
            elem_id="pr-header",
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=230):
                new_btn = gr.Button("+ New session", variant="primary", elem_id="pr-new")
                gallery = gr.Gallery(
                    label="Your sessions", columns=2, allow_preview=False, height=380, object_fit="cover",
                    elem_id="pr-gallery", interactive=False, buttons=[],
                )
                refresh_btn = gr.Button("Refresh list", size="sm", elem_id="pr-refresh")
                with gr.Accordion("This session", open=True):
                    sid_box = gr.Textbox(label="Session id", max_lines=1, elem_id="pr-sid", buttons=["copy"])
                    open_btn = gr.Button("Open by id", size="sm", elem_id="pr-open")
                    title_box = gr.Textbox(label="Title", max_lines=1, elem_id="pr-title")
                    rename_btn = gr.Button("Rename", size="sm", elem_id="pr-rename")
                    delete_btn = gr.Button("Delete session", size="sm", variant="stop", elem_id="pr-delete", interactive=False)
            with gr.Column(scale=3, min_width=420):
                chatbot = gr.Chatbot(
                    label="Chat", elem_id="pr-chat", height=620, latex_delimiters=[], allow_tags=False,
                    feedback_options=None, buttons=["copy"], group_consecutive_messages=False,
                    autoscroll=False,  # ui/scroll.py follows the newest answer instead
                    placeholder="**Upload an image** with the paperclip button below and ask for something in it, e.g. *find the HDMI label*.",
                )
                msg = gr.MultimodalTextbox(
                    elem_id="pr-msg", sources=["upload"], file_count="single", show_label=False, autofocus=True,
                    placeholder="Ask about the image, or attach one with the paperclip …",
                )
                with gr.Row():
                    stop_btn = gr.Button("Stop", size="sm", variant="secondary", elem_id="pr-stop", scale=0, min_width=90)
                    retry_btn = gr.Button(
                        "Retry", size="sm", variant="secondary", elem_id="pr-retry", scale=0, min_width=90, visible=False
                    )
            with gr.Column(scale=2, min_width=320):
                side = gr.Image(
                    label="Current image and mask (click to correct)", elem_id="pr-side", interactive=False,
                    type="filepath", format="png", buttons=["download", "fullscreen"], height=380,
                )
                view = gr.Radio(
                    [("Overlay", "overlay"), ("Mask only", "mask"), ("Image only", "image")],
                    value="overlay", label="Show", elem_id="pr-view",
                )
                mode = gr.Radio(
                    [("Add (+)", "positive"), ("Remove (−)", "negative"), ("Box (2 clicks)", "box")],
                    value="positive", label="Click mode", elem_id="pr-mode",
                )
                marks_info = gr.Markdown(marks_summary(UIState().marks, "positive"), elem_id="pr-marks")
                with gr.Row():
                    apply_btn = gr.Button("Apply correction", variant="primary", size="sm", elem_id="pr-apply")
                    clear_btn = gr.Button("Clear clicks", size="sm", elem_id="pr-clear")
                prompts_box = gr.Textbox(visible=False, elem_id="pr-prompts")
                with gr.Accordion("Tracked intent", open=True):
                    tracker_radio = tracker_control(ui.runtime)
                    intent_box = gr.HTML(intent_html(None), elem_id="pr-intent")
                status_box = gr.HTML(status_html(ui.runtime.backend_name, []), elem_id="pr-status")
                with gr.Accordion("Export", open=True):
                    exports_box = gr.HTML(ui.exports(UIState()), elem_id="pr-exports")

        panel = [chatbot, side, intent_box, status_box, sid_box, title_box, marks_info, delete_btn, retry_btn, state, browser]
        downloads = [exports_box]  # links; each file is built when its link is followed
        after = [msg, gallery, *downloads, status_box, side, sid_box, title_box, retry_btn, browser, state]
        hidden: dict[str, Any] = {"api_visibility": "private"}

        def url_sync(event: Any) -> Any:
            return event.then(None, [sid_box], None, js=URL_SYNC_JS, **hidden)

        # Events that output the chat show their progress on the message box only: the page keeps
        # every component that ever showed progress, and re-reads (deep-copies) each one's value on
        # every later status message of any event; with the chat among them that grew per turn.
        busy: dict[str, Any] = {"show_progress_on": [msg]}
        url_sync(demo.load(ui.on_load, [browser, state], [*panel, gallery, *downloads], **busy, **hidden))
        # chat turns and corrections share one limit: at most `concurrency` model turns at once
        turn_opts: dict[str, Any] = {"show_progress": "hidden", "trigger_mode": "once", "concurrency_id": "turn", **busy}
        sent = msg.submit(ui.send, [msg, state], [msg, *panel], api_name="send", **turn_opts)
        url_sync(sent.then(ui.after_turn, [state], after, **hidden))
        corrected = apply_btn.click(ui.correct, [prompts_box, state], [msg, *panel], api_name="correct", **turn_opts)
        url_sync(corrected.then(ui.after_turn, [state], after, **hidden))
        retried = retry_btn.click(ui.retry, [state], [msg, *panel], api_name="retry", **turn_opts)
        url_sync(retried.then(ui.after_turn, [state], after, **hidden))
        # not queued behind turns: a stop must reach the running turn while it runs
        stop_btn.click(ui.stop, [state], None, api_name="stop", show_progress="hidden", concurrency_limit=None)
        side.select(ui.on_image_click, [state], [side, marks_info, state], show_progress="hidden", **hidden)
        clear_btn.click(ui.clear_clicks, [state], [side, marks_info, state], show_progress="hidden", **hidden)
        view.change(ui.set_view, [view, state], [side, state], show_progress="hidden", **hidden)
        mode.change(ui.set_click_mode, [mode, state], [side, marks_info, state], show_progress="hidden", **hidden)
        url_sync(new_btn.click(ui.new_session, [state], [*panel, *downloads], api_name="new_session", **busy))
        url_sync(gallery.select(ui.open_listed, [state], [*panel, *downloads], **busy, **hidden))
        url_sync(open_btn.click(ui.open_session, [sid_box, state], [*panel, *downloads], api_name="open_session", **busy))
        rename_btn.click(ui.rename, [title_box, state], [*panel, gallery], api_name="rename", **busy)
        url_sync(delete_btn.click(ui.delete, [state], [*panel, gallery, *downloads], api_name="delete_session", **busy))
        refresh_btn.click(ui.refresh, [state], [gallery], api_name="list_sessions")
        tracker_radio.change(set_tracker, [tracker_radio, state], [state], api_name="set_tracker", show_progress="hidden")
        if ui.mcp:
            from ui.mcp_tools import add_mcp_tools

            add_mcp_tools(ui)
    demo.queue(default_concurrency_limit=ui.concurrency)
    return demo
