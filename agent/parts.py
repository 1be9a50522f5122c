"""Geometric parts of a mask: the half on one side of its bounding box's midline, or its centre.

One definition for the backends that cut "the left half of it" and for the evaluation set that
scores such requests (``data/eval``), so the two can never disagree on what a half is.
"""

from __future__ import annotations

import numpy as np

SIDES = ("left", "right", "top", "bottom", "center")


def geometric_part(mask: np.ndarray, side: str) -> np.ndarray:
    """Cut ``side`` ("left", "right", "top", "bottom" half, or "center") out of a boolean mask.

    A half is the pixels on that side of the midline of the mask's bounding box; the centre is
    the middle half of the box in both directions. An empty mask or an unknown side is returned
    unchanged (a copy).
    """
    out = np.array(mask, dtype=bool, copy=True)
    rows_any, cols_any = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    if rows_any.size == 0:
        return out
    y0, y1, x0, x1 = rows_any[0], rows_any[-1], cols_any[0], cols_any[-1]
    cols, rows = np.arange(out.shape[1]), np.arange(out.shape[0])
    mx, my = (x0 + x1 + 1) / 2, (y0 + y1 + 1) / 2
    if side == "left":
        out[:, cols >= mx] = False
    elif side == "right":
        out[:, cols < mx] = False
    elif side == "top":
        out[rows >= my, :] = False
    elif side == "bottom":
        out[rows < my, :] = False
    elif side == "center":
        qx, qy = (x1 - x0 + 1) / 4, (y1 - y0 + 1) / 4
        out[:, (cols < x0 + qx) | (cols >= x1 + 1 - qx)] = False
        out[(rows < y0 + qy) | (rows >= y1 + 1 - qy), :] = False
    return out
