"""A plain request gets the same mask whatever was asked before on the photo: an earlier request
that ran the tile pass ("the white horse", whose colour no sure detection shows) does not change
what "select the dog" returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.memory import Memory
from graphs.runtime import Runtime
from tests._data import open_on_photo
from tools.backends.lite import LiteBackend

PHOTO = Path(__file__).resolve().parents[1] / "data" / "photos" / "ra_horse_dog.jpg"


def _dog_after(tmp_path: Path, name: str, *earlier: str) -> np.ndarray:
    runtime = Runtime(memory=Memory(f"sqlite:///{tmp_path}/{name}.db"), backend=LiteBackend())  # its own caches
    try:
        for text in earlier:
            open_on_photo(runtime, text, PHOTO)
        _, dog = open_on_photo(runtime, "select the dog pls", PHOTO)
        return dog.masks[0].mask.array
    finally:
        runtime.close()


def test_the_dog_is_the_same_mask_after_a_request_that_ran_the_tile_pass(tmp_path):
    alone = _dog_after(tmp_path, "alone")
    after = _dog_after(tmp_path, "after", "can you segment the white horse")
    assert alone.any() and np.array_equal(alone, after)
