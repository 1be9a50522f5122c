"""Scoring candidate regions against the cues of a turn and picking the best few (a soft AND of cues)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from agent.types import Relation
from tools.backends.lite import colours, regions
from tools.backends.lite.analysis import ImageAnalysis
from tools.backends.lite.cues import (
    BIG_SIZES,
    HEIGHT_SIZES,
    SIZE_SAID,
    Cues,
    PhraseCues,
    parse_phrase,
)
from tools.backends.lite.geometry import box_iou, iou
from tools.backends.lite.regions import Candidate
from tools.backends.lite.spatial import extremal, position_score, relation_score
from tools.backends.lite.textmatch import TextMatch, TextQuery, match, similarity
from tools.backends.lite.wearing import PEOPLE, Worn, band_mask

FLOOR = 0.05
"""A cue that fails completely multiplies a candidate's score by this, not by zero."""
DETECTION_SURE = 0.6
"""A detection scoring this much (or more) counts as certainly of its category."""
HELD_TOUCH = 0.05
"""The least touch score (share of the held thing in a box, less for boxes far larger than it) that
lets "holding X" choose among candidates."""
HELD_MARGIN = 0.15
"""How much a candidate's box grows on each side when looking for what it holds."""
HELD_SIZE_POWER = 0.35
"""How much a box far larger than the held thing counts less: (held area / box area) to this power."""


@dataclass
class Ranked:
    """A candidate with its final score."""

    cand: Candidate
    score: float


@dataclass
class Ranking:
    """The outcome of ranking: candidates best first plus what was used, for evidence."""

    ranked: list[Ranked]
    cues: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    matches: list[TextMatch] = field(default_factory=list)
    fallback: str | None = None
    subtract: np.ndarray | None = None
    """Working-size pixels to remove from the chosen mask (excluded regions)."""


class _Overlap:
    """Pixel overlap of every candidate with one working-size mask, vectorised for segments."""

    def __init__(self, an: ImageAnalysis, mask: np.ndarray) -> None:
        self.an = an
        self.mask = mask
        self.area = int(mask.sum())
        self.counts = an.overlap_counts(mask)
        self.total = mask.size

    def inter(self, c: Candidate) -> float:
        if c.pixels is not None:
            return float(np.logical_and(c.pixels, self.mask).sum())
        return float(self.counts[c.level][c.seg_id])

    def frac_of_cand(self, c: Candidate) -> float:
        return self.inter(c) / max(1.0, c.area * self.total)

    def iou(self, c: Candidate) -> float:
        inter = self.inter(c)
        union = c.area * self.total + self.area - inter
        return inter / union if union > 0 else 0.0


