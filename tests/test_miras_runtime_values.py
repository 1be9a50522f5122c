"""A MIRAS checkpoint whose config.json is what the authors' merge script writes runs like their
runtime does (image start/end tokens on, ConvNeXt at 768), with explicit overrides (tiny, CPU)."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from agent.errors import CheckpointError
from tools.backends.vlm_common.config import SegVLMConfig
from tools.backends.vlm_common.engine import SegVLMPredictor
from tools.backends.vlm_common.loader import load_model
from tools.backends.vlm_common.modeling import SegVLMForCausalLM
from tools.backends.vlm_common.runtime_values import resolve_runtime_settings
from tools.backends.vlm_common.testing import save_authors_layout, tiny_config_dict, tiny_tokenizer

PHOTO = Path(__file__).resolve().parents[1] / "data" / "photos" / "bus.jpg"
DIALOGUE = [("user", "What is the label on the laptop ?")]


def _merge_script_config(raw: dict) -> dict:
    """config.json as MIRAS's merge script writes it: no start/end tokens, the 320 default aux size."""
    merged = copy.deepcopy(raw)
    merged["mm_use_im_start_end"] = False
    merged["image_size_aux"] = 320
    return merged


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("runtime_values")
    tok = tiny_tokenizer()
    raw = tiny_config_dict("miras", len(tok))
    del raw["pixelrs"]["convnext"]["image_size"]  # the tower size comes from the runtime, as for real checkpoints
    raw["image_size_aux"] = 768
    torch.manual_seed(3)
    model = SegVLMForCausalLM(SegVLMConfig.from_dict(raw, variant="miras")).eval()
    conv = root / "convnext"
    runtime_dir = save_authors_layout(model, tok, raw, root / "runtime", convnext_dir=conv)
    merged_dir = save_authors_layout(model, tok, _merge_script_config(raw), root / "merged", convnext_dir=conv)
    return {"runtime": runtime_dir, "merged": merged_dir, "convnext": conv}


@pytest.fixture(scope="module")
def runtime(checkpoints):
    return load_model(checkpoints["runtime"], variant="miras", convnext=checkpoints["convnext"], progress=False)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.array(Image.open(PHOTO).convert("RGB").resize((320, 240)))


def _ids_and_logits(loaded, image) -> tuple[list[int], torch.Tensor]:
    pred = SegVLMPredictor(loaded, decode="eager")
    ids = pred.prompt_ids(DIALOGUE)
    entry, _ = pred.image_entry(image, "sha", use_cache=False)
    hidden = loaded.model.forward_embeds(loaded.model.embed(ids, entry.tokens), None, 0)
    return ids, loaded.model.logits(hidden)[0]


def test_merge_script_config_gives_the_runtime_prompt_ids_and_logits(checkpoints, runtime, image, caplog):
    assert json.loads((checkpoints["merged"] / "config.json").read_text())["mm_use_im_start_end"] is False
    with caplog.at_level(logging.WARNING, logger="tools.backends.vlm_common.runtime_values"):
        merged = load_model(checkpoints["merged"], variant="miras", convnext=checkpoints["convnext"], progress=False)
    notes = [r.getMessage() for r in caplog.records if r.name.endswith("runtime_values")]
    assert len(notes) == 1 and "\n" not in notes[0]
    assert "mm_use_im_start_end=false" in notes[0] and "image_size_aux=320" in notes[0] and "768" in notes[0]
    assert merged.config.use_im_start_end and merged.config.aux is not None and merged.config.aux.image_size == 768

    ids_runtime, logits_runtime = _ids_and_logits(runtime, image)
    ids_merged, logits_merged = _ids_and_logits(merged, image)
    start, end = (merged.tokenizer.convert_tokens_to_ids(t) for t in ("<im_start>", "<im_end>"))
    assert ids_merged == ids_runtime and start in ids_merged and end in ids_merged
    torch.testing.assert_close(logits_merged, logits_runtime, rtol=0, atol=0)


def test_explicit_overrides_read_the_config_literally(checkpoints, runtime, image, caplog):
    with caplog.at_level(logging.WARNING, logger="tools.backends.vlm_common.runtime_values"):
        literal = load_model(checkpoints["merged"], variant="miras", convnext=checkpoints["convnext"],
                             progress=False, im_start_end=False, aux_image_size=320)
    assert not [r for r in caplog.records if r.name.endswith("runtime_values")]  # the override settles it
    assert literal.config.aux is not None and literal.config.aux.image_size == 320
    ids_runtime, logits_runtime = _ids_and_logits(runtime, image)
    ids_literal, logits_literal = _ids_and_logits(literal, image)
    assert len(ids_literal) == len(ids_runtime) - 2  # <im_start> and <im_end> dropped
    assert (logits_literal[-1] - logits_runtime[-1]).abs().max() > 1e-3


def test_runtime_settings_per_model():
    merged = {"mm_use_im_start_end": False, "image_size_aux": 320, "image_grid": 1}
    miras = resolve_runtime_settings(merged, "miras")
    assert (miras.use_im_start_end, miras.aux_image_size) == (True, 768) and miras.note
    lisa = resolve_runtime_settings({"mm_use_im_start_end": False}, "lisa")
    assert (lisa.use_im_start_end, lisa.aux_image_size) == (True, None) and lisa.note
    agreeing = resolve_runtime_settings({"mm_use_im_start_end": True, "image_size_aux": 768}, "miras")
    assert agreeing.note is None
    assert resolve_runtime_settings(merged, "miras", im_start_end=False).use_im_start_end is False
    with pytest.raises(CheckpointError):
        resolve_runtime_settings(merged, "miras", aux_image_size=-1)


def test_cli_flags_reach_the_backend_options():
    from ui.cli import build_parser
    from ui.cli_options import settings_from_args

    args = build_parser().parse_args(["chat", "--backend", "miras", "--model-dir", "m", "--im-start-end", "off",
                                      "--aux-size", "320", "--image", "x.jpg"])
    options = settings_from_args(args).backend_options
    assert options["im_start_end"] is False and options["aux_image_size"] == 320
    plain = settings_from_args(build_parser().parse_args(["chat", "--backend", "miras", "--image", "x.jpg"])).backend_options
    assert "im_start_end" not in plain and "aux_image_size" not in plain
