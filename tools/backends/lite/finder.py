"""Finding the tracked target in one image: detected objects of a named category, else cue-ranked regions.

The decision order:

1. The target names printed text ("the HDMI label", "the word 'EXIT'"): OCR-ranked regions.
2. The object source knows what the target names (lite: one of the detector's 80 categories,
   "the cup", "the guy on the left", "all the people"; an open-vocabulary source: any noun
   phrase): its detections are the only candidates, ranked by the turn's other cues (position,
   ordinal, size, colour, relations, "the other one"). No detection at all means the thing is
   **absent**.
3. Anything else ("the rocket", "the red part"): superpixel regions ranked by the cues, or the
   most salient region as a flagged guess when no cue applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tools.backends.lite import regions, stuff
from tools.backends.lite.analysis import ImageAnalysis
from tools.backends.lite.anchors import DetectionRanker
from tools.backends.lite.cues import BIG_SIZES, HEIGHT_SIZES, Cues, strip_relations
from tools.backends.lite.detector import Detection
from tools.backends.lite.geometry import box_inside, ellipse_in_box, iou
from tools.backends.lite.objects import SUPPORTS, unexplained_parts
from tools.backends.lite.rank import Ranked, Ranker, Ranking
from tools.backends.lite.refine import polish
from tools.backends.lite.salient import SalientMasker
from tools.backends.lite.sources import EXPLAINED, WEAK, Lookup, ObjectSource
from tools.backends.lite.unsure import coloured, of_named_colour, on_named_side, shown_before

MAX_ALTERNATIVES = 2
PERSON = "person"
UNEXPLAINED_MIN = 0.01
"""An unexplained salient region must cover this share of the image to be offered as a guess."""
AMBIGUOUS = 0.8
"""A runner-up detection scoring this share of the best one is returned as an alternative."""
MAX_INSTANCES = 12
"""At most this many instances are returned for "all the ..." (the best scoring ones)."""
FRONT_INSIDE = 0.5
FRONT_AREA = 0.8
"""A confident detection of another kind with this share of its box inside a thing's box, and a
box smaller than this share of the thing's, is in front of it: its pixels leave the thing's mask."""
BEHIND_KEEPS = 0.35
"""A thing keeps its whole mask when what stands in front would leave less than this share of it:
the hands reaching over a cup have a box so large that their mask takes the cup too."""
NEVER_IN_FRONT = SUPPORTS | {"tie"}
"""What is never cut out of a thing: supports lie behind what stands on them, a tie is worn."""


@dataclass
class Scored:
    """One candidate mask (working pixels) with its score and the kind of region it came from."""

    mask: np.ndarray
    score: float
    kind: str
    label: str = ""
    full: np.ndarray | None = None
    """The mask at the original size when it is known exactly (one the user was shown)."""


@dataclass
class Found:
    """What the search found: target masks (several for "all the ..."), alternatives, evidence."""

    targets: list[Scored] = field(default_factory=list)
    alternatives: list[Scored] = field(default_factory=list)
    several: bool = False
    """The user asked for several instances: ``targets`` holds one mask per instance."""
    absent: str | None = None
    """Why the target is judged not to be in the image (no mask is returned)."""
    evidence: dict[str, Any] = field(default_factory=dict)
    category: str | None = None
    """What the object source looked for ("cup"), when it was asked."""


class Finder:
    """Locates the target of one turn; the models sit behind an :class:`ObjectSource`."""

    def __init__(
        self, objects: ObjectSource | None, saliency: SalientMasker | None = None
    ) -> None:
        """Without ``objects`` (lite built with ``objects=False``) only regions are ranked; with
        ``saliency``, a target no model knows is guessed from the salient objects."""
        self.objects = objects
        self.saliency = saliency

    def ranker(
        self,
        an: ImageAnalysis,
        cues: Cues,
        previous: np.ndarray | None,
        objects: list[regions.Candidate] | None = None,
        extra: list[regions.Candidate] | None = None,
    ) -> Ranker:
        """Build the turn's ranker: anchors and exclusions may be the source's detections."""
        if self.objects is None:
            return Ranker(an, cues, previous, objects=objects, extra=extra)
        return DetectionRanker(an, cues, previous, objects, extra=extra, source=self.objects)

    def lookup(self, an: ImageAnalysis, cues: Cues, target: str | None) -> Lookup | None:
        """Ask the object source for the target, unless the target is printed text."""
        if self.objects is None or not target or cues.target.text_noun:
            return None
        if any(q.source != "target" for q in cues.target.text):
            return None
        t = cues.target  # every instance matters when choosing among them by order, side or size
        every = cues.count is not None or cues.other or t.ordinal is not None
        every = every or bool(t.positions) or t.size is not None or t.tone is not None
        phrase = strip_relations(target, cues.relations) or target
        found = self.objects.lookup(an, phrase, every=every)
        if not every and found is not None and t.colours and found.detections:
            if not any(coloured(an, d, t.colours) for d in found.detections):
                found = self.objects.lookup(an, phrase, every=True)  # the small red car: tiles
        return found

    def find(
        self, an: ImageAnalysis, cues: Cues, target: str | None, previous: np.ndarray | None
    ) -> Found:
        """Search the image for the target (see the module docstring for the order)."""
        lookup = self.lookup(an, cues, target)
        if lookup is not None:
            return self._objects(an, cues, previous, lookup)
        kind = None if cues.target.text_noun else stuff.kind_of(target)
        if kind is not None:
            return self._stuff(an, kind)
        return self._regions(an, cues, previous)

    def _stuff(self, an: ImageAnalysis, kind: str) -> Found:
        """Find the sky, grass, water, snow or road: where the image has that kind's colour and place
        (:mod:`tools.backends.lite.stuff`), always a flagged guess; absent when nothing has them."""
        mask = stuff.stuff_mask(an, kind)
        found = Found(evidence={"cues": [f"colour and place of {kind}"], "ocr": []})
        if not mask.any():
            found.absent = f"nothing in the image has the colour and place of {kind}"
            return found
        found.evidence["stuff"] = kind
        found.targets = [Scored(mask, stuff.SCORE, "salient", kind)]
        return found

    # -- detected objects ----------------------------------------------------------------
    def _objects(
        self, an: ImageAnalysis, cues: Cues, previous: np.ndarray | None, lookup: Lookup
    ) -> Found:
        """Rank the detections on stand-in masks (the ellipse in each box), then make real masks
        only for what is returned: one model run for a single target instead of one per box."""
        source = self.objects
        assert source is not None
        several = cues.count is not None
        found = Found(category=lookup.name, several=several)
        found.evidence["detections"] = len(lookup.detections)
        if not lookup.detections:
            found.absent = f"no {lookup.name} was detected anywhere in the image" + (
                f" (the best guess scored {lookup.best:.2f})" if lookup.best > 0 else ""
            )
            return found
        if lookup.weak and cues.asks_exists:
            # "Is there a boat?" is a yes/no question: evidence below the presence threshold
            # answers no (with the guess's score), not with a mask of a guess.
            found.absent = f"no {lookup.name} was detected surely enough (the best guess scored {lookup.best:.2f})"
            return found
        det_of: dict[int, Detection] = {}
        cands = []
        doubtful = {id(d) for d in lookup.unsure}  # added below the presence threshold: the caveat
        extra = (
            shown_before(lookup, cues, previous)
            or on_named_side(lookup, cues, an.shape)
            or of_named_colour(lookup, cues, an)
        )
        for det in [*lookup.detections, *extra][:MAX_INSTANCES]:
            cand = regions.mask_candidate(
                ellipse_in_box(an.shape, det.box), "object", an.cmap, an.lab,
                label=det.category, confidence=det.score,
            )  # fmt: skip
            if cand is not None:
                det_of[id(cand)] = det
                cands.append(cand)
        cues.target.text = [q for q in cues.target.text if q.source != "target"]
        ranking = self.ranker(an, cues, previous, objects=cands).rank()
        found.evidence.update(_ranking_evidence(ranking))
        if lookup.weak:
            found.evidence.setdefault("unmatched", []).append(
                f"the detector is unsure: its best {lookup.name} scored {lookup.best:.2f}"
            )
        damp = 0.5 if lookup.weak else 1.0

        def real(r: Ranked) -> Scored:
            det = det_of[id(r.cand)]
            whole = source.mask(an, det)
            mask = whole & ~self._in_front(an, det, lookup.name)
            if mask.sum() < BEHIND_KEEPS * whole.sum():
                mask = whole  # what was "in front" is a mask that took the thing itself
            if ranking.subtract is not None:
                mask = mask & ~ranking.subtract
            unsure = 0.5 if id(det) in doubtful else 1.0
            return Scored(mask, r.score * damp * unsure, "object", r.cand.label)

        ranked = ranking.ranked
        if cues.other and previous is not None:
            ranked = [r for r in ranked if iou(real(r).mask, previous) < 0.5]
            if not ranked:
                found.absent = f"I see no other {lookup.name} than the one already selected"
                return found
        if several:
            found.targets = _instances([real(r) for r in ranked], cues.count or 0)
            if cues.count and len(found.targets) < cues.count:
                found.targets = self._filled(an, found.targets, lookup, cues.count)
            _separate(found.targets)
            found.evidence["instances"] = len(found.targets)
            return found
        top = [real(r) for r in ranked[:1]]
        if len(ranked) > 1 and ranked[1].score >= AMBIGUOUS * ranked[0].score:
            top.append(real(ranked[1]))  # a close runner-up is worth showing as an alternative
        found.targets, found.alternatives = _calibrated(top)
        return found

    def _filled(
        self, an: ImageAnalysis, targets: list[Scored], lookup: Lookup, count: int
    ) -> list[Scored]:
        """Fill a count the user gave ("both cups") from the detections the detector was unsure
        of, then from those it gave another kind of the same family ("both pups": SSD calls the
        second puppy a bird), best first, each at half its score so that the answer carries the
        caveat."""
        assert self.objects is not None
        out = list(targets)
        family = _kind(lookup.name)
        kin = [] if family == lookup.name else [  # a category of no family has no kin
            d for d in an.objects.detections
            if d.category != lookup.name and _kind(d.category) == family and d.score >= WEAK
        ]  # fmt: skip
        for det in [*lookup.unsure, *sorted(kin, key=lambda d: -d.score)]:
            if len(out) == count:
                break
            mask = self.objects.mask(an, det)
            if mask.any() and all(iou(mask, t.mask) <= 0.5 for t in out):
                out.append(Scored(mask, 0.5 * det.score, "object", det.category))
        out.sort(key=lambda s: float(np.nonzero(s.mask)[1].mean()))
        return out

    def _unexplained_parts(self, an: ImageAnalysis) -> list[np.ndarray]:
        """Return the salient regions no confident detection explains, largest first (each at least
        :data:`UNEXPLAINED_MIN` of the image); none without a salient-object model."""
        if self.saliency is None or self.objects is None:
            return []
        confident = [d for d in an.objects.detections if d.score >= EXPLAINED]
        return unexplained_parts(
            an.salient(self.saliency), [self.objects.mask(an, d) for d in confident], UNEXPLAINED_MIN
        )

    def _in_front(self, an: ImageAnalysis, det: Detection, name: str) -> np.ndarray:
        """Return the pixels of other things standing in front of a detected thing: a drawn mask,
        like a COCO one, covers only what is visible of it. People inside a thing's box (a bus's
        passengers, a motorcycle's rider), and smaller things of other kinds lying mostly inside
        it (the mug a sleeping cat curls around, the kittens a man holds); not what is worn (a
        tie), not supports (a table is behind what stands on it), not another animal inside an
        animal or vehicle inside a vehicle (the same thing misnamed)."""
        out = np.zeros(an.shape, bool)
        if self.objects is None:
            return out
        # Only what the whole-image and tile passes are sure of (no new pass just for this);
        # their masks are cached with the image, so "the man on the left" next is answered at once.
        own = max(1, det.area)
        for other in an.objects.detections:
            if other.score < EXPLAINED or other.category in NEVER_IN_FRONT or other.box == det.box:
                continue
            if other.category == PERSON and name != PERSON:
                if box_inside(other.box, det.box) >= 0.2:
                    out |= self.objects.mask(an, other)
            elif _kind(other.category) != _kind(name) and other.area < FRONT_AREA * own:
                # (an animal inside an animal's box is the same animal misnamed: a dog's head
                # the tile pass calls a bear)
                if box_inside(other.box, det.box) >= FRONT_INSIDE:
                    out |= self.objects.mask(an, other)
        return out

    # -- cue-ranked regions (no category) ------------------------------------------------
    def _regions(self, an: ImageAnalysis, cues: Cues, previous: np.ndarray | None) -> Found:
        # What stands out but no detection explains competes with the superpixels: a thing no
        # model knows is often one of those ("the plate under the cup").
        extra = [
            c
            for part in self._unexplained_parts(an)
            if (c := regions.mask_candidate(part, "salient", an.cmap, an.lab)) is not None
        ]
        ranking = self.ranker(an, cues, previous, extra=extra).rank()
        found = Found(evidence=_ranking_evidence(ranking))
        found.evidence["candidates"] = len(ranking.ranked)
        chosen: list[Scored] = []
        for r in ranking.ranked[:40]:
            m = an.segment_mask(r.cand)
            if ranking.subtract is not None:
                m = m & ~ranking.subtract
            if not m.any() or any(iou(m, c.mask) > 0.7 for c in chosen):
                continue
            chosen.append(Scored(m, r.score, r.cand.kind, r.cand.label))
            if len(chosen) == 1 + MAX_ALTERNATIVES:
                break
        if not chosen:
            return found
        best = chosen[0]
        if best.kind in ("segment", "colour"):
            best.mask = polish(an, best.mask)
            if ranking.subtract is not None:
                best.mask &= ~ranking.subtract
        if ranking.fallback:
            if self.saliency is not None:
                return self._unexplained(an, cues, found)
            found.targets, found.alternatives = [best], chosen[1:]
            return found
        found.targets, found.alternatives = _calibrated(chosen)
        return found

    def _unexplained(self, an: ImageAnalysis, cues: Cues, found: Found) -> Found:
        """For a thing no model here knows: the most prominent salient region that is not a
        confidently detected object of a known category, as a flagged guess; absent when the
        salient objects are all explained."""
        parts = self._unexplained_parts(an)
        noun = cues.target.phrase or "that"
        names = sorted({d.category for d in an.objects.detections if d.score >= EXPLAINED})
        found.evidence["cues"] = []
        if not parts or cues.asks_exists:
            # Asked whether it is there, a guess would answer a question nobody asked.
            found.absent = f"'{noun}' is nothing my models know" + (
                ", so I cannot tell whether it is there"
                if cues.asks_exists
                else ", and nothing in the image stands out"
                + (f" apart from what I recognise ({', '.join(names)})" if names else "")
            )
            found.evidence["unknown"] = True
            return found
        several = cues.count is not None and len(parts) > 1
        regions = "these are the most prominent regions" if several else "this is the most prominent region"
        known = f" that {'are' if several else 'is'} not a {' or '.join(names)}" if names else ""
        found.evidence["fallback"] = f"'{noun}' is nothing my models know; {regions}{known} (salient-object model), a guess"
        found.evidence["cues"] = ["salient region not explained by a detection"]
        found.alternatives = []
        if several:
            # "all three pumpkins", "both trees": as many of the separate salient regions as were
            # asked for (all of them for "every"), largest first, then left to right
            wanted = parts[: cues.count or MAX_INSTANCES]
            found.several = True
            found.targets = _instances([Scored(m, 0.25, "salient", noun) for m in wanted], len(wanted))
            found.evidence["instances"] = len(found.targets)
            return found
        found.targets = [Scored(parts[0], 0.25, "salient", noun)]
        return found


def _ranking_evidence(ranking: Ranking) -> dict[str, Any]:
    """Collect the ranking's cues, OCR matches, unmatched cues and fallback note, as evidence."""
    ev: dict[str, Any] = {
        "cues": ranking.cues,
        "ocr": [m.word.to_evidence() for m in ranking.matches],
    }
    if ranking.unmatched:
        ev["unmatched"] = list(ranking.unmatched)
    if ranking.fallback:
        ev["fallback"] = ranking.fallback
    return ev


