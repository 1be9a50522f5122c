"""The ``lite`` backend: CPU-only, no downloaded weights (RapidOCR's bundled models, superpixels, GrabCut)."""

from tools.backends.lite.backend import LiteBackend

__all__ = ["LiteBackend"]
