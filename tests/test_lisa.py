"""LISA on the shared machinery: strict load (CLIP from its own directory), keys, inference."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from _data import HDMI_JPG
from PIL import Image

from agent.errors import CheckpointError
from agent.types import DialogueTurn, ImageRef, Intent
from tools.backends.base import SegmentRequest
from tools.backends.lisa import LisaBackend
from tools.backends.vlm_common.config import SegVLMConfig
from tools.backends.vlm_common.engine import SegVLMPredictor
from tools.backends.vlm_common.generation import GenerationParams
from tools.backends.vlm_common.loader import build_meta_model, expected_shapes, load_model
from tools.backends.vlm_common.preprocess import preprocess_clip
from tools.backends.vlm_common.testing import ForceTokens, make_tiny_checkpoint

IMAGE = HDMI_JPG


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("lisa"), "lisa", seed=2)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.array(Image.open(IMAGE).convert("RGB"))


def test_lisa_full_size_layout():
    shapes = expected_shapes(build_meta_model(SegVLMConfig.full_size("lisa")))
    assert {".".join(k.split(".")[:2]) for k in shapes} == {
        "lm_head.weight", "model.embed_tokens", "model.layers", "model.norm", "model.mm_projector",
        "model.vision_tower", "model.visual_model", "model.text_hidden_fcs",
    }
    assert shapes["model.mm_projector.weight"] == (4096, 1024)
    assert shapes["model.vision_tower.vision_tower.vision_model.embeddings.position_embedding.weight"] == (257, 1024)
    assert shapes["model.text_hidden_fcs.0.2.weight"] == (256, 4096)
    assert shapes["model.visual_model.image_encoder.pos_embed"] == (1, 64, 64, 1280)


def test_lisa_loads_with_clip_from_its_directory(tiny, image):
    main_keys = set((Path(tiny["model_dir"]) / "model.safetensors.index.json").read_text().split('"'))
    assert not any(k.startswith("model.vision_tower.") for k in main_keys)
    with pytest.raises(CheckpointError, match="--clip"):
        load_model(tiny["model_dir"], variant="lisa", progress=False)
    loaded = load_model(tiny["model_dir"], variant="lisa", clip=tiny["clip"], progress=False)
    ids = [1, 4, -200, 5, 6]
    px = preprocess_clip(image, clip_size=56)
    assert torch.equal(tiny["model"](ids, px), loaded.model(ids, px))
    assert loaded.config.num_image_tokens == 16 and loaded.config.aux is None


def test_lisa_two_turns_with_a_mask(tiny, image):
    loaded = load_model(tiny["model_dir"], variant="lisa", clip=tiny["clip"], progress=False)
    pred = SegVLMPredictor(loaded, generation=GenerationParams(max_new_tokens=5))
    assert pred.seg_position == "predicting"
    backend = LisaBackend(predictor=pred)
    assert backend.name == "lisa"
    sha = hashlib.sha256(image.tobytes()).hexdigest()
    ref = ImageRef(sha256=sha, width=image.shape[1], height=image.shape[0])

    def req(dialogue):
        return SegmentRequest(image=image, image_ref=ref, intent=Intent(target="port"), session_id="l",
                              dialogue=[DialogueTurn(role=r, text=t) for r, t in dialogue])

    pred.generation = GenerationParams(max_new_tokens=5, logits_processor=(ForceTokens(loaded.seg_token_idx, {99}),))
    r1 = backend.segment(req([("user", "What is the port ?")]))
    assert r1.text and r1.masks == []
    pred.generation = GenerationParams(max_new_tokens=5, logits_processor=(ForceTokens(loaded.seg_token_idx, {2}),))
    r2 = backend.segment(req([("user", "What is the port ?"), ("assistant", r1.text), ("user", "Please segment it .")]))
    assert len(r2.masks) == 1 and r2.masks[0].mask.array.shape == image.shape[:2]
    assert r2.evidence["position_rule"] == "predicting" and r2.evidence["reused_prompt_tokens"] > 0
    pos = r2.evidence["hidden_positions"][0]
    assert r2.masks[0].extra["hidden_position"] == pos
