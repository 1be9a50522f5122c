"""Grounded explanations: what lite read, where the mask is, its size and colour, and what changed.

Everything said here is computed from the image, the mask and the segmentation evidence; the text
never claims knowledge lite does not have (meaning, importance, identity of objects).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from agent.answer import compose
from tools.backends.base import ExplainRequest
from tools.backends.lite import colours
from tools.backends.lite.analysis import ImageAnalysis
from tools.backends.lite.calibration import CAVEAT_BELOW
from tools.backends.lite.geometry import bbox, box_iou, centroid, iou, position_name
from tools.backends.lite.ocr import OcrWord

READ_QUESTION = re.compile(
    r"\b(say|says|said|read|reads|written|write|writing|text|word|words|spell|spelled|letters?|print(ed)?)\b",
    re.I,
)
LIMITS = (
    "I can only report what I see: text I can read, colour, position and size. "
    "The lite backend cannot reason about why something is important or what it means."
)


def stream(text: str) -> Iterator[str]:
    """Yield the text word by word (each chunk keeps its trailing space; newlines stay in place)."""
    words = text.split(" ")
    for i, word in enumerate(words):
        yield word if i == len(words) - 1 else word + " "


def _span(b: tuple[int, int, int, int] | list[int]) -> str:
    return f"x {b[0]}-{b[2]}, y {b[1]}-{b[3]}"


def describe_mask(an: ImageAnalysis, mask: np.ndarray) -> dict[str, Any]:
    """Facts about an original-size mask: bbox, area fraction, position name, dominant colour."""
    b = bbox(mask)
    if b is None:
        return {
            "bbox": None,
            "area_fraction": 0.0,
            "position": "nowhere",
            "dominant_colour": "none",
        }
    c = centroid(mask)
    assert c is not None
    work = an.to_work(mask)
    hist = colours.histogram(an.cmap, work) if work.any() else np.zeros(len(colours.BASIC))
    return {
        "bbox": list(b),
        "area_fraction": float(mask.mean()),  # unrounded: the answer rounds it once
        "position": position_name(c[0] / mask.shape[1], c[1] / mask.shape[0]),
        "dominant_colour": colours.dominant(hist),
    }


def words_inside(an: ImageAnalysis, mask: np.ndarray) -> list[OcrWord]:
    """OCR lines mostly inside the (original-size) mask, or single words of lines that are only partly inside."""

    def inside(w: OcrWord) -> float:
        x0, y0, x1, y1 = w.box
        h, wd = mask.shape
        part = mask[max(0, y0) : min(h, y1 + 1), max(0, x0) : min(wd, x1 + 1)]
        return float(part.mean()) if part.size else 0.0

    found: list[OcrWord] = []
    lines = [w for w in an.words if w.is_line]
    for line in lines:
        if inside(line) >= 0.5:
            found.append(line)
        else:
            found += [
                w for w in an.words if not w.is_line and w.line == line.line and inside(w) >= 0.5
            ]
    found.sort(key=lambda w: (round(w.box[1] / max(1.0, w.height)), w.box[0]))
    return found


_IRREGULAR = {"person": "people", "man": "men", "woman": "women", "child": "children",
              "mouse": "mice", "knife": "knives", "sheep": "sheep", "skis": "skis"}  # fmt: skip


def plural(noun: str) -> str:
    """Make an English plural of a category name: person -> people, bus -> buses, cup -> cups."""
    head, _, last = noun.rpartition(" ")
    if last in _IRREGULAR:
        word = _IRREGULAR[last]
    elif last.endswith(("s", "x", "ch", "sh")):
        word = last + "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        word = last[:-1] + "ies"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


def where_phrase(position: str) -> str:
    """Put a position name in a phrase: "at the top", "in the upper left", "in the centre"."""
    return f"at the {position}" if position in ("top", "bottom", "left", "right") else f"in the {position}"


def region_sentence(facts: dict[str, Any], subject: str = "The mask") -> str:
    """One sentence on where the region is, how big it is and its main colour."""
    if facts["bbox"] is None:
        return f"{subject} is empty."
    pct = 100 * facts["area_fraction"]
    size = f"{pct:.1f}%" if pct >= 0.1 else "less than 0.1%"
    return (
        f"{subject} is {where_phrase(facts['position'])} of the image ({_span(facts['bbox'])}), "
        f"covers {size} of it, and its dominant colour is {facts['dominant_colour']}."
    )


def change_sentence(previous: np.ndarray | None, current: np.ndarray) -> str:
    """Say what changed from the previous mask to this one: moved, grew or shrank, overlap."""
    if previous is None or previous.shape != current.shape or not previous.any():
        return "There was no previous mask, so this is a new region."
    if not current.any():
        return "The previous mask was removed; the new mask is empty."
    overlap = iou(previous, current)
    pc, cc = centroid(previous), centroid(current)
    assert pc is not None and cc is not None
    dx, dy = cc[0] - pc[0], cc[1] - pc[1]
    moves = []
    h, w = current.shape
    if abs(dx) > 0.03 * w:
        moves.append(f"{'right' if dx > 0 else 'left'} by {abs(dx):.0f} px")
    if abs(dy) > 0.03 * h:
        moves.append(f"{'down' if dy > 0 else 'up'} by {abs(dy):.0f} px")
    ratio = current.sum() / previous.sum()
    parts = []
    if overlap < 0.05:
        parts.append("it is a new region that does not overlap the previous mask")
    if moves:
        parts.append("it moved " + " and ".join(moves))
    if ratio > 1.15:
        parts.append(f"it grew {ratio:.1f}x")
    elif ratio < 0.87:
        parts.append(f"it shrank to {100 * ratio:.0f}% of its size")
    if not parts:
        parts.append("it covers about the same region")
    return "Compared with the previous mask, " + ", ".join(parts) + f" (IoU {overlap:.2f})."


def _where_sentences(words: list[OcrWord]) -> list[str]:
    return [f"'{w.text}' is at {_span(w.box)} (OCR confidence {w.conf:.2f})." for w in words[:6]]




def direction(previous: np.ndarray, current: np.ndarray) -> dict[str, bool]:
    """Which way ``current`` lies from ``previous``, read off their boxes and centroids.

    ``right`` is true only when the current mask's centroid is right of the previous mask's box
    centre and the masks are not the same region; likewise for the other sides.
    """
    pb, cb = bbox(previous), bbox(current)
    pc, cc = centroid(previous), centroid(current)
    if pb is None or cb is None or pc is None or cc is None or iou(previous, current) > 0.5:
        return {"left": False, "right": False, "top": False, "bottom": False}
    mx, my = (pb[0] + pb[2]) / 2, (pb[1] + pb[3]) / 2
    return {
        "right": cc[0] > mx and cc[0] > pc[0],
        "left": cc[0] < mx and cc[0] < pc[0],
        "bottom": cc[1] > my and cc[1] > pc[1],
        "top": cc[1] < my and cc[1] < pc[1],
    }


def _relative_sentence(request: ExplainRequest, mask: np.ndarray) -> str:
    """Check a requested direction from the previous mask ("the one on the right") against the mask."""
    attrs = request.intent.attributes
    side = attrs.get("position", "")
    other = attrs.get("other", "").lower() in {"yes", "true", "1"}
    previous = request.previous_mask.array if request.previous_mask is not None else None
    if not other or previous is None or previous.shape != mask.shape or not previous.any():
        return ""
    side = {"center": "", "centre": ""}.get(side, side)
    if side in ("left", "right", "top", "bottom"):
        where = {"left": "left of", "right": "right of", "top": "above", "bottom": "below"}[side]
        if direction(previous, mask)[side]:
            return f"It is {where} the previous one."
        return f"I found nothing {where} the previous one; this is the closest match."
    if iou(previous, mask) > 0.5:
        return "I found no other one; this is mostly the same region as before."
    return ""


def _lead(
    an: ImageAnalysis, request: ExplainRequest, mask: np.ndarray, label: str, score: float | None
) -> str:
    """One plain sentence on what the mask is, where it is and how sure lite is."""
    result = request.result
    assert result is not None
    ev = result.evidence or {}
    instances = [m for m in result.masks if m.role == "instance"]
    sure = "" if score is None else f" (confidence {score:.2f})"
    if ev.get("stuff"):
        return (
            f"This is a guess at the {ev['stuff']}: where the image has its colour and place{sure}."
            " No model here knows it; click to add or remove parts."
        )
    if ev.get("fallback"):
        return (
            f"I could not recognise '{label}', so this is a guess: the most salient region"
            f"{sure}. Tell me its colour, position or the words printed on it."
        )
    facts = describe_mask(an, mask)
    where = "" if facts["bbox"] is None else f" {where_phrase(facts['position'])} of the image"
    if instances and ev.get("listed"):
        names = [m.label.rsplit(" ", 1)[0] for m in instances]
        lead = f"Here are the {', the '.join(names[:-1])} and the {names[-1]}{sure}." if len(names) > 1 else f"Here is the {names[0]}{where}{sure}."
    elif instances:
        noun = str(ev.get("category") or instances[0].label.rsplit(" ", 1)[0])
        many = plural(noun) if len(instances) > 1 else noun
        lead = f"I found {len(instances)} {many}, numbered from left to right{sure}."
    elif ev.get("part"):
        lead = f"Here is the {ev['part']} of the {label}{where}{sure}."
    else:
        lead = f"Here is the {label}{where}{sure}."
    relative = _relative_sentence(request, mask)
    if relative:
        lead = f"{lead} {relative}"
    if score is not None and score < CAVEAT_BELOW:
        lead += " I am not confident about this one; tell me more about where it is."
    return lead


def segment_explanation(an: ImageAnalysis, request: ExplainRequest, mask: np.ndarray) -> str:
    """Write the answer to a segmenting turn: a plain lead, then the details (evidence, geometry, change)."""
    result = request.result
    assert result is not None
    ev = result.evidence or {}
    best = result.best
    label = (best.label if best else None) or request.intent.target or "the target"
    score = best.score if best is not None else None
    details: list[str] = []
    if ev.get("fallback"):
        details.append(f"Why a guess: {ev['fallback']}.")
    cited = []
    for item in ev.get("ocr", [])[:6]:
        details.append(
            f"I read '{item['text']}' at {_span(item['box'])} (OCR confidence {item['conf']:.2f})."
        )
        cited.append(item["text"].lower())
    cues = [c for c in ev.get("cues", []) if not c.startswith("saliency")]
    if cues:
        details.append("Cues used: " + ", ".join(cues) + ".")
    if ev.get("unmatched"):
        details.append("What I could not use: " + "; ".join(ev["unmatched"]) + ".")
    details.append(region_sentence(describe_mask(an, mask)))
    for i, inst in enumerate((m for m in result.masks if m.role == "instance"), start=1):
        details.append(region_sentence(describe_mask(an, inst.mask.array), f"Number {i}"))
    # Text is mentioned only when this turn (or an earlier one) read it: OCR is not run for it.
    inside = words_inside(an, mask) if an.words_read else []
    more = [w for w in inside if w.text.lower() not in cited]
    if more:
        details.append(
            "Inside it I can also read " + ", ".join(f"'{w.text}'" for w in more[:5]) + "."
        )
    details.append(
        change_sentence(
            request.previous_mask.array if request.previous_mask is not None else None, mask
        )
    )
    alternatives = [m for m in result.masks if m.role == "alternative"]
    if alternatives:
        scores = ", ".join(f"{m.score:.2f}" for m in alternatives if m.score is not None)
        details.append(f"Other candidates I did not choose: {len(alternatives)} (scores {scores}).")
    return compose(_lead(an, request, mask, label, score), details)


COLOUR_QUESTION = re.compile(r"\b(colou?rs?|shade|hue)\b", re.I)
WHERE_QUESTION = re.compile(r"\b(where|located|location|position)\b", re.I)
SIZE_QUESTION = re.compile(r"\b(how (big|large|small|much)|size|area)\b", re.I)
WHAT_QUESTION = re.compile(r"\bwhat(?:'s| is| are)? (it|this|that|they|those|these)\b", re.I)


def _identity(an: ImageAnalysis, mask: np.ndarray) -> str:
    """Name the detector category whose box best matches the mask's box, if any does."""
    b = bbox(an.to_work(mask))
    if b is None:
        return ""
    best = max(
        an.objects.detections,
        key=lambda d: box_iou(b, d.box) * d.score,
        default=None,
    )
    if best is None or box_iou(b, best.box) < 0.5 or best.score < 0.3:
        return ""
    return f"It looks like a {best.category} (detector confidence {best.score:.2f})."


