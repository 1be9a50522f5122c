"""Export downloads of a session: current mask PNG, all masks (PNG zip + COCO-RLE JSON), session zip.

Nothing is built after a turn: the export panel holds signed links (:mod:`ui.links`) and a file
is built from SQL only when its link is followed (:mod:`ui.routes`), so a long session costs
nothing per turn and a download always reflects what is stored at that moment.
"""

from __future__ import annotations

import html
import io
import json
import zipfile
from typing import TYPE_CHECKING, NamedTuple

from graphs.export import coco_annotations, export_zip, mask_filename
from ui.files import FileStore, content_key
from ui.links import ExportKind, Links

if TYPE_CHECKING:
    from agent.memory import MaskRecord, Memory, SessionHistory

BUTTONS: tuple[tuple[ExportKind, str, str], ...] = (
    ("mask.png", "Current mask (PNG)", "pr-dl-mask"),
    ("masks.zip", "All masks (PNG + COCO JSON, zip)", "pr-dl-masks"),
    ("masks.json", "COCO-RLE JSON", "pr-dl-coco"),
    ("session.zip", "Whole session (zip)", "pr-dl-session"),
)
"""Export kind, label and element id of each download link, in panel order."""


class ExportFile(NamedTuple):
    """One built download: its file name, bytes and media type."""

    name: str
    data: bytes
    media_type: str


def _mask_png(files: FileStore, mask: MaskRecord) -> bytes:
    """PNG bytes of a stored mask, encoded once per app and kept by the mask's content."""
    key = content_key("mask-png", mask.rle.get("size"), mask.rle.get("counts"))
    return files.memo_bytes(key, lambda: mask.mask().to_png())


def build_export(
    memory: Memory, files: FileStore, history: SessionHistory, kind: ExportKind, *, mask_id: int | None
) -> ExportFile | None:
    """Build one export of a stored session; None when there is nothing of that kind (no masks).

    ``mask_id`` picks the "current mask" file (the one the tab shows); without it, or when it is
    not a mask of this session, the session's current mask as memory defines it.
    """
    short = history.session.id[:8]
    if kind == "session.zip":
        data = export_zip(memory, history.session.id, owner=history.session.owner)
        return ExportFile(f"pixelrs_session_{short}.zip", data, "application/zip")
    if not history.masks:
        return None
    if kind == "mask.png":
        current = next((m for m in history.masks if m.id == mask_id), None) or history.current_mask
        return None if current is None else ExportFile(mask_filename(current), _mask_png(files, current), "image/png")
    coco = json.dumps(coco_annotations(history), indent=2).encode()
    if kind == "masks.json":
        return ExportFile(f"pixelrs_masks_{short}.json", coco, "application/json")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for mask in history.masks:
            archive.writestr(mask_filename(mask), _mask_png(files, mask))
        archive.writestr("masks.json", coco)
    return ExportFile(f"pixelrs_masks_{short}.zip", buffer.getvalue(), "application/zip")


def exports_html(
    links: Links, session_id: str | None, owner: str | None, *, has_masks: bool, mask_id: int | None
) -> str:
    """Render the export panel: a download link per kind, or a disabled button when there is nothing to get."""
    items = []
    for kind, label, elem_id in BUTTONS:
        available = session_id is not None and (has_masks or kind == "session.zip")
        if available and session_id is not None:
            href = html.escape(links.export(session_id, kind, owner, mask_id if kind == "mask.png" else None), quote=True)
            items.append(f'<a id="{elem_id}" class="pr-dl" href="{href}" download>{html.escape(label)}</a>')
        else:
            items.append(f'<button id="{elem_id}" class="pr-dl" disabled>{html.escape(label)}</button>')
    return f'<div class="pr-exports">{"".join(items)}</div>'
