"""Tests of the zoom plug-in: the close-up picture, the hidden injected state, a call as pixelrs makes it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pixelrs_zoom import SPEC, close_up, crop_box, zoom
from pixelrs_zoom.view import OUTLINE_RGB

from agent.images import decode_image
from agent.types import Act, Intent, Mask
from graphs.tool_runner import injected_args, run_extra_tool
from tools.contract import ToolContext, spec_of


def scene() -> tuple[np.ndarray, np.ndarray]:
    """A 300x200 image with a 40x20 green bar; the mask is the bar."""
    rgb = np.full((200, 300, 3), 90, dtype=np.uint8)
    rgb[100:120, 200:240] = (20, 200, 40)
    mask = np.zeros((200, 300), dtype=bool)
    mask[100:120, 200:240] = True
    return rgb, mask


def context_for(rgb: np.ndarray, mask: np.ndarray | None) -> ToolContext:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return ToolContext(
        session_id="s", turn_index=4, user_text="zoom in", act=Act.EXPLAIN, intent=Intent(target="green bar"),
        image=decode_image(buf.getvalue()), mask=None if mask is None else Mask(mask),
    )


def test_crop_box_has_a_margin_and_stays_inside() -> None:
    _, mask = scene()
    assert crop_box(mask) == (192, 92, 56, 36)  # 15 % of 40 px is 6 px; the margin is at least 8 px
    edge = np.zeros((50, 50), dtype=bool)
    edge[0:5, 45:50] = True
    x, y, w, h = crop_box(edge)
    assert (x, y) == (37, 0) and x + w == 50 and y + h <= 50


def test_close_up_enlarges_outlines_and_dims() -> None:
    rgb, mask = scene()
    view = close_up(rgb, mask)
    assert view.box == (192, 92, 56, 36) and view.scale == pytest.approx(8.0)  # 512/56 > 8: capped
    picture = np.asarray(Image.open(io.BytesIO(view.data)).convert("RGB")).astype(int)
    assert picture.shape == (view.size[1], view.size[0], 3) == (288, 448, 3)
    assert (np.abs(picture - OUTLINE_RGB) < 40).all(axis=-1).sum() > 100  # the outline (JPEG: near the colour)
    centre = picture[picture.shape[0] // 2, picture.shape[1] // 2]
    corner = picture[2, 2]
    assert centre[1] > 150 and corner.max() < 90 * 0.6  # the bar stays bright, the rest is dimmed


def test_asked_scale_is_clipped() -> None:
    rgb, mask = scene()
    assert close_up(rgb, mask, scale=2).scale == 2.0
    assert close_up(rgb, mask, scale=50).scale == 8.0
    assert close_up(rgb, mask, scale=0.1).scale == 1.0


def test_injected_state_is_hidden_from_models_and_filled_by_pixelrs() -> None:
    schema = zoom.tool_call_schema.model_json_schema()
    assert set(schema["properties"]) == {"request", "scale"} and schema["required"] == ["request"]
    rgb, mask = scene()
    context = context_for(rgb, mask)
    values = injected_args(zoom, context)
    assert values["image"] is context.image and values["mask"] is context.mask and values["intent"] is context.intent
    assert spec_of(zoom) == SPEC


def test_zoom_returns_a_picture_through_the_tool_runner() -> None:
    rgb, mask = scene()
    outcome = run_extra_tool(zoom, {"request": "zoom in"}, context_for(rgb, mask), SPEC)
    assert not outcome.failed, outcome.text
    assert outcome.text.startswith("Here is a close-up of the green bar: the region x 192-247, y 92-127")
    [picture] = outcome.pictures
    assert (picture.image.ref.width, picture.image.ref.height) == (448, 288)
    assert picture.caption == "Close-up of the green bar (8x)"
    assert outcome.call is not None and outcome.call.args == {"request": "zoom in", "result": {"box": [192, 92, 56, 36], "scale": 8.0, "size": [448, 288]}}


def test_a_model_chosen_scale_is_used() -> None:
    rgb, mask = scene()
    outcome = run_extra_tool(zoom, {"request": "closer", "scale": 3}, context_for(rgb, mask), SPEC)
    assert outcome.data["scale"] == 3.0 and outcome.pictures[0].image.ref.width == 168


def test_nothing_segmented() -> None:
    rgb, _ = scene()
    outcome = run_extra_tool(zoom, {"request": "zoom in"}, context_for(rgb, None), SPEC)
    assert not outcome.failed and "nothing to zoom into" in outcome.text


def test_triggers() -> None:
    for text in ("zoom in", "show me a close-up of it", "can you enlarge it", "let me take a closer look"):
        assert SPEC.matches(text), text
    assert not SPEC.matches("find the red cup")
