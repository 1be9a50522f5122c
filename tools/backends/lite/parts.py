"""Parts of the current target: geometric parts always, a few semantic parts where a model knows them.

* Geometric: the left/right/top/bottom half of a mask or its centre,
  :func:`agent.parts.geometric_part` (the definition the evaluation set uses too).
* Semantic, inside the target's box: anything the COCO detector knows ("just his tie", "the
  phone in her hand"), and faces, heads and eyes from OpenCV's bundled Haar cascades (human
  faces, and cat faces for a cat). Other parts ("the handle of the cup") are not known to any
  model lite has; the answer says so instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tools.backends.lite.analysis import ImageAnalysis
from tools.backends.lite.categories import ALIASES
from tools.backends.lite.detector import CATEGORIES
from tools.backends.lite.geometry import bbox, box_inside
from tools.backends.lite.sources import ObjectSource
from tools.backends.lite.wearing import GARMENTS, band_box

FACE_CASCADE = "haarcascade_frontalface_default.xml"
FACE_WORDS = frozenset({"face", "head", "eye", "eyes"})
"""Part nouns answered with the face cascades."""
PERSON_WORDS = frozenset({"person", *ALIASES["person"]})
"""Words in a target's label that make its parts what a person wears ("guy in the black hat")."""
INSIDE = 0.6
"""A part's detection box must lie at least this much inside the target's box."""


@dataclass
class PartResult:
    """A semantic part's mask (working pixels) with its score, or why it could not be found."""

    mask: np.ndarray | None
    score: float = 0.0
    note: str = ""


