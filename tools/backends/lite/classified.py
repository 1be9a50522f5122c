"""lite's object source: COCO detections first, ImageNet-classified regions for the nouns COCO lacks.

The COCO detector answers its 80 categories. For a noun ImageNet knows and COCO does not ("the
tripod", "both lions", "the space shuttle"), the image's candidate objects (the salient regions
and the detector's boxes, whatever their COCO label) are classified once per image by
EfficientNet-Lite3, and the candidates whose crops score the noun's classes become that noun's
detections: they are ranked, counted, masked and reported like COCO ones, and none at all means
the thing is absent. The classifier also checks a COCO detection the detector is unsure of: a
weak "cat" whose crop does not look like a cat is dropped, so the cat is reported absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial

import cv2
import numpy as np

from tools.backends.lite.analysis import ImageAnalysis
from tools.backends.lite.categories import CategoryMatch
from tools.backends.lite.classifier import ImageNetClassifier, read_labels
from tools.backends.lite.detector import Detection
from tools.backends.lite.geometry import bbox, box_inside, box_iou
from tools.backends.lite.imagenet import COCO_CLASSES, GROUPS, VESSEL_CLASSES, ImageNetVocabulary
from tools.backends.lite.objects import SUPPORTS, box_mask, unexplained_parts
from tools.backends.lite.salient import SalientMasker
from tools.backends.lite.sources import EXPLAINED, PRESENT, WEAK, CocoObjects, Lookup

SOURCE = "imagenet"
FOUND = 0.15
"""A candidate whose crop gives the noun's classes this much probability is an instance."""
UNSURE = 0.05
"""Candidates between this and :data:`FOUND` are used only when none is better (with the caveat)."""
CONFIRM = 0.05
"""A weak COCO detection is kept when its crop gives its category's ImageNet classes this much."""
MISNAMED_OWN = 0.05
"""A detected animal whose crop gives its category's ImageNet classes less than this is misnamed..."""
MISNAMED_OTHER = 0.5
"""... when another animal's classes get at least this much (then it is counted as that animal)."""
ANIMALS = ("cat", "dog", "bird", "bear", "elephant", "zebra", "horse", "sheep", "cow")
"""The COCO animals ImageNet has classes of: the classifier may say which of them a crop shows."""
ANIMAL_CLASSES = {a: COCO_CLASSES[a] for a in ANIMALS} | {"cat": GROUPS["cat"] + (286, 287)}
"""The classes that say a crop is one of :data:`ANIMALS`; a kitten is often the classifier's lynx."""
ALL_ANIMALS = frozenset({*ANIMALS, "giraffe"})
"""Every COCO animal category: any of them may be a misnamed one of :data:`ANIMALS`."""
MIN_REGION = 0.005
"""Salient regions smaller than this share of the image are not candidates."""
MAX_REGIONS = 6
MARGIN = 0.1
"""A crop extends its box by this fraction of the box's size on each side (context)."""
SAME = 0.6
"""Two candidates whose boxes overlap this much (IoU), or one of which lies this much inside the
other, are one object: the better-scoring is kept."""


@dataclass
class Candidate:
    """One possible object of an image: its box (working pixels), how to mask it, its class scores."""

    box: tuple[int, int, int, int]
    probs: np.ndarray
    mask: np.ndarray | None = None
    """The salient region's pixels; None for a detector box (masked like a COCO detection)."""
    detection: Detection | None = None


@dataclass
class Candidates:
    """The classified candidates of one image, made once and cached with its analysis."""

    items: list[Candidate] = field(default_factory=list)
    whole: np.ndarray | None = None
    """Class scores of the whole image."""

    def nbytes(self) -> int:
        """Memory held by the region masks and the score vectors."""
        return sum(
            c.probs.nbytes + (c.mask.nbytes if c.mask is not None else 0) for c in self.items
        )