class Ranker:
    """Scores candidates of one image for one turn's cues."""

    def __init__(
        self,
        an: ImageAnalysis,
        cues: Cues,
        previous: np.ndarray | None,
        objects: list[Candidate] | None = None,
        extra: list[Candidate] | None = None,
    ) -> None:
        """Rank ``objects`` (detections of the named category) when given, else superpixels and
        the ``extra`` regions (salient regions no detection explains)."""
        self.an = an
        self.cues = cues
        self.previous = previous if previous is not None and previous.any() else None
        h, w = an.shape
        self.w, self.h = w, h
        self.objects = bool(objects)
        self.pool: list[Candidate] = list(objects) if objects else [*an.segments, *(extra or [])]
        self._blobs: dict[str, list[Candidate]] = {}

    # -- candidate helpers -------------------------------------------------
    def text_candidate(self, m: TextMatch) -> Candidate:
        """Build a candidate for one matched OCR entry (its grown quadrilateral)."""
        mask = regions.text_mask(m.word, self.an.shape, self.an.scale)
        cand = regions.mask_candidate(
            mask, "text", self.an.cmap, self.an.lab, words=(m.word,), label=m.word.text
        )
        assert cand is not None
        return cand

    def blobs(self, colour: str) -> list[Candidate]:
        """Colour-blob candidates for one colour word (computed once per turn)."""
        if colour not in self._blobs:
            found = []
            for mask in regions.colour_blobs(self.an.cmap, colour):
                c = regions.mask_candidate(mask, "colour", self.an.cmap, self.an.lab, label=colour)
                if c is not None:
                    found.append(c)
            self._blobs[colour] = found
        return self._blobs[colour]

    def resolve(
        self, phrase: str, many: bool = False
    ) -> tuple[list[Candidate], list[TextMatch], str]:
        """Find the region(s) an anchor or exclusion phrase names, by text then colour then position.

        With ``many`` (exclusions) every blob of a named colour counts, not only the best one.
        """
        pc = parse_phrase(phrase, target_threshold=0.75)
        matches = match(pc.text, self.an.words) if pc.text else []
        if matches:
            best = matches[0].similarity
            chosen = [m for m in matches if m.similarity >= best - 0.1]
            return [self.text_candidate(m) for m in chosen], chosen, f"'{chosen[0].word.text}'"
        if pc.colours:
            blobs = [b for col in pc.colours for b in self.blobs(col)]
            if many and blobs and not pc.positions:
                return blobs, [], f"the {' '.join(pc.colours)} regions"
            scored = sorted(
                ((self._phrase_score(c, pc), c) for c in self.pool + blobs), key=lambda t: -t[0]
            )
            if scored and scored[0][0] >= 0.25:
                return [scored[0][1]], [], f"the {' '.join(pc.colours)} region"
        elif pc.positions:  # position alone: the most object-like region there
            scored = sorted(
                ((self._phrase_score(c, pc), c) for c in self.pool), key=lambda t: -t[0]
            )
            if scored:
                return [scored[0][1]], [], f"the region at the {' '.join(pc.positions)}"
        return [], [], ""  # a bare noun ('the cup') cannot be found by lite

    def _phrase_score(self, c: Candidate, pc: PhraseCues) -> float:
        s = c.objectness()
        for col in pc.colours:
            s *= FLOOR + (1 - FLOOR) * min(1.0, colours.colour_score(c.hist, col) / 0.7)
        for pos in pc.positions:
            s *= FLOOR + (1 - FLOOR) * position_score(c, pos)
        return s

    # -- ranking -----------------------------------------------------------
    def rank(self) -> Ranking:
        """Score every candidate; fall back to saliency (low score) when no cue could be used."""
        cues, t = self.cues, self.cues.target
        out = Ranking(ranked=[])
        factors: list[dict[int, float]] = []
        extra: list[Candidate] = []

        # text read in the image
        matches = match(t.text, self.an.words) if t.text else []  # OCR only when text is sought
        for q in t.text:
            if q.source != "target" and not any(m.query == q for m in matches):
                out.unmatched.append(f"no text matching '{q.text}' was read")
        if matches and cues.other and self.previous is not None:
            # "no, the other one": text already selected by the previous mask is not a cue any more
            kept = [
                m
                for m in matches
                if iou(self.an.segment_mask(self.text_candidate(m)), self.previous) <= 0.5
            ]
            for m in matches:
                if m not in kept:
                    out.cues.append(f"text '{m.word.text}' is the previous mask; looking elsewhere")
            matches = kept
        if matches:
            unmatched_nouns = [
                q for q in t.text if q.source == "target" and not any(m.query == q for m in matches)
            ]
            text_target = t.text_noun or not unmatched_nouns
            text_cands = [(self.text_candidate(m), m) for m in matches]
            extra += [c for c, _ in text_cands]
            out.matches = matches
            out.cues += sorted({f"text '{m.word.text}'" for m in matches})
            f: dict[int, float] = {}
            said = [q for q in t.text if q.source == "target" and any(m.query == q for m in matches)]
            for c, m in text_cands:
                f[id(c)] = _coverage(m, said)
            for c in self.pool:
                best = 0.0
                for tc, m in text_cands:
                    x0, y0, x1, y1 = tc.bbox
                    inside = (
                        max(0, min(x1, c.bbox[2]) - max(x0, c.bbox[0]))
                        * max(0, min(y1, c.bbox[3]) - max(y0, c.bbox[1]))
                        / max(1, (x1 - x0) * (y1 - y0))
                    )
                    if inside > 0.8 and not c.background_like and c.area < 40 * tc.area:
                        best = max(best, (0.3 if text_target else 0.85) * m.score)
                f[id(c)] = best
            factors.append(f)

        # detections of the named category: how sure the detector is
        if self.objects:
            factors.append({id(c): min(1.0, c.confidence / DETECTION_SURE) for c in self.pool})
            out.cues.append(f"detected {self.pool[0].label}")

        # colours
        for col in t.colours:
            if not self.objects:  # a colour blob is not an instance of the category
                extra += [b for b in self.blobs(col) if b not in extra]
            factors.append(
                {
                    id(c): min(1.0, colours.colour_score(c.hist, col) / 0.7)
                    for c in self.pool + extra
                }
            )
            best = max(
                (
                    colours.colour_score(c.hist, col)
                    for c in self.pool + extra
                    if not c.background_like
                ),
                default=0,
            )
            out.cues.append(f"colour {col}")
            if best < 0.25:
                out.unmatched.append(f"no region is clearly {col}")

        # what people wear, scored where it is worn
        for worn in t.worn:
            if worn.colour:
                factors.append({id(c): self._worn_score(c, worn) for c in self.pool + extra})
                out.cues.append(f"{worn.colour} {worn.garment}")
                continue
            garment = self.garment_factor(self.pool + extra, worn)
            if garment is None:
                out.unmatched.append(f"no model here tells who wears a {worn.garment}")
            else:
                factors.append(garment)
                out.cues.append(f"wearing a {worn.garment}")

        all_cands = self.pool + extra
        prev_ov = _Overlap(self.an, self.previous) if self.previous is not None else None

        # what the target holds or rides: the instance touching it
        for thing in t.held if self.objects else []:
            held = self.held_factor(all_cands, thing)
            if held is None:
                out.unmatched.append(f"could not find the {thing} to tell who has it")
                continue
            factors.append(held)
            out.cues.append(f"with the {thing}" if not _points_back(thing) else "holding the current mask")

        # another instance than the previous mask
        if cues.other and prev_ov is not None:
            prev_area = prev_ov.area / prev_ov.total
            prev_lab = self.an.lab[self.previous].reshape(-1, 3).mean(axis=0)
            factors.append(
                {
                    id(c): (1.0 - prev_ov.iou(c)) ** 2
                    * (1.0 - prev_ov.frac_of_cand(c)) ** 2
                    * (
                        0.3
                        + 0.35 * min(c.area, prev_area) / max(c.area, prev_area, 1e-9)
                        + 0.35 * math.exp(-float(np.linalg.norm(c.mean_lab - prev_lab)) / 25.0)
                    )
                    for c in all_cands
                }
            )
            out.cues.append("a different region than the previous mask")
        elif cues.other:
            out.unmatched.append("no previous mask to pick a different one from")

        # position words (with an ordinal they only say which way to count)
        if t.positions and t.ordinal is None:
            ref = None
            if cues.other and prev_ov is not None:
                ys, xs = np.nonzero(prev_ov.mask)
                ref = (float(xs.mean()) / self.w, float(ys.mean()) / self.h)
            if self.objects and ref is None:
                # Among instances of one thing, "the one on the left" is the leftmost one.
                factors.append(extremal(all_cands, t.positions, (self.w, self.h)))
            else:
                factors.append(
                    {
                        id(c): float(
                            np.mean(
                                [position_score(c, p, ref, (self.w, self.h)) for p in t.positions]
                            )
                        )
                        for c in all_cands
                    }
                )
            where = " ".join(dict.fromkeys(t.positions))
            out.cues.append(f"position {where}" + (" of the previous mask" if ref else ""))

        # relations to an anchor region
        for rel in cues.relations:
            anchors, amatches, name = self.resolve(rel.anchor)
            if not anchors:
                out.unmatched.append(f"could not find the anchor '{rel.anchor}'")
                continue
            out.matches += [m for m in amatches if m not in out.matches]
            factors.append(
                {
                    id(c): max(relation_score(c, rel.kind, a, self.w, self.h) for a in anchors)
                    for c in all_cands
                }
            )
            out.cues.append(f"{_rel_words(rel)} {name}" + (" label" if amatches else ""))

        # exclusions
        subtract = np.zeros(self.an.shape, bool)
        for phrase in cues.exclusions:
            if self.previous is not None and _points_back(phrase):
                # "not that one" / "not this guy": the current mask, whatever it is
                subtract |= self.previous
                out.cues.append("excluding the previous mask")
                continue
            found, _, name = self.resolve(phrase, many=True)
            if not found:
                out.unmatched.append(f"could not find '{phrase}' to exclude")
                continue
            for c in found:
                subtract |= self.an.segment_mask(c)
            out.cues.append(f"excluding {name or repr(phrase)}")
        if subtract.any():
            ex = _Overlap(self.an, subtract)
            factors.append({id(c): max(0.0, 1.0 - ex.frac_of_cand(c)) for c in all_cands})
            out.subtract = subtract

        active = bool(factors) or t.size is not None or t.ordinal is not None or t.tone is not None
        if not active:
            return self._fallback(out, all_cands)

        scores = {id(c): c.objectness() for c in all_cands}
        for f in factors:
            for c in all_cands:
                scores[id(c)] *= FLOOR + (1 - FLOOR) * f.get(id(c), 0.0)

        if t.size is not None:
            self._size(all_cands, scores, t.size)
            out.cues.append(f"size {SIZE_SAID[t.size]}")
        if t.tone is not None:
            self._tone(all_cands, scores, t.tone)
            out.cues.append(f"{t.tone}er than the others")
        if t.ordinal is not None:
            self._ordinal(all_cands, scores, t.ordinal)
            side = next((p for p in t.positions if p != "center"), "left")
            nth = "last" if t.ordinal < 0 else _nth(t.ordinal + 1)
            out.cues.append(f"{nth} from the {side}")

        ranked = sorted(all_cands, key=lambda c: -scores[id(c)])
        out.ranked = self._prefer_wholes([Ranked(c, float(scores[id(c)])) for c in ranked])
        return out

    def held_factor(self, cands: list[Candidate], thing: str) -> dict[int, float] | None:
        """Score candidates by how much of what they hold (``thing``, or the current mask for "it")
        lies in their box, relative to the best; None when it cannot be found or nobody touches it."""
        if _points_back(thing):
            if self.previous is None:
                return None
            held_masks = [self.previous]
        else:
            anchors, matches, _ = self.resolve(thing)
            if not anchors or matches:
                return None
            held_masks = [self.an.segment_mask(a) for a in anchors]
        touch = {id(c): max(_touch(m, c.bbox) for m in held_masks) for c in cands}
        best = max(touch.values(), default=0.0)
        if best < HELD_TOUCH:
            return None
        return {key: value / best for key, value in touch.items()}

    def garment_factor(self, cands: list[Candidate], worn: Worn) -> dict[int, float] | None:
        """Score people by how much the garment looks worn ("the man with the hat"); None when
        nothing here can tell (lite's ranker alone has no classifier)."""
        return None

    def _worn_score(self, c: Candidate, worn: Worn) -> float:
        """0..1: how much of the band where a person wears ``worn`` has its colour; anything that
        is not a person is scored on its whole region ("the car with the red roof")."""
        hist = c.hist
        if self.objects and c.label in PEOPLE and c.pixels is not None:
            band = band_mask(c.pixels, c.bbox, worn.band)
            hist = colours.histogram(self.an.cmap, band)
        return min(1.0, colours.colour_score(hist, worn.colour) / 0.7)

    def _prefer_wholes(self, ranked: list[Ranked], top: int = 10) -> list[Ranked]:
        """Promote a coarse segment that contains the winning fine segment and scores nearly as well."""
        if not ranked or ranked[0].cand.kind != "segment":
            return ranked
        best = ranked[0]
        inner = self.an.segment_mask(best.cand)
        n = max(1, int(inner.sum()))
        for i, r in enumerate(ranked[1:top], start=1):
            c = r.cand
            if (
                c.kind == "segment"
                and r.score >= 0.85 * best.score
                and not c.background_like
                and best.cand.area < c.area <= 10 * best.cand.area
                and np.logical_and(self.an.segment_mask(c), inner).sum() >= 0.8 * n
            ):
                promoted = Ranked(c, best.score)
                demoted = Ranked(best.cand, 0.85 * best.score)
                return [promoted, demoted] + ranked[1:i] + ranked[i + 1 :]
        return ranked

    def _plausible(self, cands: list[Candidate], scores: dict[int, float]) -> list[Candidate]:
        """Candidates that compete on size/order: well scored, object-like, not background."""
        top = max(scores[id(c)] for c in cands)
        good = [c for c in cands if scores[id(c)] >= 0.5 * top]
        keep = [c for c in good if not c.background_like and c.objectness() >= 0.8]
        return keep or [c for c in good if not c.background_like] or good

    def _size(self, cands: list[Candidate], scores: dict[int, float], size: str) -> None:
        """Favour the biggest (or smallest) of the plausible candidates, by area; the tallest (or
        shortest) by the height of its box."""
        def height(c: Candidate) -> float:
            return float(c.bbox[3] - c.bbox[1])

        self._favour(cands, scores, height if size in HEIGHT_SIZES else (lambda c: c.area), high=size in BIG_SIZES)

    def _tone(self, cands: list[Candidate], scores: dict[int, float], tone: str) -> None:
        """Favour the lightest (or darkest) of the plausible candidates, by mean L* lightness."""
        self._favour(cands, scores, lambda c: float(c.mean_lab[0]), high=tone == "light")

    def _favour(
        self, cands: list[Candidate], scores: dict[int, float], value: Callable[[Candidate], float], *, high: bool
    ) -> None:
        """Scale each plausible candidate's score by where its ``value`` lies between the lowest
        and highest among them (the highest wins with ``high``, else the lowest); the others get
        a tenth."""
        plaus = self._plausible(cands, scores)
        values = np.array([value(c) for c in plaus])
        lo, hi = float(values.min()), float(values.max())
        ids = {id(c) for c in plaus}
        for c in cands:
            if id(c) not in ids:
                s = 0.1
            elif hi - lo < 1e-9:
                s = 1.0
            else:
                r = (value(c) - lo) / (hi - lo)
                s = r if high else 1.0 - r
            scores[id(c)] *= FLOOR + (1 - FLOOR) * s

    def _ordinal(self, cands: list[Candidate], scores: dict[int, float], ordinal: int) -> None:
        plaus = sorted(self._plausible(cands, scores), key=lambda c: -scores[id(c)])
        distinct: list[Candidate] = []
        for c in plaus:
            if all(box_iou(c.bbox, d.bbox) < 0.6 for d in distinct):
                distinct.append(c)
        # Counted from the left unless a side is named: "the second from the right/top/bottom".
        side = next((p for p in self.cues.target.positions if p != "center"), "left")
        along = {"left": lambda c: c.cx, "right": lambda c: -c.cx,
                 "top": lambda c: c.cy, "bottom": lambda c: -c.cy,
                 "front": lambda c: -c.bbox[3], "back": lambda c: c.bbox[3]}[side]  # fmt: skip
        distinct.sort(key=along)
        if not distinct:
            return
        chosen = distinct[min(ordinal, len(distinct) - 1)] if ordinal >= 0 else distinct[-1]
        for c in cands:
            scores[id(c)] *= 1.0 if c is chosen or box_iou(c.bbox, chosen.bbox) > 0.8 else 0.2

    def _fallback(self, out: Ranking, cands: list[Candidate]) -> Ranking:
        g = self.an.lab.reshape(-1, 3).mean(axis=0)
        sal = {}
        for c in cands:
            contrast = min(1.0, float(np.linalg.norm(c.mean_lab - g)) / 60.0)
            centre = 1.0 - min(1.0, 2 * math.hypot(c.cx - 0.5, c.cy - 0.5))
            size = 1.0 if 0.01 <= c.area <= 0.4 else max(0.1, min(c.area / 0.01, 0.4 / c.area))
            sal[id(c)] = contrast * (0.3 + 0.7 * centre) * size * c.objectness()
        ranked = sorted(cands, key=lambda c: -sal[id(c)])
        out.ranked = [Ranked(c, 0.05 + 0.15 * sal[id(c)]) for c in ranked]
        phrase = self.cues.target.phrase or "the target"
        out.fallback = (
            f"no text, colour, position, size or relation cue in '{phrase}' could be used; "
            "returned the most salient region (contrast and centre prior), a guess"
        )
        out.cues.append("saliency fallback (contrast + centre prior)")
        return out