class PartFinder:
    """Semantic parts inside a target mask (see the module docstring for what is known)."""

    def __init__(self, objects: ObjectSource | None) -> None:
        self.objects = objects
        self._cascades: dict[str, cv2.CascadeClassifier] = {}

    def find(
        self, an: ImageAnalysis, base: np.ndarray, noun: str, base_label: str = ""
    ) -> PartResult:
        """Find the part ``noun`` inside ``base`` (working pixels)."""
        b = bbox(base)
        if b is None:
            return PartResult(None, note="there is no current mask to take a part of")
        words = set(noun.lower().split())
        if words & FACE_WORDS:
            return self._face(an, base, b, words, cat="cat" in base_label.lower())
        worn = [GARMENTS[w] for w in noun.lower().split() if w in GARMENTS]
        on_person = bool(worn) and bool(PERSON_WORDS & set(base_label.lower().split()))
        lookup = (
            self.objects.lookup(an, noun, every=True, head_only=True)
            if self.objects is not None
            else None
        )
        if lookup is None and on_person:  # a garment no model knows: where it is worn
            return self._worn(an, base, b, noun, worn[-1])
        if lookup is None:
            return PartResult(
                None,
                note=f"no model here knows a '{noun}' inside the target; parts that can be found "
                "are detected objects (e.g. a tie or a phone), faces, and halves of it",
            )
        inside = [d for d in lookup.detections if box_inside(d.box, b) >= INSIDE]
        if not inside and on_person and lookup.name not in CATEGORIES:
            # The classifier names hats but does not find them on a head: where a hat is worn.
            # A COCO thing the detector finds on people (a tie, a bag) is absent when not found.
            return self._worn(an, base, b, noun, worn[-1])
        if not inside:
            return PartResult(None, note=f"no {lookup.name} was detected inside the target")
        assert self.objects is not None
        best = inside[0]
        mask = self.objects.mask(an, best) & _grown(base)
        note = f"detected {lookup.name} ({best.score:.2f}) inside it"
        return PartResult(mask if mask.any() else None, best.score, note)

    def _face(
        self,
        an: ImageAnalysis,
        base: np.ndarray,
        b: tuple[int, int, int, int],
        words: set[str],
        cat: bool,
    ) -> PartResult:
        cascade = "haarcascade_frontalcatface_extended.xml" if cat else FACE_CASCADE
        face = self._largest_face(an, b, cascade, min_side=24)
        if face is None:
            return PartResult(None, note="no face was found inside the target")
        fx, fy, fw, fh = face
        out = np.zeros(base.shape, np.uint8)
        if "eye" in words or "eyes" in words:
            for ex, ey, ew, eh in cascade_eyes(self, an.rgb[fy : fy + fh, fx : fx + fw]):
                cv2.ellipse(
                    out,
                    (fx + ex + ew // 2, fy + ey + eh // 2),
                    (ew // 2, eh // 3),
                    0, 0, 360, 1, -1,
                )  # fmt: skip
            note = "eyes found by OpenCV's eye cascade inside the face"
            if not out.any():
                return PartResult(None, note="no eyes were found inside the face")
        elif "head" in words:
            cv2.ellipse(
                out,
                (fx + fw // 2, fy + fh // 2 - fh // 10),
                (int(fw * 0.65), int(fh * 0.8)),
                0, 0, 360, 1, -1,
            )  # fmt: skip
            note = "head: the face found by OpenCV's face cascade, grown to the hair line"
        else:
            cv2.ellipse(
                out, (fx + fw // 2, fy + fh // 2), (fw // 2, int(fh * 0.6)), 0, 0, 360, 1, -1
            )
            note = "face found by OpenCV's face cascade"
        mask = out.astype(bool) & base
        return PartResult(mask if mask.any() else None, 0.6, note)

    def _worn(
        self,
        an: ImageAnalysis,
        base: np.ndarray,
        b: tuple[int, int, int, int],
        noun: str,
        band: str,
    ) -> PartResult:
        """Return what a person wears ("just his hat", "only her jacket"): the person's pixels in the band
        of their box where it is worn; a hat or hair is what lies above the face when a face is
        found. An estimate from geometry, so it is scored low and said to be one."""
        x0, y0, x1, y1 = b
        face = self._largest_face(an, b, FACE_CASCADE, min_side=12)
        if band == "head" and face is not None:
            fx, fy, fw, fh = face
            box: tuple[float, float, float, float] = (
                fx - 0.35 * fw,
                y0,
                fx + 1.35 * fw,
                fy + 0.2 * fh,
            )
            how = "above the face OpenCV's face cascade found"
        else:
            box = band_box((x0, y0, x1, y1), band)
            if band == "head":  # without a face, a hat is the top part of the head's band
                box = (box[0], box[1], box[2], box[1] + 0.6 * (box[3] - box[1]))
            how = "estimated from the shape of the person's box"
        out = np.zeros(base.shape, bool)
        bx0, by0, bx1, by1 = (int(round(v)) for v in box)
        out[max(0, by0) : by1 + 1, max(0, bx0) : bx1 + 1] = True
        mask = out & base
        if not mask.any():
            return PartResult(None, note=f"the {noun} could not be placed on the target")
        return PartResult(mask, 0.35, f"the {noun}: the part of the person where it is worn, {how}")

    def _largest_face(
        self, an: ImageAnalysis, b: tuple[int, int, int, int], cascade: str, min_side: int
    ) -> tuple[int, int, int, int] | None:
        """Return the largest face a cascade finds in a box, as (x, y, w, h) in working pixels
        (faces smaller than a tenth of the box's short side, or ``min_side``, are ignored)."""
        x0, y0, x1, y1 = b
        grey = cv2.cvtColor(an.rgb[y0 : y1 + 1, x0 : x1 + 1], cv2.COLOR_RGB2GRAY)
        if grey.size == 0:
            return None
        side = max(min_side, min(grey.shape) // 10)
        faces = self._cascade(cascade).detectMultiScale(
            grey, 1.1, 5, minSize=(side, side)
        )
        if len(faces) == 0:
            return None
        fx, fy, fw, fh = (int(v) for v in max(faces, key=lambda f: f[2] * f[3]))
        return fx + x0, fy + y0, fw, fh

    def _cascade(self, name: str) -> cv2.CascadeClassifier:
        if name not in self._cascades:
            path = Path(cv2.data.haarcascades) / name  # type: ignore[attr-defined]
            self._cascades[name] = cv2.CascadeClassifier(str(path))
        return self._cascades[name]


def cascade_eyes(finder: PartFinder, face_rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Eye boxes (x, y, w, h) in the upper part of a face crop."""
    if face_rgb.size == 0:
        return []
    grey = cv2.cvtColor(face_rgb, cv2.COLOR_RGB2GRAY)
    upper = grey[: max(1, int(grey.shape[0] * 0.6))]
    eyes = finder._cascade("haarcascade_eye.xml").detectMultiScale(upper, 1.1, 5)
    return [tuple(int(v) for v in e) for e in eyes[:2]]  # type: ignore[misc]


def _grown(mask: np.ndarray, fraction: float = 0.03) -> np.ndarray:
    """Dilate a mask by a few percent of its size (a part may reach slightly past its outline)."""
    b = bbox(mask)
    if b is None:
        return mask
    r = max(1, int(fraction * max(b[2] - b[0], b[3] - b[1])))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)