_HEADWEAR = (
    "cowboy hat", "sombrero", "bonnet", "mortarboard", "shower cap", "bathing cap",
    "crash helmet", "football helmet", "pickelhaube", "bearskin",
)  # fmt: skip
GARMENT_CLASSES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("hat", "hats", "helmet", "helmets"), _HEADWEAR),
    **dict.fromkeys(("glasses", "sunglasses", "spectacles"), ("sunglasses", "sunglass")),
    "suit": ("suit",), "uniform": ("military uniform",), "apron": ("apron",),
    **dict.fromkeys(("shirt", "t-shirt", "tshirt", "tee", "jersey"), ("jersey",)),
    "sweatshirt": ("sweatshirt",), "hoodie": ("sweatshirt",), "cardigan": ("cardigan",),
    "coat": ("fur coat", "lab coat", "trench coat"), "gown": ("academic gown", "gown"),
    "tie": ("Windsor tie", "bow tie", "bolo tie"), "jeans": ("jean",),
    "skirt": ("miniskirt", "hoopskirt", "overskirt", "sarong"),
}  # fmt: skip
"""Garments and the ImageNet classes (by their first name) that show one being worn. A hat or
helmet counts all of ImageNet's headwear; a cap none (it has no baseball cap, and a cowboy hat
would outscore one)."""