def _calibrated(
    ranked: list[Scored], subtract: np.ndarray | None = None
) -> tuple[list[Scored], list[Scored]]:
    """Keep the best mask (score scaled by its margin over the runner-up) and up to two alternatives."""
    distinct: list[Scored] = []
    for s in ranked:
        mask = s.mask & ~subtract if subtract is not None else s.mask
        if mask.any() and all(iou(mask, d.mask) <= 0.7 for d in distinct):
            distinct.append(Scored(mask, s.score, s.kind, s.label))
        if len(distinct) == 1 + MAX_ALTERNATIVES:
            break
    if not distinct:
        return [], []
    best = distinct[0]
    second = distinct[1].score if len(distinct) > 1 else 0.0
    margin = (best.score - second) / best.score if best.score > 0 else 0.0
    best.score *= 0.6 + 0.4 * margin
    for alt in distinct[1:]:
        alt.score *= 0.6
    return [best], distinct[1:]


def _instances(ranked: list[Scored], count: int) -> list[Scored]:
    """One mask per instance for "all the ..." (count 0) or "the two ..." (count n), left to right."""
    distinct: list[Scored] = []
    top = ranked[0].score if ranked else 0.0
    for s in ranked:
        if count == 0 and s.score < 0.3 * top:
            break
        if all(iou(s.mask, d.mask) <= 0.5 for d in distinct):
            distinct.append(s)
        if count and len(distinct) == count:
            break
    distinct.sort(key=lambda s: float(np.nonzero(s.mask)[1].mean()))
    return distinct


