"""Offline evaluation: score mask folders (``pixelrs score``) and run PRIST dialogues (``pixelrs eval``).

* :func:`score_dirs` -- PNG masks matched by file name, scored with :mod:`graphs.metrics`.
* :func:`labelme_mask` / :func:`load_labelme_mask` -- PRIST ground truth: the union of the
  LabelMe polygons whose label contains the dialogue's ``focus`` (case-insensitive substring,
  MIRAS_REFERENCE §B.3), rasterised with OpenCV at sub-pixel precision.
* :func:`evaluate_prist` -- replay each PRIST dialogue's user turns through a runtime, save the
  final mask, score it when ground truth exists, write ``metrics.json`` and plots.

Differences from the authors' ``get_mask_from_json_target`` (deliberate): polygon points are
rounded to the nearest sub-pixel instead of truncated to ``int32``; ``rectangle`` and ``circle``
shapes are drawn as such and line/point shapes are ignored, instead of every point list being
filled as a polygon; a LabelMe size that differs from the image is rescaled to the image
instead of failing later on broadcasting; and a focus that matches no label is reported as
"no ground truth" instead of silently scoring against an all-zero mask.
"""

from __future__ import annotations

import io
import json
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from agent.errors import BadInputError, PixelrsError
from agent.images import load_image_file
from agent.prist import load_prist
from agent.types import Act, Mask
from graphs.metrics import MaskScores

if TYPE_CHECKING:
    from graphs.runtime import Runtime

_SUBPIXEL_BITS = 4
"""Fractional bits for cv2.fillPoly (1/16 px): points are rounded, not truncated."""


# ---------------------------------------------------------------------------------------------
# reading masks


def read_mask_png(path: str | Path) -> np.ndarray:
    """Read a PNG mask as a boolean (H, W) array; BadInputError with one line if unreadable.

    Foreground is any non-zero grey value (0/1 and 0/255 masks both work) that is not fully
    transparent.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            arr = np.asarray(img.convert("L")) != 0
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                arr &= np.asarray(img.convert("RGBA"))[..., 3] != 0  # transparent is background
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadInputError(f"cannot read mask {p}: {' '.join(str(exc).split())[:200]}") from exc
    return np.ascontiguousarray(arr)


def _png_files(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() == ".png"}


def _require_dir(path: str | Path, what: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise BadInputError(f"{what} folder not found: {p}")
    return p


def score_dirs(pred_dir: str | Path, gt_dir: str | Path) -> dict[str, Any]:
    """Score PNG predictions against PNG ground truth matched by file name.

    Every ``*.png`` in ``gt_dir`` is one sample. A missing prediction counts as an empty mask
    and is listed under ``missing_predictions``; predictions without ground truth are listed
    under ``extra_predictions`` and not scored. An unreadable PNG, a size mismatch or a folder
    without ground truth raises :class:`BadInputError` with a one-line reason.

    Returns ``{"pred_dir", "gt_dir", "overall", "per_file", "missing_predictions",
    "extra_predictions", "notes"}``; ``overall`` is :meth:`MaskScores.summary`.
    """
    pred_root, gt_root = _require_dir(pred_dir, "prediction"), _require_dir(gt_dir, "ground-truth")
    gts, preds = _png_files(gt_root), _png_files(pred_root)
    if not gts:
        raise BadInputError(f"no PNG masks in the ground-truth folder {gt_root}")
    scores = MaskScores()
    per_file: dict[str, Any] = {}
    missing: list[str] = []
    for name, gt_path in gts.items():
        gt = read_mask_png(gt_path)
        if name in preds:
            pred = read_mask_png(preds[name])
            if pred.shape != gt.shape:
                raise BadInputError(
                    f"{name}: prediction is {pred.shape[1]}x{pred.shape[0]} but ground truth is "
                    f"{gt.shape[1]}x{gt.shape[0]}"
                )
        else:
            missing.append(name)
            pred = np.zeros_like(gt)
        per_file[name] = {**scores.add(pred, gt, name=name).to_dict(), "missing": name not in preds}
    extra = sorted(set(preds) - set(gts))
    notes = []
    if missing:
        notes.append(f"{len(missing)} ground-truth mask(s) had no prediction and count as empty predictions")
    if extra:
        notes.append(f"{len(extra)} prediction(s) had no ground truth and were not scored")
    return {
        "pred_dir": str(pred_root),
        "gt_dir": str(gt_root),
        "overall": scores.summary(),
        "per_file": per_file,
        "missing_predictions": missing,
        "extra_predictions": extra,
        "notes": notes,
    }


# ---------------------------------------------------------------------------------------------
# LabelMe ground truth


@dataclass
class LabelmeMask:
    """A rasterised LabelMe target: the mask (None when no label matched), what matched, and notes."""

    mask: np.ndarray | None
    labels: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def focus_matches(focus: str, label: str) -> bool:
    """PRIST's rule: the focus is a case-insensitive substring of the label (empty focus matches nothing)."""
    needle = " ".join(str(focus).split()).casefold()
    return bool(needle) and needle in " ".join(str(label).split()).casefold()