class ClassifiedObjects:
    """An :class:`~tools.backends.lite.sources.ObjectSource`: COCO first, then ImageNet classes."""

    def __init__(
        self,
        coco: CocoObjects,
        classifier: ImageNetClassifier,
        masker: SalientMasker,
        vocabulary: ImageNetVocabulary | None = None,
    ) -> None:
        self.coco = coco
        self.classifier = classifier
        self.masker = masker
        self._vocabulary = vocabulary
        self._label_list: list[str] | None = None
        self._garments: dict[str, list[int]] | None = None

    @property
    def vocabulary(self) -> ImageNetVocabulary:
        """The class names' vocabulary, read from the packaged label list on first use."""
        if self._vocabulary is None:
            self._vocabulary = ImageNetVocabulary(self._labels())
        return self._vocabulary

    def _labels(self) -> list[str]:
        """Return the 1000 class names in model order (read once)."""
        if self._label_list is None:
            self._label_list = read_labels()
        return self._label_list

    def _garment_classes(self, noun: str) -> list[int]:
        """Return the class indices of a garment (:data:`GARMENT_CLASSES`), resolved once by name."""
        if self._garments is None:
            first: dict[str, list[int]] = {}
            for i, label in enumerate(self._labels()):
                first.setdefault(label.split(",")[0], []).append(i)
            self._garments = {
                garment: sorted(i for name in names for i in first.get(name, []))
                for garment, names in GARMENT_CLASSES.items()
            }
        return self._garments.get(noun, [])

    def lookup(
        self, an: ImageAnalysis, phrase: str, *, every: bool = False, head_only: bool = False
    ) -> Lookup | None:
        """COCO's answer (weak detections checked by the classifier), else ImageNet's, else None."""
        found = self.coco.lookup(an, phrase, every=every, head_only=head_only)
        if found is not None:
            found = self._confirmed(an, found) if found.weak else found
            return self._animals_checked(an, found) if found.name in ANIMALS else found
        match = self.vocabulary.match(phrase, head_only=head_only)
        if match is None:
            return None
        kind = _coco_kind(match.classes)
        if kind is not None:  # "the husky": a dog the detector may find, whatever its breed
            found = self.coco.lookup_category(an, CategoryMatch(kind, match.noun, alias=True), every=every)
            found = self._confirmed(an, found) if found.weak else found
            if found.detections:
                return self._most_like(an, found, match.classes)
        cands = self.candidates(an)
        classes = list(match.classes)
        scored = sorted(
            ((float(c.probs[classes].sum()), c) for c in cands.items if _may_be(c, match.classes)),
            key=lambda sc: -sc[0],
        )
        best = scored[0][0] if scored else 0.0
        whole = float(cands.whole[classes].sum()) if cands.whole is not None else 0.0
        dets: list[Detection] = []
        for score, cand in scored:
            if score < UNSURE or any(_same(cand.box, d.box) for d in dets):
                continue
            dets.append(Detection(match.noun, round(score, 4), cand.box, SOURCE))
        weak = not dets or dets[0].score < FOUND
        if not weak:
            dets = [d for d in dets if d.score >= FOUND]
        if not dets and whole >= UNSURE:
            return None  # the image looks like it, but no candidate region does: other cues try
        return Lookup(match.noun, dets, weak, max(best, whole))

    def mask(self, an: ImageAnalysis, det: Detection) -> np.ndarray:
        """Return the salient region's pixels, or the box's mask as for a COCO detection."""
        if det.source != SOURCE:
            return self.coco.mask(an, det)
        for cand in self.candidates(an).items:
            if cand.box == det.box:
                if cand.mask is not None:
                    return an.memo(f"imagenet-region-{cand.box}", partial(self._exact, an, cand))
                if cand.detection is not None and cand.detection.category in SUPPORTS:
                    # the detector's "bench" that the classifier takes for a tent: masked as a
                    # thing, not as a support (its box minus the salient things on it)
                    if self.coco.sam is not None:
                        return self.coco.mask(an, replace(cand.detection, category=det.category))
                    return an.memo(f"imagenet-thing-{cand.box}", partial(box_mask, an, cand.box, self.masker))
                if cand.detection is not None:
                    return self.coco.mask(an, cand.detection)
        raise KeyError(f"no candidate with box {det.box} in this image")

    # -- per image ---------------------------------------------------------------------
    def candidates(self, an: ImageAnalysis) -> Candidates:
        """Return the image's salient regions and detector boxes, with their class scores."""
        return an.memo("imagenet-candidates", lambda: self._classify(an))

    def _classify(self, an: ImageAnalysis) -> Candidates:
        out = Candidates(whole=self.classifier.probabilities(an.rgb))
        # What stands out once the confidently detected things are taken away: the tripod next to
        # the cameraman is one salient blob with him, and on its own once he is removed.
        # The whole-image pass only: with the tile pass's boxes (run or not, depending on the
        # turns before) "the pitcher" was a candidate alone and none after "the small brown cup".
        whole_pass = an.objects.whole_pass
        confident = [d for d in whole_pass if d.score >= EXPLAINED]
        parts = unexplained_parts(
            an.salient(self.masker), [an.objects.footprint(an, d, self.masker) for d in confident], MIN_REGION
        )
        for region in parts[:MAX_REGIONS]:
            box = bbox(region)
            assert box is not None
            out.items.append(Candidate(box, self._probs(an, box), mask=region))
        for det in whole_pass:  # a plate the detector took for a bowl is a candidate
            if det.score >= WEAK:
                out.items.append(Candidate(det.box, self._probs(an, det.box), detection=det))
        return out

    def _exact(self, an: ImageAnalysis, cand: Candidate) -> np.ndarray:
        """Redo a returned region with the exact masks of the confident detections next to it
        (the candidates were cut with coarse ones): the salient pixels left that touch it."""
        assert cand.mask is not None
        near = [
            d for d in an.objects.detections if d.score >= EXPLAINED and box_iou(d.box, cand.box) > 0
        ]
        if not near:
            return cand.mask
        left = an.salient(self.masker).copy()
        for det in near:
            left &= ~self.coco.mask(an, det)
        n, labels = cv2.connectedComponents(left.astype(np.uint8), connectivity=8)
        touching = np.unique(labels[cand.mask & left])
        exact = np.isin(labels, touching[touching > 0])
        return exact if exact.any() else cand.mask

    def looks_like(
        self, an: ImageAnalysis, box: tuple[float, float, float, float], noun: str
    ) -> float | None:
        """How much a region (working pixels) looks like ``noun`` to the classifier: the summed
        probability of the noun's classes (:data:`GARMENT_CLASSES`); None when no class shows it."""
        classes = self._garment_classes(noun)
        if not classes:
            return None
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        return float(self._probs(an, (x0, y0, x1, y1))[classes].sum())

    def _probs(self, an: ImageAnalysis, box: tuple[int, int, int, int]) -> np.ndarray:
        """Return the class probabilities of a box's crop (with a margin), once per box and image:
        the candidates, a weak detection's check and a subtype's order ask for the same boxes."""
        h, w = an.shape
        x0, y0, x1, y1 = box
        mx, my = int(MARGIN * (x1 - x0 + 1)), int(MARGIN * (y1 - y0 + 1))
        crop = an.rgb[max(0, y0 - my) : min(h, y1 + my + 1), max(0, x0 - mx) : min(w, x1 + mx + 1)]
        return an.memo(f"imagenet-probs-{box}", lambda: self.classifier.probabilities(crop))

    def _most_like(self, an: ImageAnalysis, found: Lookup, classes: tuple[int, ...]) -> Lookup:
        """Order a category's detections by how much the classifier takes each for the subtype
        named ("the husky" among two dogs), keeping the detector's order on a tie."""
        if len(found.detections) < 2:
            return found
        wanted = list(classes)
        likeness = {id(d): float(self._probs(an, d.box)[wanted].sum()) for d in found.detections}
        ordered = sorted(found.detections, key=lambda d: -likeness[id(d)])
        return replace(found, detections=ordered)

    def _animals_checked(self, an: ImageAnalysis, found: Lookup) -> Lookup:
        """Let the classifier name the animals: the detector's "cat" whose crop is a Samoyed to
        the classifier is no cat, and its "bear" or "cat" that is a dog is one more dog ("both
        pups", "no, the other one"). A renamed detection scores the geometric mean of the
        detector's and the classifier's confidence."""
        own = list(ANIMAL_CLASSES[found.name])

        def other_animal(det: Detection) -> bool:
            if det.score >= EXPLAINED:
                return False  # a sure detection stands: a far-off cow's small crop may look like a dog
            probs = self._probs(an, det.box)
            others = max(float(probs[list(ANIMAL_CLASSES[a])].sum()) for a in ANIMALS if a != found.name)
            return float(probs[own].sum()) < MISNAMED_OWN and others >= MISNAMED_OTHER

        def renamed(det: Detection) -> Detection | None:
            probs = self._probs(an, det.box)
            mass = float(probs[own].sum())
            said = float(probs[list(ANIMAL_CLASSES.get(det.category, ()))].sum())
            if mass < MISNAMED_OTHER or said >= MISNAMED_OWN:
                return None
            return Detection(found.name, round(float(np.sqrt(det.score * mass)), 4), det.box, det.source)

        sure = [] if found.weak else [d for d in found.detections if not other_animal(d)]
        low = [d for d in (found.detections if found.weak else found.unsure) if not other_animal(d)]
        changed = len(sure) + len(low) < len(found.detections) + len(found.unsure)
        for det in sorted(an.objects.detections, key=lambda d: -d.score):
            if det.category == found.name or det.category not in ALL_ANIMALS or det.score < PRESENT:
                continue
            if any(_same(det.box, d.box) for d in [*sure, *low]):
                continue
            new = renamed(det)
            if new is not None:
                (sure if new.score >= PRESENT else low).append(new)
                changed = True
        if not changed:
            return found  # nothing misnamed
        sure.sort(key=lambda d: -d.score)
        low.sort(key=lambda d: -d.score)
        best = max([found.best, *(d.score for d in [*sure, *low])])
        return Lookup(found.name, sure, False, best, low) if sure else Lookup(found.name, low, True, best)

    def _confirmed(self, an: ImageAnalysis, found: Lookup) -> Lookup:
        """Keep the weak detections whose crops the classifier also takes for their category."""
        classes = list(COCO_CLASSES.get(found.name, ()))
        if not classes:
            return found
        kept = [d for d in found.detections if self._probs(an, d.box)[classes].sum() >= CONFIRM]
        return Lookup(found.name, kept, True, found.best)