def _separate(instances: list[Scored]) -> None:
    """Give each pixel claimed by several instance masks to one of them, the one whose centre is
    nearest (relative to its extent): a box's mask often holds a neighbour's shoulder or arm."""
    if len(instances) < 2:
        return
    claims = np.sum([s.mask for s in instances], axis=0)
    ys, xs = np.nonzero(claims > 1)
    if not len(xs):
        return
    distances = []
    for s in instances:
        my, mx = np.nonzero(s.mask)
        cx, cy = mx.mean(), my.mean()
        w, h = max(1, int(np.ptp(mx)) + 1), max(1, int(np.ptp(my)) + 1)
        d = ((xs - cx) / w) ** 2 + ((ys - cy) / h) ** 2
        distances.append(np.where(s.mask[ys, xs], d, np.inf))
    owner = np.argmin(distances, axis=0)
    for i, s in enumerate(instances):
        lose = owner != i
        s.mask = s.mask.copy()
        s.mask[ys[lose], xs[lose]] = False


_FAMILIES = {
    **dict.fromkeys("bird cat dog horse sheep cow elephant bear zebra giraffe".split(), "animal"),
    **dict.fromkeys(("bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"), "vehicle"),
}
"""COCO's supercategories whose members the detector confuses with each other."""


def _kind(category: str) -> str:
    """Return the family of a COCO category (animal, vehicle), else the category itself."""
    return _FAMILIES.get(category, category)


