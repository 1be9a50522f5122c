"""Grounded explanations: what lite read, where the mask is, its size and colour, and what changed.

Everything said here is computed from the image, the mask and the segmentation evidence; the text
never claims knowledge lite does not have (meaning, importance, identity of objects).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from tools.backends.base import ExplainRequest
from tools.backends.lite import colours
from tools.backends.lite.analysis import ImageAnalysis
from tools.backends.lite.geometry import bbox, centroid, iou, position_name
from tools.backends.lite.ocr import OcrWord

READ_QUESTION = re.compile(
    r"\b(say|says|said|read|reads|written|write|writing|text|word|words|spell|spelled|letters?|print(ed)?)\b",
    re.I,
)
LIMITS = (
    "I can only report what I see: text I can read, colour, position and size. "
    "The lite backend cannot reason about why something is important or what it means."
)


def stream(sentences: list[str]) -> Iterator[str]:
    """Yield the sentences word by word (each chunk keeps its trailing space)."""
    text = " ".join(s.strip() for s in sentences if s and s.strip())
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
        "area_fraction": round(float(mask.mean()), 4),
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


def region_sentence(facts: dict[str, Any], subject: str = "The mask") -> str:
    """One sentence on where the region is, how big it is and its main colour."""
    if facts["bbox"] is None:
        return f"{subject} is empty."
    pct = 100 * facts["area_fraction"]
    size = f"{pct:.1f}%" if pct >= 0.1 else "less than 0.1%"
    return (
        f"{subject} is in the {facts['position']} of the image ({_span(facts['bbox'])}), "
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


def segment_explanation(an: ImageAnalysis, request: ExplainRequest, mask: np.ndarray) -> list[str]:
    """Sentences explaining this turn's segmentation from its evidence and the mask itself."""
    result = request.result
    assert result is not None
    ev = result.evidence or {}
    best = result.best
    label = (best.label if best else None) or request.intent.target or "the target"
    score = f" (confidence {best.score:.2f})" if best and best.score is not None else ""
    out: list[str] = []
    if ev.get("fallback"):
        out.append(
            f"I could not find '{label}' from anything I can see: {ev['fallback']}{score}. "
            "Treat this mask as a guess, and tell me a colour, position or text to look for."
        )
    else:
        out.append(f"I segmented '{label}'{score}.")
    cited = []
    for item in ev.get("ocr", [])[:6]:
        out.append(
            f"I read '{item['text']}' at {_span(item['box'])} (OCR confidence {item['conf']:.2f})."
        )
        cited.append(item["text"].lower())
    cues = [c for c in ev.get("cues", []) if not c.startswith("saliency")]
    if cues:
        out.append("Cues used: " + ", ".join(cues) + ".")
    if ev.get("unmatched"):
        out.append("What I could not use: " + "; ".join(ev["unmatched"]) + ".")
    out.append(region_sentence(describe_mask(an, mask)))
    more = [w for w in words_inside(an, mask) if w.text.lower() not in cited]
    if more:
        out.append("Inside it I can also read " + ", ".join(f"'{w.text}'" for w in more[:5]) + ".")
    out.append(
        change_sentence(
            request.previous_mask.array if request.previous_mask is not None else None, mask
        )
    )
    return out


def question_explanation(
    an: ImageAnalysis, request: ExplainRequest, mask: np.ndarray | None
) -> list[str]:
    """Sentences answering a question about the current mask without segmenting again."""
    question = next((t.text for t in reversed(request.dialogue) if t.role == "user"), "")
    if mask is None or not mask.any():
        return [
            "There is no mask yet, so I have nothing to describe.",
            "Tell me what to find first (a word printed on it, a colour, or where it is).",
        ]
    facts = describe_mask(an, mask)
    subject = (
        f"The current mask ({request.intent.target})"
        if request.intent.target
        else "The current mask"
    )
    if READ_QUESTION.search(question):
        words = words_inside(an, mask)
        if words:
            text = " ".join(w.text for w in words)
            return (
                [f"It reads '{text}'."]
                + _where_sentences(words)
                + [region_sentence(facts, subject)]
            )
        return [
            "I cannot read any text inside the current mask.",
            region_sentence(facts, subject),
        ]
    out = [region_sentence(facts, subject)]
    words = words_inside(an, mask)
    if words:
        out.append("Inside it I can read " + ", ".join(f"'{w.text}'" for w in words[:5]) + ".")
    out.append(LIMITS)
    return out
