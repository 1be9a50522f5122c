"""Evaluation sets with hand-drawn masks: multi-turn requests over real photos, scored per turn.

A set is a JSON file (``data/eval/dev.json``, ``data/eval/test.json``; format in
``data/eval/README.md``) of dialogues over photos, each user turn with what should be current
after it: ``objects`` (the union of hand-drawn LabelMe objects; with ``each`` one mask per
object), optionally a geometric ``part`` of them, ``absent`` (nothing should be segmented), or
``keep`` (a question; not scored). :func:`run_evalset` plays every dialogue through a real
:class:`~graphs.runtime.Runtime` (tracker, graph, backend, memory), one session per dialogue,
and scores each turn:

* a turn expecting objects scores the IoU of the turn's target mask (the union of its
  instances when several were asked for) with the ground truth; a turn that returned no mask
  scores 0;
* an absent turn scores 1 when no mask was returned, else 0 (empty vs empty is 1, as in gIoU);
* several targets also score the number of instances returned and the mean IoU of instances
  matched one-to-one to the drawn objects (Hungarian matching).
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.optimize import linear_sum_assignment
from tqdm import tqdm

from agent.errors import BadInputError, PixelrsError
from agent.parts import geometric_part
from agent.types import MaskOut
from graphs.evaluate import labelme_mask
from graphs.metrics import iou
from tools.backends.lite.detector import CATEGORIES

if TYPE_CHECKING:
    from graphs.runtime import Runtime


def category_of(object_id: str) -> str:
    """Return the category of a drawn object's id: ``person-2`` -> person, ``cup`` -> cup (ids are
    ``<category>`` or ``<category>-<n>``; ``cup-handle`` names a part, not a category)."""
    name = object_id.replace("_", " ")
    head, _, number = name.rpartition("-")
    return head if head and number.isdigit() else name


class Expect(BaseModel):
    """What should be current after a user turn."""

    model_config = ConfigDict(extra="forbid")

    objects: list[str] = Field(default_factory=list)
    each: bool = False
    part: Literal["left half", "right half", "top half", "bottom half"] | None = None
    absent: bool = False
    keep: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> Expect:
        kinds = sum([bool(self.objects), self.absent, self.keep])
        if kinds != 1:
            raise ValueError("expect exactly one of objects, absent or keep")
        return self

    @property
    def scored(self) -> bool:
        """Whether the turn is scored (objects or absent)."""
        return not self.keep


class EvalTurn(BaseModel):
    """One user turn and what should be current after it."""

    model_config = ConfigDict(extra="forbid")

    user: str
    expect: Expect


class EvalDialogue(BaseModel):
    """A scripted conversation about one photo."""

    model_config = ConfigDict(extra="forbid")

    id: str
    image: str
    kinds: list[str] = Field(default_factory=list)
    turns: list[EvalTurn]


class EvalSet(BaseModel):
    """A split of the evaluation set (``dev`` to develop on, ``test`` to report)."""

    model_config = ConfigDict(extra="forbid")

    split: str
    version: int = 1
    dialogues: list[EvalDialogue]


@dataclass
class LoadedSet:
    """An evaluation set with its photos and drawn objects resolved to files and masks."""

    path: Path
    spec: EvalSet
    photos: dict[str, Path]
    objects: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    """Per photo file name, object id -> boolean mask (original pixels)."""

    def truth(self, image: str, expect: Expect) -> np.ndarray | None:
        """Return the ground-truth mask after a turn (None for absent/keep turns)."""
        if not expect.objects:
            return None
        masks = self.objects[image]
        union = np.zeros_like(next(iter(masks.values())))
        for name in expect.objects:
            union |= masks[name]
        return cut_part(union, expect.part) if expect.part else union


def cut_part(mask: np.ndarray, part: str) -> np.ndarray:
    """Keep the half a turn names ("left half") of ``mask`` (:func:`agent.parts.geometric_part`)."""
    return geometric_part(mask, part.split()[0])


def load_evalset(path: str | Path) -> LoadedSet:
    """Read and check a set: every photo exists, every referenced object is drawn in it."""
    p = Path(path)
    try:
        spec = EvalSet.model_validate_json(p.read_bytes())
    except OSError as exc:
        raise BadInputError(f"cannot read {p}: {exc.strerror or exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise BadInputError(f"{p.name} is not an evaluation set: {where}: {first['msg']}") from exc
    photos_dir = p.parent.parent / "photos"
    masks_dir = p.parent / "masks"
    loaded = LoadedSet(path=p, spec=spec, photos={})
    for dialogue in spec.dialogues:
        name = dialogue.image
        if name in loaded.photos:
            continue
        photo = photos_dir / Path(name).name
        if not photo.is_file():
            raise BadInputError(f"{p.name}: photo {name} not found in {photos_dir}")
        loaded.photos[name] = photo
        loaded.objects[name] = _drawn_objects(masks_dir / f"{Path(name).stem}.json")
    for dialogue in spec.dialogues:
        for turn in dialogue.turns:
            missing = set(turn.expect.objects) - set(loaded.objects[dialogue.image])
            if missing:
                raise BadInputError(
                    f"{p.name}: dialogue {dialogue.id} names undrawn object(s) {sorted(missing)}"
                )
    return loaded


def _drawn_objects(path: Path) -> dict[str, np.ndarray]:
    """Rasterise every object (label) of a LabelMe file; polygons of one label are unioned."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInputError(f"cannot read the drawn objects {path}: {exc}") from exc
    out: dict[str, np.ndarray] = {}
    for label in sorted({str(s.get("label", "")) for s in doc.get("shapes", [])}):
        shapes = [s for s in doc["shapes"] if s.get("label") == label]
        found = labelme_mask({**doc, "shapes": shapes}, label)
        if found.mask is not None:
            out[label] = found.mask
    return out


