"""Checking click and box corrections before anything is stored: finite, on the image, bounded."""

from __future__ import annotations

import math

from agent.errors import BadInputError
from agent.types import Prompts

MAX_POINTS = 100
"""More clicks than this in one correction are refused (a person clicks a handful)."""


def check_prompts(prompts: Prompts, width: int, height: int) -> None:
    """Raise :class:`BadInputError` unless every click and box corner is a finite point on the image."""
    if len(prompts.points) > MAX_POINTS:
        raise BadInputError(
            f"a correction may have at most {MAX_POINTS} clicks; this one has {len(prompts.points)}."
        )
    corners = [(p.x, p.y) for p in prompts.points]
    if prompts.box is not None:
        corners += [(prompts.box.x0, prompts.box.y0), (prompts.box.x1, prompts.box.y1)]
    for x, y in corners:
        if not (math.isfinite(x) and math.isfinite(y)):
            raise BadInputError("a correction point is not a number; click on the image.")
        if not (0 <= x <= width and 0 <= y <= height):
            raise BadInputError(
                f"the correction point ({x:.6g}, {y:.6g}) is outside the {width}x{height} image."
            )