def _coco_kind(classes: tuple[int, ...]) -> str | None:
    """Return the COCO category all these ImageNet classes belong to (a breed of dog, a kind of
    car), or None when they are not all one COCO category's."""
    kinds = [kind for kind, members in COCO_CLASSES.items() if set(classes) <= set(members)]
    return kinds[0] if len(kinds) == 1 else None


def _same(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether two candidate boxes are one object (see :data:`SAME`)."""
    return box_iou(a, b) > SAME or max(box_inside(a, b), box_inside(b, a)) > 0.8


def _may_be(cand: Candidate, classes: tuple[int, ...]) -> bool:
    """Whether a candidate may be an instance of these classes: a region, a box the detector is
    unsure of, a confident detection of a category among them (a cat is an animal), or one the
    classifier overrules (the detector's "bird" whose crop is far more a cheetah than a bird, its
    "cup" far more a jug).
    A person's box is not the tripod beside him, however much of the tripod its crop shows:
    ImageNet has no person class to overrule with."""
    det = cand.detection
    if det is None or det.score < EXPLAINED:
        return True
    own = COCO_CLASSES.get(det.category) or VESSEL_CLASSES.get(det.category, ())
    if set(own) & set(classes):
        return True
    return bool(own) and cand.probs[list(classes)].sum() > cand.probs[list(own)].sum()