def question_explanation(
    an: ImageAnalysis, request: ExplainRequest, mask: np.ndarray | None
) -> str:
    """Answer a question about the current mask without segmenting again: a lead, then details."""
    question = next((t.text for t in reversed(request.dialogue) if t.role == "user"), "")
    if mask is None or not mask.any():
        return compose(
            "There is no mask yet, so I have nothing to describe.",
            ["Tell me what to find first (a word printed on it, a colour, or where it is)."],
        )
    facts = describe_mask(an, mask)
    subject = (
        f"The current mask ({request.intent.target})"
        if request.intent.target
        else "The current mask"
    )
    reading = bool(READ_QUESTION.search(question))
    words = words_inside(an, mask) if reading or an.words_read else []
    details = [region_sentence(facts, subject)]
    if reading:
        if not words:
            return compose("I cannot read any text inside the current mask.", details)
        text = " ".join(w.text for w in words)
        return compose(f"It reads '{text}'.", _where_sentences(words) + details)
    if words:
        details.append("Inside it I can read " + ", ".join(f"'{w.text}'" for w in words[:5]) + ".")
    pct = 100 * facts["area_fraction"]
    if COLOUR_QUESTION.search(question):
        lead = f"It is mostly {facts['dominant_colour']}."
    elif WHERE_QUESTION.search(question):
        lead = f"It is {where_phrase(facts['position'])} of the image."
    elif SIZE_QUESTION.search(question):
        x0, y0, x1, y1 = facts["bbox"]
        lead = f"It covers {pct:.1f}% of the image, {x1 - x0 + 1} x {y1 - y0 + 1} pixels."
    elif WHAT_QUESTION.search(question) and _identity(an, mask):
        lead = _identity(an, mask)
    else:
        lead = _identity(an, mask) or region_sentence(facts, "It")
        details.append(LIMITS)
    return compose(lead, details)
