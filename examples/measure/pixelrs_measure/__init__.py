"""pixelrs-measure: a pixelrs plug-in that measures the current mask (area, box, centre, colour, parts).

Registered under the ``pixelrs.tools`` entry point group as ``measure``; see ``docs/extending.md``
in the pixelrs repository for how it is built.
"""

from pixelrs_measure.measures import Measurement, measure
from pixelrs_measure.tool import SPEC, MeasureTool

__all__ = ["SPEC", "Measurement", "MeasureTool", "measure"]
