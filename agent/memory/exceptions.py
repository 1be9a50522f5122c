"""Lookup errors of the memory layer, one clear line each like every :class:`PixelrsError`."""

from __future__ import annotations

from agent.errors import PixelrsError


class UnknownImageError(PixelrsError, LookupError):
    """No stored image has that sha256."""


class UnknownTurnError(PixelrsError, LookupError):
    """No user turn has that id."""


class UnknownMaskError(PixelrsError, LookupError):
    """No stored mask has that id."""
