"""Export downloads of a session: current mask PNG, all masks (PNG zip + COCO-RLE JSON), session zip."""

from __future__ import annotations

import json
import zipfile
from typing import TYPE_CHECKING, NamedTuple

from graphs.export import coco_annotations, export_zip, mask_filename
from ui.files import FileStore, content_key

if TYPE_CHECKING:
    from agent.memory import MaskRecord, Memory, SessionHistory


class Exports(NamedTuple):
    """Values of the four download buttons (file paths, or None when there is nothing to export)."""

    mask_png: str | None
    masks_zip: str | None
    coco_json: str | None
    session_zip: str | None


NO_EXPORTS = Exports(None, None, None, None)


def _mask_png(files: FileStore, mask: MaskRecord) -> bytes:
    """PNG bytes of a stored mask, encoded once per app and kept by the mask's content.

    Stored masks never change; without the cache the exports written after every turn decoded
    and re-encoded every mask of the session again, a cost that grew with the session.
    """
    key = content_key("mask-png", mask.rle.get("size"), mask.rle.get("counts"))
    return files.memo_bytes(key, lambda: mask.mask().to_png())


def write_exports(
    memory: Memory, files: FileStore, history: SessionHistory, *, mask_id: int | None, owner: str | None
) -> Exports:
    """Write the export files of a session into a fresh folder and return their paths.

    ``mask_id`` picks the "current mask" file (the one the tab shows); without it, the session's
    current mask as memory defines it.
    """
    session_id = history.session.id
    out = files.export_dir(session_id)
    short = session_id[:8]
    session_zip = out / f"pixelrs_session_{short}.zip"
    session_zip.write_bytes(export_zip(memory, session_id, owner=owner))
    if not history.masks:
        return Exports(None, None, None, str(session_zip))
    current: MaskRecord | None = next((m for m in history.masks if m.id == mask_id), None) or history.current_mask
    mask_png = None
    if current is not None:
        mask_png = out / mask_filename(current)
        mask_png.write_bytes(_mask_png(files, current))
    coco = json.dumps(coco_annotations(history), indent=2).encode()
    coco_json = out / f"pixelrs_masks_{short}.json"
    coco_json.write_bytes(coco)
    masks_zip = out / f"pixelrs_masks_{short}.zip"
    with zipfile.ZipFile(masks_zip, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for mask in history.masks:
            archive.writestr(mask_filename(mask), _mask_png(files, mask))
        archive.writestr("masks.json", coco)
    return Exports(str(mask_png) if mask_png else None, str(masks_zip), str(coco_json), str(session_zip))