def _touch(held: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """How much of a held thing lies in a box grown a little (a bat is held at its end), less for a
    box far larger than the thing (a crowd's box holds the batter's bat too)."""
    x0, y0, x1, y1 = box
    box_area = max(1.0, float((x1 - x0 + 1) * (y1 - y0 + 1)))
    gx, gy = (x1 - x0) * HELD_MARGIN, (y1 - y0) * HELD_MARGIN
    x0, y0 = max(0, int(x0 - gx)), max(0, int(y0 - gy))
    x1, y1 = int(x1 + gx), int(y1 + gy)
    area = max(1.0, float(held.sum()))
    inside = float(held[y0 : y1 + 1, x0 : x1 + 1].sum()) / area
    return inside * min(1.0, area / box_area) ** HELD_SIZE_POWER


def _rel_words(rel: Relation) -> str:
    return {
        "left_of": "left of", "right_of": "right of", "next_to": "next to",
        "in_front_of": "in front of",
    }.get(  # fmt: skip
        rel.kind, rel.kind
    )


def _nth(n: int) -> str:
    """Spell an ordinal: 1 -> first, 2 -> second, 11 -> 11th."""
    words = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
    return words[n - 1] if 1 <= n <= len(words) else f"{n}th"


_DEMONSTRATIVES = frozenset({"that", "this", "it", "those", "these", "them"})


def _points_back(phrase: str) -> bool:
    """Tell whether an excluded phrase points at the current mask ("that one", "this guy", "it")."""
    words = phrase.lower().split()
    return bool(words) and words[0] in _DEMONSTRATIVES


def _coverage(m: TextMatch, said: list[TextQuery]) -> float:
    """Return a text match's score over all the words of the target that OCR found somewhere, not
    only the one it matched: "the coca cola sign" is the line 'Coca-Cola' (both words) more than
    'COLA' (one); words printed nowhere ("cardboard box") do not count."""
    if m.query.source != "target" or len(said) < 2:
        return m.score
    mean = sum(similarity(q.text, m.word.text) for q in said) / len(said)
    return mean * (0.5 + 0.5 * m.word.conf)