# ---------------------------------------------------------------------------------------------
# running a set


@dataclass
class TurnScore:
    """The outcome of one scored turn."""

    dialogue: str
    turn: int
    user: str
    kinds: list[str]
    expect: str
    """``objects``, ``each``, ``part`` or ``absent``."""
    coco: bool
    iou: float
    returned: int
    """Masks the turn made current: 0 (none), 1, or the number of instances."""
    wanted: int
    instance_iou: float | None = None
    confidence: float | None = None
    """The confidence the backend gave the turn's target mask (None without a mask)."""
    latency_ms: float = 0.0
    first_on_image: bool = False
    reply: str = ""
    error: str | None = None


def run_evalset(
    runtime: Runtime,
    evalset: LoadedSet,
    *,
    out_dir: Path | None = None,
    limit: int | None = None,
    only: set[str] | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """Play every dialogue (or the first ``limit``, or those whose id is in ``only``) through
    ``runtime`` and score it; write ``turns.json``/``metrics.json`` and plots under ``out_dir``
    when given. Returns the metrics (see :func:`summarise`)."""
    dialogues = [d for d in evalset.spec.dialogues if only is None or d.id in only]
    dialogues = dialogues[:limit] if limit else dialogues
    scores: list[TurnScore] = []
    seen_images: set[str] = set()
    for dialogue in tqdm(dialogues, desc=f"eval {evalset.spec.split}", unit="dialogue"):
        photo = evalset.photos[dialogue.image]
        session = runtime.new_session(owner=owner, title=f"eval {dialogue.id}")
        for position, turn in enumerate(dialogue.turns):
            image = photo.read_bytes() if position == 0 else None
            started = time.perf_counter()
            try:
                summary = runtime.run_turn_sync(
                    session, turn.user, image=image, image_name=photo.name, owner=owner
                )
                masks, reply, error = summary.masks, summary.reply, None
            except PixelrsError as exc:
                masks, reply, error = [], "", exc.one_line()
            latency = (time.perf_counter() - started) * 1000
            if not turn.expect.scored:
                continue
            score = _score_turn(evalset, dialogue, position, turn, masks)
            score.latency_ms = latency
            score.first_on_image = position == 0 and dialogue.image not in seen_images
            score.reply, score.error = reply[:300], error
            scores.append(score)
        seen_images.add(dialogue.image)
    metrics = summarise(scores, split=evalset.spec.split)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "turns.json").write_text(
            json.dumps([s.__dict__ for s in scores], indent=1), encoding="utf-8"
        )
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        _plot(metrics, out_dir / "by_kind.png")
    return metrics


def _score_turn(
    evalset: LoadedSet, dialogue: EvalDialogue, position: int, turn: EvalTurn, masks: list[MaskOut]
) -> TurnScore:
    expect = turn.expect
    kind = (
        "absent"
        if expect.absent
        else "each"
        if expect.each
        else "part"
        if expect.part
        else "objects"
    )
    categories = {category_of(name) for name in expect.objects}
    score = TurnScore(
        dialogue=dialogue.id, turn=position, user=turn.user, kinds=list(dialogue.kinds),
        expect=kind, coco=bool(categories) and categories <= set(CATEGORIES),
        iou=0.0, returned=0, wanted=len(expect.objects) if expect.each else int(not expect.absent),
    )  # fmt: skip
    target = next((m for m in masks if m.role == "target"), masks[0] if masks else None)
    instances = [m.mask.array for m in masks if m.role == "instance"]
    score.returned = len(instances) or int(target is not None)
    score.confidence = target.score if target is not None else None
    truth = evalset.truth(dialogue.image, expect)
    if truth is None:  # absent: right when nothing was segmented
        score.iou = 1.0 if target is None else 0.0
        return score
    if target is not None:
        score.iou = iou(target.mask.array, _at_size(truth, target.mask.array.shape))
    if expect.each:
        drawn = [evalset.objects[dialogue.image][name] for name in expect.objects]
        if target is not None:
            drawn = [_at_size(d, target.mask.array.shape) for d in drawn]
        score.instance_iou = _matched_iou(
            instances or ([target.mask.array] if target else []), drawn
        )
    return score