def pick_one(found: Found, cues: Cues, previous: np.ndarray | None) -> Found:
    """Choose one of several found things by a colour said of one of them, the turn's position,
    order, size or "the other one" ("now just the one on the right" after "the mug and the
    lamp"); the rest become alternatives. Without any such cue the first thing stays first."""
    def centre(s: Scored) -> tuple[float, float]:
        ys, xs = np.nonzero(s.mask)
        return (float(xs.mean()), float(ys.mean())) if len(xs) else (0.0, 0.0)

    things = list(found.targets)
    t = cues.target
    said = [s for s in things if any(c in (s.label or "").split() or (c == "gray" and "grey" in (s.label or "").split()) for c in t.colours)]
    side = t.positions[0] if t.positions else None
    keys = {
        "left": lambda s: centre(s)[0], "right": lambda s: -centre(s)[0],
        "top": lambda s: centre(s)[1], "bottom": lambda s: -centre(s)[1],
    }  # fmt: skip
    if said and len(said) < len(things):  # "now only the black one": the one said to be black
        things = said + [s for s in things if all(s is not x for x in said)]
    elif side in keys:
        things.sort(key=keys[side])
    elif side in ("center", "centre", "middle") and len(things) > 2:  # the middle one of a row
        across = [centre(s)[0] for s in things]
        middle = (min(across) + max(across)) / 2
        things.sort(key=lambda s: abs(centre(s)[0] - middle))
    elif t.ordinal is not None:
        things.sort(key=lambda s: centre(s)[0])
        index = t.ordinal if t.ordinal < len(things) else len(things) - 1
        things.insert(0, things.pop(index))
    elif t.size is not None:
        size = t.size
        things.sort(key=lambda s: _measure(s.mask, size), reverse=size in BIG_SIZES)
    elif cues.other and previous is not None:
        things.sort(key=lambda s: iou(s.mask, previous))
    return Found(targets=things[:1], alternatives=things[1:2], evidence=found.evidence, category=found.category)


def _measure(mask: np.ndarray, size: str) -> int:
    """How big a mask is for a size word: its height for tall/short, else its area."""
    if size in HEIGHT_SIZES:
        rows = np.flatnonzero(mask.any(axis=1))
        return int(rows[-1] - rows[0] + 1) if rows.size else 0
    return int(mask.sum())
