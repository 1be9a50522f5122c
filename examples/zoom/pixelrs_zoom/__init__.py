"""pixelrs-zoom: a pixelrs plug-in that shows a cropped, enlarged view of the current mask in the chat.

Registered under the ``pixelrs.tools`` entry point group as ``zoom``; see ``docs/extending.md``
in the pixelrs repository for how it is built.
"""

from pixelrs_zoom.tool import SPEC, zoom
from pixelrs_zoom.view import CloseUp, close_up, crop_box

__all__ = ["SPEC", "CloseUp", "close_up", "crop_box", "zoom"]
