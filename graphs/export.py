"""Exporting a session: mask PNGs, COCO-RLE JSON (label, turn, score), the transcript, and a zip."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

from agent.memory import MaskRecord, Memory, SessionHistory
from agent.types import shown_masks


def mask_filename(mask: MaskRecord) -> str:
    """Stable file name of a mask: turn index, mask id and a slug of its label."""
    slug = re.sub(r"[^a-z0-9]+", "-", mask.label.lower()).strip("-")[:40] or "mask"
    return f"turn{mask.turn_index:03d}_mask{mask.id}_{slug}.png"


def shown_ids(masks: list[MaskRecord]) -> set[int]:
    """Return the ids of the masks the chat showed (:func:`agent.types.shown_masks`, per turn)."""
    by_turn: dict[int, list[MaskRecord]] = {}
    for m in masks:
        by_turn.setdefault(m.turn_id, []).append(m)
    return {m.id for turn_masks in by_turn.values() for m in shown_masks(turn_masks)}


def coco_annotations(history: SessionHistory) -> dict[str, Any]:
    """Return the session's masks as a COCO-style results document with pixelrs fields per mask.

    ``role`` says what each mask was in its answer (``target``, ``instance`` of several targets,
    or ``alternative``) and ``shown`` whether the chat drew it.
    """
    image_sha = history.current_image_sha
    shown = shown_ids(history.masks)
    return {
        "session_id": history.session.id,
        "title": history.session.title,
        "image_sha256": image_sha,
        "annotations": [
            {
                "id": m.id,
                "turn": m.turn_index,
                "label": m.label,
                "score": m.score,
                "source": m.source,
                "role": m.role,
                "shown": m.id in shown,
                "area": m.area,
                "bbox": list(m.bbox),
                "segmentation": m.rle,
                "file": mask_filename(m),
            }
            for m in history.masks
        ],
    }


def transcript(history: SessionHistory) -> dict[str, Any]:
    """Return the conversation with acts, statuses, intents and mask ids per turn."""
    return {
        "session": {
            "id": history.session.id,
            "title": history.session.title,
            "owner": history.session.owner,
            "backend": history.session.backend,
            "created_at": history.session.created_at.isoformat(),
            "updated_at": history.session.updated_at.isoformat(),
        },
        "turns": [
            {
                "index": t.index,
                "role": t.role,
                "text": t.text,
                "act": t.act,
                "status": t.status,
                "error": t.error,
                "image_sha256": t.image_sha,
                "latency_ms": t.latency_ms,
                "intent": t.intent.model_dump(mode="json") if t.intent is not None else None,
                "mask_ids": [m.id for m in t.masks],
                "tool_calls": [
                    {"tool": c.tool, "status": c.status, "error": c.error, "args": c.args}
                    for c in t.tool_calls
                ],
            }
            for t in history.turns
        ],
    }


def export_session(memory: Memory, session_id: str, out_dir: str | Path, *, owner: str | None = None) -> Path:
    """Write masks (PNG), ``masks.json`` (COCO RLE), ``session.json`` and the image into ``out_dir``."""
    history = memory.history(session_id, owner=owner)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in _files(memory, history).items():
        (out / name).write_bytes(data)
    return out


def export_zip(memory: Memory, session_id: str, *, owner: str | None = None) -> bytes:
    """Return the same files as :func:`export_session`, as the bytes of one zip archive."""
    history = memory.history(session_id, owner=owner)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in _files(memory, history).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _files(memory: Memory, history: SessionHistory) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for mask in history.masks:
        files[mask_filename(mask)] = mask.mask().to_png()
    files["masks.json"] = json.dumps(coco_annotations(history), indent=2).encode()
    files["session.json"] = json.dumps(transcript(history), indent=2).encode()
    shas = {t.image_sha for t in history.turns if t.image_sha}
    for sha in sorted(shas):
        data = memory.image_bytes(sha)
        files[f"image_{sha[:12]}{_image_suffix(data)}"] = data
    for sha in sorted(_tool_pictures(history)):  # pictures extra tools returned (a zoom's close-up)
        data = memory.image_bytes(sha)
        files[f"picture_{sha[:12]}{_image_suffix(data)}"] = data
    return files


def _tool_pictures(history: SessionHistory) -> set[str]:
    """Return the sha256 of every picture an extra tool returned in the session (listed in its call's args)."""
    found: set[str] = set()
    for turn in history.turns:
        for call in turn.tool_calls:
            items = call.args.get("pictures") if call.status == "ok" else None
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and isinstance(item.get("sha256"), str):
                    found.add(item["sha256"])
    return found


def _image_suffix(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg"
    return ".bin"