def _read_json_text(path: Path) -> Any:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return json.loads(data.decode(encoding))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
    raise BadInputError(f"{path.name} is not valid JSON")


def labelme_mask(doc: dict[str, Any], focus: str, *, image_size: tuple[int, int] | None = None) -> LabelmeMask:
    """Rasterise the shapes of a LabelMe document whose label contains ``focus``.

    ``image_size`` is (width, height) of the image the mask is for; when the document's
    ``imageWidth``/``imageHeight`` differ, points are rescaled to it (and a note says so).
    ``polygon`` (default), ``rectangle`` and ``circle`` shapes are filled; other shape types
    and polygons with fewer than 3 points are skipped with a note. Matching shapes are unioned.
    """
    notes: list[str] = []
    doc_w, doc_h = doc.get("imageWidth"), doc.get("imageHeight")
    doc_size = (int(doc_w), int(doc_h)) if isinstance(doc_w, int | float) and isinstance(doc_h, int | float) else None
    size = image_size or doc_size
    if size is None or size[0] < 1 or size[1] < 1:
        raise BadInputError("the LabelMe file has no imageWidth/imageHeight and no image size was given")
    width, height = size
    sx = sy = 1.0
    if doc_size is not None and doc_size != size:
        sx, sy = width / doc_size[0], height / doc_size[1]
        notes.append(f"LabelMe size {doc_size[0]}x{doc_size[1]} rescaled to the image's {width}x{height}")
    canvas = np.zeros((height, width), np.uint8)
    labels: list[str] = []
    matched = 0
    scale = 1 << _SUBPIXEL_BITS
    for shape in doc.get("shapes") or []:
        if not isinstance(shape, dict) or not focus_matches(focus, shape.get("label", "")):
            continue
        matched += 1
        label, kind = str(shape.get("label", "")), str(shape.get("shape_type") or "polygon")
        try:
            pts = np.asarray(shape.get("points") or [], dtype=np.float64).reshape(-1, 2) * (sx, sy)
        except (TypeError, ValueError):
            notes.append(f"shape '{label}' has malformed points; skipped")
            continue
        fixed = np.rint(pts * scale).astype(np.int32)
        if kind == "rectangle" and len(pts) == 2:
            (x0, y0), (x1, y1) = fixed
            fixed = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.int32)
            kind = "polygon"
        if kind == "circle" and len(pts) == 2:
            radius = int(round(float(np.hypot(*(pts[1] - pts[0]))) * scale))
            cv2.circle(canvas, tuple(int(v) for v in fixed[0]), radius, 1, -1, cv2.LINE_8, _SUBPIXEL_BITS)
        elif kind == "polygon" and len(fixed) >= 3:
            cv2.fillPoly(canvas, [fixed.reshape(-1, 1, 2)], 1, cv2.LINE_8, _SUBPIXEL_BITS)
        else:
            notes.append(f"shape '{label}' ({kind}, {len(pts)} point(s)) is not an area; skipped")
            continue
        labels.append(label)
    if not labels:
        shown = " ".join(str(focus).split())[:80]
        notes.append(
            f"no shape label contains the focus '{shown}'" if not matched
            else f"no shape labelled with the focus '{shown}' is an area"
        )
        return LabelmeMask(mask=None, labels=[], notes=notes)
    return LabelmeMask(mask=canvas.astype(bool), labels=labels, notes=notes)


