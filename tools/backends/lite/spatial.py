"""Spatial cues: absolute and relative position words, and relations to an anchor region."""

from __future__ import annotations

import math

from tools.backends.lite.regions import Candidate


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def position_score(
    c: Candidate, word: str, ref: tuple[float, float] | None = None, size: tuple[int, int] = (1, 1)
) -> float:
    """0..1: how well the candidate sits at ``word`` (absolute, or beyond the ``ref`` centre point).

    Relative to a reference the candidate's whole box must lie on that side, and nearer is better
    ("no, the one on the right" means the next one to the right).
    """
    if ref is not None:
        w, h = size
        x0, y0, x1, y1 = c.bbox[0] / w, c.bbox[1] / h, c.bbox[2] / w, c.bbox[3] / h
        dx, dy = c.cx - ref[0], c.cy - ref[1]
        near = 0.4 + 0.6 * math.exp(-math.hypot(dx, dy) / 0.3)
        return near * {
            "left": _sig((ref[0] - x1) / 0.02), "right": _sig((x0 - ref[0]) / 0.02),
            "top": _sig((ref[1] - y1) / 0.02), "bottom": _sig((y0 - ref[1]) / 0.02),
            "center": 1.0 - min(1.0, math.hypot(dx, dy) / 0.3),
        }.get(word, 1.0)  # fmt: skip
    return {
        "left": 1.0 - c.cx, "right": c.cx, "top": 1.0 - c.cy, "bottom": c.cy,
        "center": 1.0 - min(1.0, 2 * math.hypot(c.cx - 0.5, c.cy - 0.5)),
        "back": 1.0 - _foot(c, size), "front": _foot(c, size),
    }.get(word, 1.0)  # fmt: skip


def _foot(c: Candidate, size: tuple[int, int]) -> float:
    """Where the candidate's box ends at the bottom, 0 (top of the photo) .. 1 (bottom): on a
    ground plane, how near the camera it stands."""
    h = size[1] if size[1] > 1 else (c.pixels.shape[0] if c.pixels is not None else 1)
    return min(1.0, c.bbox[3] / max(1, h))


EXTREMAL_SCALE = 0.15
"""How fast the score falls with the distance (image fraction) from the most extreme instance."""


def extremal(
    cands: list[Candidate], words: list[str], size: tuple[int, int] = (1, 1)
) -> dict[int, float]:
    """Score instances by how close each is to the extreme one on the named side(s), 0..1.

    The leftmost instance scores 1 for "left", one 15 % of the image further right about 0.37;
    "center" scores by distance from the instance nearest the centre; "back" and "front" by where
    each box ends at the bottom (depth on a ground plane: "the man at the back").
    """
    if not cands:
        return {}
    axes = {
        "left": lambda c: c.cx, "right": lambda c: 1.0 - c.cx,
        "top": lambda c: c.cy, "bottom": lambda c: 1.0 - c.cy,
        "center": lambda c: math.hypot(c.cx - 0.5, c.cy - 0.5),
        "back": lambda c: _foot(c, size), "front": lambda c: 1.0 - _foot(c, size),
    }  # fmt: skip
    out = {id(c): 1.0 for c in cands}
    for word in words:
        key = axes.get(word)
        if key is None:
            continue
        best = min(key(c) for c in cands)
        for c in cands:
            out[id(c)] *= math.exp(-(key(c) - best) / EXTREMAL_SCALE)
    return out


def relation_score(c: Candidate, kind: str, anchor: Candidate, w: int, h: int) -> float:
    """0..1: how well candidate ``c`` stands in relation ``kind`` to the anchor region."""
    cx0, cy0, cx1, cy1 = c.bbox
    ax0, ay0, ax1, ay1 = anchor.bbox
    ccx, ccy = c.cx * w, c.cy * h
    acx, acy = anchor.cx * w, anchor.cy * h
    ix = max(0.0, min(cx1, ax1) - max(cx0, ax0))
    iy = max(0.0, min(cy1, ay1) - max(cy0, ay0))
    own = max(1.0, (cx1 - cx0) * (cy1 - cy0))
    inside = ix * iy / own
    a_area = max(1.0, (ax1 - ax0) * (ay1 - ay0))
    same = ix * iy / (own + a_area - ix * iy)
    covers = ix * iy / a_area  # how much of the anchor's box the candidate's box covers
    gap_x = max(0.0, cx0 - ax1, ax0 - cx1) / w
    gap_y = max(0.0, cy0 - ay1, ay0 - cy1) / h
    if kind in ("left_of", "right_of"):
        sign = 1.0 if kind == "right_of" else -1.0
        side = _sig(sign * (ccx - acx) / (0.02 * w)) * _sig(
            sign * (ccx - (ax1 if sign > 0 else ax0)) / (0.02 * w)
        )
        align = math.exp(-abs(ccy - acy) / (0.5 * max(ay1 - ay0, cy1 - cy0) + 0.05 * h))
        score = side * (0.2 + 0.8 * math.exp(-gap_x / 0.12)) * (0.2 + 0.8 * align)
    elif kind in ("above", "below"):
        sign = 1.0 if kind == "below" else -1.0
        side = _sig(sign * (ccy - acy) / (0.02 * h)) * _sig(
            sign * (ccy - (ay1 if sign > 0 else ay0)) / (0.02 * h)
        )
        align = math.exp(-abs(ccx - acx) / (0.5 * max(ax1 - ax0, cx1 - cx0) + 0.05 * w))
        score = side * (0.2 + 0.8 * math.exp(-gap_y / 0.12)) * (0.2 + 0.8 * align)
    elif kind in ("behind", "in_front_of"):
        # Depth from the ground plane: what stands nearer the camera reaches lower in the photo,
        # and overlaps (hides or is hidden by) the anchor's box sideways.
        sign = 1.0 if kind == "in_front_of" else -1.0
        deeper = _sig(sign * (cy1 - ay1) / (0.03 * h))
        overlap_x = ix / max(1.0, min(cx1 - cx0, ax1 - ax0))
        score = deeper * (0.3 + 0.7 * overlap_x) * math.exp(-gap_x / 0.08)
        if kind == "behind":  # a thing behind stands up from within the anchor's height
            score *= _sig((cy1 - ay0) / (0.03 * h))
        return float(score * (1.0 - same))
    elif kind == "next_to":
        score = math.exp(-math.hypot(gap_x, gap_y) / 0.05) * (1.0 - 0.8 * inside)
    else:  # on / inside: within the anchor (a label on a bottle), or resting on its top edge
        resting = math.exp(-abs(cy1 - ay0) / (0.05 * h)) * (ix / max(1.0, cx1 - cx0))
        score = max(inside, 0.7 * resting) * (1.0 if c.area < anchor.area else 0.3)
        return float(score * (1.0 - same))
    return float(score * (1.0 - same) * (1.0 - covers) ** 2)