def _at_size(drawn: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Return the drawn mask at the size masks were returned at: a photo above the working pixel budget
    is reduced on upload, and its masks are the reduced photo's (what the user sees)."""
    if drawn.shape == shape[:2]:
        return drawn
    resized = cv2.resize(drawn.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return resized.astype(bool)


def _matched_iou(predicted: list[np.ndarray], drawn: list[np.ndarray]) -> float:
    """Mean IoU over the drawn objects after one-to-one matching (unmatched objects count 0)."""
    if not predicted:
        return 0.0
    table = np.array([[iou(p, d) for p in predicted] for d in drawn])
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / len(drawn))


def _giou(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def summarise(scores: list[TurnScore], *, split: str = "") -> dict[str, Any]:
    """Headline figures: gIoU on single-object COCO requests and over all scored turns, the share
    of absent requests answered as absent, several-target results, per-kind gIoU, latencies."""
    coco_single = [s for s in scores if s.coco and s.expect == "objects" and s.wanted == 1]
    present = [s for s in scores if s.expect != "absent"]
    absent = [s for s in scores if s.expect == "absent"]
    several = [s for s in scores if s.expect == "each"]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for s in scores:
        for kind in {*s.kinds, s.expect}:
            by_kind[kind].append(s.iou)
    first = [s.latency_ms for s in scores if s.first_on_image]
    later = [s.latency_ms for s in scores if not s.first_on_image]
    return {
        "split": split,
        "turns_scored": len(scores),
        "giou_coco_single": _giou([s.iou for s in coco_single]),
        "coco_single_turns": len(coco_single),
        "giou_all_turns": _giou([s.iou for s in scores]),
        "giou_present_turns": _giou([s.iou for s in present]),
        "absent_answered_absent": round(sum(s.iou for s in absent) / len(absent), 4)
        if absent
        else None,
        "absent_turns": len(absent),
        "false_absent": sum(1 for s in present if s.returned == 0),
        "several_count_right": round(
            sum(1 for s in several if s.returned == s.wanted) / len(several), 4
        )
        if several
        else None,
        "several_instance_iou": _giou([s.instance_iou or 0.0 for s in several]),
        "reliability": _reliability(present),
        "giou_by_kind": {k: _giou(v) for k, v in sorted(by_kind.items())},
        "turns_by_kind": {k: len(v) for k, v in sorted(by_kind.items())},
        "latency_ms_first_turn_median": round(statistics.median(first), 1) if first else None,
        "latency_ms_later_turns_median": round(statistics.median(later), 1) if later else None,
        "worst": [
            {"dialogue": s.dialogue, "turn": s.turn, "user": s.user, "iou": round(s.iou, 3)}
            for s in sorted(scores, key=lambda s: s.iou)[:10]
        ],
    }


def _reliability(present: list[TurnScore]) -> dict[str, Any]:
    """How often a mask was right (IoU >= 0.5) when the backend was sure (confidence >= 0.5)
    and when it was not: a calibrated backend is right more often when it says it is sure."""
    out: dict[str, Any] = {}
    for name, keep in (("sure", lambda c: c >= 0.5), ("unsure", lambda c: c < 0.5)):
        group = [s for s in present if s.confidence is not None and keep(s.confidence)]
        right = sum(1 for s in group if s.iou >= 0.5)
        out[name] = {
            "turns": len(group),
            "right": round(right / len(group), 3) if group else None,
            "mean_confidence": round(statistics.fmean(s.confidence or 0.0 for s in group), 3)
            if group
            else None,
        }
    return out


def _plot(metrics: dict[str, Any], path: Path) -> None:
    """Bar chart of gIoU per kind of request (what people would rather look at than read)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k, v in metrics["giou_by_kind"].items() if v is not None]
    values = [metrics["giou_by_kind"][k] for k in kinds]
    counts = [metrics["turns_by_kind"][k] for k in kinds]
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(kinds) + 2), 4))
    bars = ax.bar(kinds, values, color="#e8710a")
    for bar, n in zip(bars, counts, strict=True):
        ax.annotate(f"n={n}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)  # fmt: skip
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("gIoU")
    ax.set_title(f"{metrics['split']} split: gIoU by kind of request")
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