def load_labelme_mask(path: str | Path, focus: str, *, image_size: tuple[int, int] | None = None) -> LabelmeMask:
    """Read a LabelMe JSON file (UTF-8, falling back to cp1252) and rasterise it for ``focus``."""
    p = Path(path)
    try:
        doc = _read_json_text(p)
    except OSError as exc:
        raise BadInputError(f"cannot read {p}: {exc.strerror or exc}") from exc
    if not isinstance(doc, dict):
        raise BadInputError(f"{p.name} is not a LabelMe document (expected a JSON object)")
    return labelme_mask(doc, focus, image_size=image_size)


def ground_truth(
    masks_dir: Path, img_id: str, focus: str, image_size: tuple[int, int]
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """Find the ground truth for a dialogue: ``<stem>.png`` first, else LabelMe ``<stem>.json``.

    Returns the mask (None when absent, unreadable, unmatched or of another size) and a dict
    with ``source``, ``file``, ``labels`` and ``notes`` for the report.
    """
    stem = Path(img_id).stem
    info: dict[str, Any] = {"source": None, "file": None, "labels": [], "notes": []}
    png, labelme = masks_dir / f"{stem}.png", masks_dir / f"{stem}.json"
    try:
        if png.is_file():
            info.update(source="png", file=str(png))
            mask = read_mask_png(png)
            if (mask.shape[1], mask.shape[0]) != image_size:
                info["notes"].append(
                    f"ground truth is {mask.shape[1]}x{mask.shape[0]} but the image is "
                    f"{image_size[0]}x{image_size[1]}; not scored"
                )
                return None, info
            return mask, info
        if labelme.is_file():
            info.update(source="labelme", file=str(labelme))
            found = load_labelme_mask(labelme, focus, image_size=image_size)
            info["labels"], info["notes"] = found.labels, found.notes
            return found.mask, info
    except PixelrsError as exc:
        info["notes"].append(exc.one_line())
        return None, info
    info["notes"].append(f"no ground truth {png.name} or {labelme.name} in {masks_dir}")
    return None, info


# ---------------------------------------------------------------------------------------------
# PRIST dialogues


@dataclass(frozen=True)
class PristItem:
    """One PRIST dialogue as the evaluation needs it: its position in the file and user turns."""

    index: int
    img_id: str
    focus: str
    user_turns: list[str]


def prist_items(path: str | Path) -> list[PristItem]:
    """Read a PRIST file with :func:`agent.prist.load_prist` (one-line BadInputError if unusable)."""
    return [
        PristItem(
            index=index, img_id=d.img_id, focus=d.focus,
            user_turns=[m.value for m in d.dialogue if m.speaker == "human"],
        )
        for index, d in enumerate(load_prist(path))
    ]


def _find_image(images_dir: Path, img_id: str) -> Path | None:
    name = Path(img_id).name  # never leave images_dir
    candidates = [images_dir / name] + [images_dir / f"{Path(name).stem}{ext}" for ext in (".jpg", ".jpeg", ".png")]
    return next((c for c in candidates if c.is_file()), None)


def _stats(values: Iterable[float]) -> dict[str, float | None]:
    vals = sorted(float(v) for v in values)
    if not vals:
        return {"count": 0, "mean": None, "p50": None, "p95": None, "max": None}
    p95 = vals[min(len(vals) - 1, int(round(0.95 * (len(vals) - 1))))]
    return {"count": len(vals), "mean": statistics.fmean(vals), "p50": statistics.median(vals), "p95": p95, "max": vals[-1]}


def _run_dialogue(runtime: Runtime, item: PristItem, image: Any, owner: str | None) -> tuple[str, list[dict[str, Any]]]:
    session_id = runtime.new_session(owner=owner, title=f"PRIST #{item.index} {item.img_id}")
    turns: list[dict[str, Any]] = []
    image_pending = True
    for position, text in enumerate(item.user_turns):
        started = time.perf_counter()
        record: dict[str, Any] = {"turn": position, "text": text}
        try:
            summary = runtime.run_turn_sync(session_id, text, image=image if image_pending else None, owner=owner)
        except PixelrsError as exc:
            record.update(act=None, error=exc.one_line(), latency_ms=(time.perf_counter() - started) * 1000)
            if image_pending and runtime.history(session_id, owner=owner).current_image_sha is not None:
                image_pending = False
        else:
            image_pending = False
            best = summary.masks[0].mask if summary.masks else None
            record.update(
                act=summary.act.value, error=None, latency_ms=summary.latency_ms, backend_ms=summary.backend_ms,
                masks=len(summary.masks), mask_area=best.area if best is not None else None,
                reply=summary.reply[:300],
            )
        turns.append(record)
    return session_id, turns


@dataclass
class _Tally:
    """What the evaluation loop accumulates."""

    scores: MaskScores = field(default_factory=MaskScores)
    per_dialogue: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    latency_by_turn: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    acts: Counter[str] = field(default_factory=Counter)
    no_gt: int = 0


def _evaluate_one(
    runtime: Runtime, item: PristItem, img_root: Path, gt_root: Path | None, out: Path, owner: str | None, tally: _Tally
) -> None:
    image_path = _find_image(img_root, item.img_id)
    if image_path is None:
        tally.skipped.append({"index": item.index, "img_id": item.img_id, "reason": "image not found"})
        return
    try:
        image = load_image_file(image_path, limits=runtime.image_limits)
    except PixelrsError as exc:
        tally.skipped.append({"index": item.index, "img_id": item.img_id, "reason": exc.one_line()})
        return
    session_id, turns = _run_dialogue(runtime, item, image, owner)
    for t in turns:
        tally.latency_by_turn[t["turn"]].append(float(t["latency_ms"]))
        tally.acts[t["act"] or "error"] += 1
    current = runtime.history(session_id, owner=owner).current_mask
    work = (image.ref.width, image.ref.height)
    pred = current.mask().array if current is not None else np.zeros((work[1], work[0]), bool)
    if pred.shape != (work[1], work[0]):  # a mask from another image cannot be the answer
        pred = np.zeros((work[1], work[0]), bool)
    size = image.original_size or work  # ground truth is drawn on the image as displayed
    if size != work:  # the image was reduced to the working budget: score at full size
        pred = cv2.resize(pred.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    name = f"{item.index}_{Path(item.img_id).stem}.png"
    (out / "masks" / name).write_bytes(Mask(pred).to_png())
    entry: dict[str, Any] = {
        "index": item.index, "img_id": item.img_id, "focus": item.focus, "session_id": session_id,
        "turns": turns, "acts": [t["act"] or "error" for t in turns],
        "errors": sum(1 for t in turns if t["error"]),
        "latency_ms": sum(float(t["latency_ms"]) for t in turns),
        "mask_file": str(Path("masks") / name), "mask_area": int(pred.sum()),
        "predicted": current is not None, "scored": False,
    }
    if gt_root is not None:
        gt, info = ground_truth(gt_root, item.img_id, item.focus, size)
        entry["ground_truth"] = info
        if gt is None:
            tally.no_gt += 1
        else:
            (out / "gt" / name).write_bytes(Mask(gt).to_png())
            scored = tally.scores.add(pred, gt, name=name).to_dict()
            entry.update(scored=True, **{k: v for k, v in scored.items() if k != "name"})
    tally.per_dialogue.append(entry)


def evaluate_prist(
    runtime: Runtime,
    dialogues_path: str | Path,
    images_dir: str | Path,
    masks_dir: str | Path | None = None,
    *,
    out_dir: str | Path,
    limit: int | None = None,
    owner: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run PRIST dialogues through ``runtime`` and score the final masks.

    For each dialogue (the first ``limit`` of the file) whose image is in ``images_dir``: a new
    session runs every user turn in order (the final segmentation request included, the
    model's own replies as history); the session's current mask afterwards is saved as
    ``out_dir/masks/<index>_<img_id stem>.png`` (an empty mask when none was produced). When
    ``masks_dir`` has ground truth (:func:`ground_truth`), it is saved as
    ``out_dir/gt/<index>_<stem>.png`` (so ``pixelrs score --pred out/masks --gt out/gt``
    reproduces the numbers) and scored. Dialogues whose image is missing or unreadable are
    skipped and counted. Writes ``out_dir/metrics.json`` and PNG plots under ``out_dir/plots``
    and returns the same dict as ``metrics.json`` (plus ``files``). On Ctrl-C the dialogues
    finished so far are written (with a note) before KeyboardInterrupt propagates.
    """
    items = prist_items(dialogues_path)
    img_root = _require_dir(images_dir, "images")
    gt_root = _require_dir(masks_dir, "masks") if masks_dir is not None else None
    out = Path(out_dir)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    if gt_root is not None:
        (out / "gt").mkdir(parents=True, exist_ok=True)
    selected = items if limit is None else items[: max(0, int(limit))]

    tally = _Tally()
    interrupted = False
    bar = tqdm(selected, desc="PRIST eval", unit="dialogue", disable=not progress)
    try:
        for item in bar:
            _evaluate_one(runtime, item, img_root, gt_root, out, owner, tally)
            if progress and len(tally.scores):
                bar.set_postfix(giou=f"{tally.scores.giou:.3f}", ciou=f"{tally.scores.ciou:.3f}")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    result = _eval_document(runtime, selected, img_root, gt_root, dialogues_path, tally, interrupted)
    result["files"] = _eval_plots(runtime, tally, out, scored=gt_root is not None)
    (out / "metrics.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    if interrupted:
        raise KeyboardInterrupt
    return result


def _eval_document(
    runtime: Runtime, selected: list[PristItem], img_root: Path, gt_root: Path | None,
    dialogues_path: str | Path, tally: _Tally, interrupted: bool,
) -> dict[str, Any]:
    all_latencies = [v for vs in tally.latency_by_turn.values() for v in vs]
    notes: list[str] = []
    if interrupted:
        notes.append(f"interrupted after {len(tally.per_dialogue) + len(tally.skipped)} of {len(selected)} dialogue(s)")
    missing = sum(1 for s in tally.skipped if s["reason"] == "image not found")
    if missing:
        notes.append(f"{missing} dialogue(s) skipped: image not found in {img_root}")
    if len(tally.skipped) > missing:
        notes.append(f"{len(tally.skipped) - missing} dialogue(s) skipped: image unreadable")
    if gt_root is None:
        notes.append("no masks folder: predictions saved, nothing scored")
    elif tally.no_gt:
        notes.append(f"{tally.no_gt} dialogue(s) had no usable ground truth and were not scored")
    notes.append("giou is the mean per-dialogue IoU (the MIRAS eval's 'cIoU'); ciou is cumulative ΣI/ΣU")
    return {
        "dialogues_path": str(dialogues_path),
        "images_dir": str(img_root),
        "masks_dir": str(gt_root) if gt_root is not None else None,
        "backend": runtime.backend_name,
        "interrupted": interrupted,
        "counts": {
            "dialogues": len(selected), "evaluated": len(tally.per_dialogue), "skipped": len(tally.skipped),
            "skipped_missing_image": missing, "scored": len(tally.scores), "no_ground_truth": tally.no_gt,
            "turns": len(all_latencies), "failed_turns": tally.acts.get("error", 0),
        },
        "overall": tally.scores.summary(),
        "latency_ms": {
            "per_turn": _stats(all_latencies),
            "per_dialogue": _stats(d["latency_ms"] for d in tally.per_dialogue),
            "by_turn_position": {str(k + 1): _stats(v) for k, v in sorted(tally.latency_by_turn.items())},
        },
        "acts": dict(sorted(tally.acts.items())),
        "final_turn_segmented": sum(1 for d in tally.per_dialogue if d["acts"] and _segments(d["acts"][-1])),
        "per_dialogue": tally.per_dialogue,
        "skipped": tally.skipped,
        "notes": notes,
    }


def _eval_plots(runtime: Runtime, tally: _Tally, out: Path, *, scored: bool) -> dict[str, str]:
    from graphs import report

    files = {"metrics": str(out / "metrics.json")}
    files["latency_plot"] = str(report.plot_turn_latency(tally.latency_by_turn, out / "plots" / "latency_per_turn.png"))
    if scored:
        files["iou_plot"] = str(report.plot_iou_histogram(
            [s.iou for s in tally.scores.samples], out / "plots" / "iou_histogram.png",
            title=f"IoU per dialogue ({runtime.backend_name})",
        ))
    return files


def _segments(act: str) -> bool:
    """Whether a stored act name is one that segments (``error`` and unknown names do not)."""
    try:
        return Act(act).segments
    except ValueError:
        return False
