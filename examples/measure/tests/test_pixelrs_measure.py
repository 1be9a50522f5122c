"""Tests of the measure plug-in: the measurements, the tool's schema, and a call the way pixelrs makes it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pixelrs_measure import SPEC, MeasureTool, measure
from pixelrs_measure.measures import colour_name, part_labels

from agent.images import decode_image
from agent.types import Act, Intent, Mask
from graphs.tool_runner import run_extra_tool
from tools.contract import ToolContext, spec_of


def scene() -> tuple[np.ndarray, np.ndarray]:
    """A 200x120 grey image with two red squares; the mask covers both squares."""
    rgb = np.full((120, 200, 3), 128, dtype=np.uint8)
    mask = np.zeros((120, 200), dtype=bool)
    for x0, y0, side in ((20, 30, 40), (120, 50, 30)):
        rgb[y0 : y0 + side, x0 : x0 + side] = (210, 20, 25)
        mask[y0 : y0 + side, x0 : x0 + side] = True
    mask[0, 0] = True  # a one-pixel speck: not a part
    return rgb, mask


def context_for(rgb: np.ndarray, mask: np.ndarray | None, text: str) -> ToolContext:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return ToolContext(
        session_id="s", turn_index=2, user_text=text, act=Act.EXPLAIN,
        intent=Intent(target="red squares"), image=decode_image(buf.getvalue()),
        mask=None if mask is None else Mask(mask),
    )


def test_measurements_of_two_squares() -> None:
    rgb, mask = scene()
    m = measure(mask, rgb)
    assert m.area_px == 40 * 40 + 30 * 30 + 1
    assert m.area_percent == pytest.approx(100 * m.area_px / (200 * 120), abs=0.01)
    assert m.bbox == (0, 0, 150, 80)
    assert m.parts == 2
    assert m.colour == "red"
    cx, cy = m.centroid
    assert 55 < cx < 75 and 45 < cy < 60


def test_parts_are_ordered_largest_first_and_specks_ignored() -> None:
    _, mask = scene()
    labels, parts = part_labels(mask)
    assert [int((labels == p).sum()) for p in parts] == [1600, 900]


@pytest.mark.parametrize(
    ("rgb", "name"),
    [((250, 250, 250), "white"), ((10, 10, 10), "black"), ((128, 128, 128), "grey"), ((20, 40, 220), "blue"),
     ((30, 180, 40), "green"), ((240, 220, 30), "yellow"), ((120, 70, 30), "brown"), ((240, 130, 20), "orange")],
)
def test_colour_names(rgb: tuple[int, int, int], name: str) -> None:
    assert colour_name(rgb) == name


def test_empty_or_mismatched_masks_are_refused() -> None:
    rgb, mask = scene()
    with pytest.raises(ValueError, match="empty"):
        measure(np.zeros_like(mask), rgb)
    with pytest.raises(ValueError, match="the mask is"):
        measure(mask[:10], rgb)


def test_the_model_sees_only_the_question() -> None:
    schema = MeasureTool().tool_call_schema.model_json_schema()
    assert list(schema["properties"]) == ["question"]
    assert spec_of(MeasureTool()) == SPEC


def test_size_question_through_the_graphs_tool_runner() -> None:
    rgb, mask = scene()
    outcome = run_extra_tool(MeasureTool(), {"question": "how big is it?"}, context_for(rgb, mask, "how big is it?"), SPEC)
    assert not outcome.failed and outcome.masks == []
    assert outcome.text.startswith("It covers 10.42% of the image (2,501 px) in a 150 x 80 px box") and "mostly red" in outcome.text
    assert outcome.data["parts"] == 2 and outcome.data["bbox"] == [0, 0, 150, 80]
    assert outcome.call is not None and outcome.call.args["result"]["area_px"] == 2501


def test_count_question_draws_each_part() -> None:
    rgb, mask = scene()
    outcome = run_extra_tool(MeasureTool(), {"question": "how many are there?"}, context_for(rgb, mask, "how many?"), SPEC)
    assert outcome.text.startswith("I count 2 separate parts in the red squares.")
    roles = [m.role for m in outcome.masks]
    assert roles == ["target", "instance", "instance"]
    assert outcome.masks[0].mask.area == 2501
    assert [m.mask.area for m in outcome.masks[1:]] == [1600, 900]


def test_no_mask_gives_a_plain_answer() -> None:
    rgb, _ = scene()
    outcome = run_extra_tool(MeasureTool(), {"question": "how big?"}, context_for(rgb, None, "how big?"), SPEC)
    assert not outcome.failed and "Nothing is segmented yet" in outcome.text


def test_triggers() -> None:
    assert SPEC.matches("how big is it?") and SPEC.matches("How many are there?")
    assert SPEC.matches("what is its size") and not SPEC.matches("find the red cup")
    assert SPEC.serves(Act.EXPLAIN) and not SPEC.serves(Act.NEW_TARGET)
