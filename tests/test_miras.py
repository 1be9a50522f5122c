"""MIRAS model tree, strict loader and checkpoint tooling (tiny random weights, CPU)."""

from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from _data import HDMI_JPG
from PIL import Image

from agent.errors import CheckpointError
from tools.backends.model_cli import add_model_commands, run_model_command
from tools.backends.vlm_common.config import SegVLMConfig
from tools.backends.vlm_common.loader import build_meta_model, expected_shapes, load_model
from tools.backends.vlm_common.preprocess import preprocess_mgm
from tools.backends.vlm_common.testing import (
    make_tiny_checkpoint,
    save_authors_layout,
    tiny_tokenizer,
)

IMAGE = HDMI_JPG


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("miras"), "miras")


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.array(Image.open(IMAGE).convert("RGB"))


def _copy(tiny, tmp_path: Path) -> Path:
    dst = tmp_path / "ckpt"
    shutil.copytree(tiny["model_dir"], dst)
    return dst


def test_round_trip_in_authors_layout_gives_same_logits(tiny, image):
    files = sorted(p.name for p in Path(tiny["model_dir"]).iterdir())
    assert "model.safetensors.index.json" in files and "model-00001-of-00003.safetensors" in files
    index = json.loads((Path(tiny["model_dir"]) / "model.safetensors.index.json").read_text())
    assert not any(k.startswith("model.vision_tower_aux.") for k in index["weight_map"])
    assert any(k.startswith("model.vision_tower.vision_tower.vision_model.") for k in index["weight_map"])

    loaded = load_model(tiny["model_dir"], variant="miras", convnext=tiny["convnext"], progress=False)
    ref = tiny["model"]
    for name, tensor in ref.state_dict().items():
        assert torch.equal(tensor, loaded.model.state_dict()[name]), name
    ids = [1, 5, 6, -200, 7, 8, 9]
    clip, aux = preprocess_mgm(image, aux_size=64, clip_size=56)
    assert torch.equal(ref(ids, clip, aux), loaded.model(ids, clip, aux))
    assert loaded.seg_token_idx == tiny["tokenizer"].convert_tokens_to_ids("[SEG]")


def test_bin_shards_load_too(tmp_path, image):
    info = make_tiny_checkpoint(tmp_path, "miras", fmt="bin", seed=3)
    assert (info["model_dir"] / "pytorch_model.bin.index.json").is_file()
    loaded = load_model(info["model_dir"], variant="miras", convnext=info["convnext"], progress=False)
    clip, aux = preprocess_mgm(image, aux_size=64, clip_size=56)
    ids = [1, 4, -200, 5]
    assert torch.allclose(info["model"](ids, clip, aux), loaded.model(ids, clip, aux))


def test_bf16_load(tiny, image):
    loaded = load_model(tiny["model_dir"], variant="miras", convnext=tiny["convnext"], dtype="bf16", progress=False)
    assert loaded.model.dtype == torch.bfloat16
    assert loaded.model.model.visual_model.image_encoder.pos_embed.dtype == torch.bfloat16
    clip, aux = preprocess_mgm(image, aux_size=64, clip_size=56)
    logits = loaded.model([1, 4, -200, 5], clip, aux)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_half_precision_masks_match_fp32(tiny, image, dtype):
    """SAM's position encoding must not break (or lose precision) when the model is in half precision."""
    import hashlib

    from agent.types import PointPrompt, Prompts
    from tools.backends.vlm_common.engine import SegVLMPredictor

    sha = hashlib.sha256(image.tobytes()).hexdigest()
    ref = load_model(tiny["model_dir"], variant="miras", convnext=tiny["convnext"], progress=False)
    half = load_model(tiny["model_dir"], variant="miras", convnext=tiny["convnext"], dtype=dtype, progress=False)
    pe = half.model.model.visual_model.prompt_encoder.pe_layer
    assert pe.positional_encoding_gaussian_matrix.dtype == half.model.dtype
    hidden = torch.randn(2, ref.config.hidden_size, generator=torch.Generator().manual_seed(0))
    prompts = Prompts(points=[PointPrompt(x=230, y=220)])
    for with_prompts in (None, prompts):
        want = SegVLMPredictor(ref).masks(image, sha, hidden, with_prompts)
        got = SegVLMPredictor(half).masks(image, sha, hidden.to(half.model.dtype), with_prompts)
        assert len(got) == len(want) == 2
        for (_, p_half, _), (_, p_ref, _) in zip(got, want, strict=True):
            assert np.isfinite(p_half).all()
            assert np.abs(p_half - p_ref).mean() < 0.02


EXPECTED_MIRAS_PREFIXES = {
    "lm_head.weight", "model.embed_tokens", "model.layers", "model.norm", "model.mm_projector",
    "model.vlm_uni_query_projector", "model.vlm_uni_aux_projector", "model.vlm_uni_val_projector",
    "model.vision_tower", "model.vision_tower_aux", "model.visual_model", "model.text_hidden_fcs",
}


def test_full_size_meta_tree_has_the_authors_names_and_shapes():
    model = build_meta_model(SegVLMConfig.full_size("miras"))
    assert all(p.is_meta for p in model.parameters())
    shapes = expected_shapes(model)
    assert {".".join(k.split(".")[:2]) for k in shapes} == EXPECTED_MIRAS_PREFIXES
    exact = {
        "model.embed_tokens.weight": (32004, 4096),
        "lm_head.weight": (32004, 4096),
        "model.norm.weight": (4096,),
        "model.layers.31.self_attn.q_proj.weight": (4096, 4096),
        "model.layers.0.mlp.gate_proj.weight": (11008, 4096),
        "model.layers.0.input_layernorm.weight": (4096,),
        "model.text_hidden_fcs.0.0.weight": (4096, 4096),
        "model.text_hidden_fcs.0.0.bias": (4096,),
        "model.text_hidden_fcs.0.2.weight": (256, 4096),
        "model.vlm_uni_query_projector.0.weight": (1024,),
        "model.vlm_uni_query_projector.1.weight": (1024, 1024),
        "model.vlm_uni_aux_projector.0.weight": (2880,),
        "model.vlm_uni_aux_projector.1.weight": (1024, 2880),
        "model.vlm_uni_val_projector.1.weight": (1024, 2880),
        "model.mm_projector.0.weight": (4096, 1024),
        "model.mm_projector.2.weight": (4096, 4096),
        "model.vision_tower.vision_tower.vision_model.embeddings.patch_embedding.weight": (1024, 3, 14, 14),
        "model.vision_tower.vision_tower.vision_model.embeddings.position_embedding.weight": (577, 1024),
        "model.vision_tower.vision_tower.vision_model.encoder.layers.23.mlp.fc1.weight": (4096, 1024),
        "model.vision_tower.vision_tower.vision_model.post_layernorm.weight": (1024,),
        "model.vision_tower_aux.vision_stem.0.weight": (192, 3, 4, 4),
        "model.vision_tower_aux.vision_stages.2.blocks.26.mlp.fc1.weight": (3072, 768),
        "model.vision_tower_aux.vision_stages.3.downsample.1.weight": (1536, 768, 2, 2),
        "model.visual_model.image_encoder.pos_embed": (1, 64, 64, 1280),
        "model.visual_model.image_encoder.patch_embed.proj.weight": (1280, 3, 16, 16),
        "model.visual_model.image_encoder.blocks.31.attn.qkv.weight": (3840, 1280),
        "model.visual_model.image_encoder.blocks.7.attn.rel_pos_h": (127, 80),
        "model.visual_model.image_encoder.blocks.0.attn.rel_pos_h": (27, 80),
        "model.visual_model.image_encoder.neck.0.weight": (256, 1280, 1, 1),
        "model.visual_model.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix": (2, 128),
        "model.visual_model.prompt_encoder.no_mask_embed.weight": (1, 256),
        "model.visual_model.mask_decoder.iou_token.weight": (1, 256),
        "model.visual_model.mask_decoder.mask_tokens.weight": (4, 256),
        "model.visual_model.mask_decoder.transformer.layers.1.mlp.lin1.weight": (2048, 256),
        "model.visual_model.mask_decoder.iou_prediction_head.layers.2.weight": (4, 256),
    }
    for name, shape in exact.items():
        assert shapes[name] == shape, name
    assert "model.mm_projector.weight" not in shapes
    assert not any(k.endswith(("pixel_mean", "pixel_std", "inv_freq", "position_ids")) for k in shapes)
    assert sum(k.startswith("model.layers.") and k.endswith("q_proj.weight") for k in shapes) == 32
    assert sum(k.endswith("attn.qkv.weight") for k in shapes) == 32
    assert sum(".encoder.layers." in k and k.endswith("self_attn.q_proj.weight") for k in shapes) == 24
    assert sum(k.startswith("model.vision_tower_aux.vision_stages.") and k.endswith("gamma") for k in shapes) == 36
    # ConvNeXt-L stages concatenate to the 2880 channels the aux projectors read.
    assert sum(shapes[f"model.vision_tower_aux.vision_stages.{i}.blocks.0.norm.weight"][0] for i in range(4)) == 2880


def test_wrong_directory_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nope", variant="miras", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        load_model(tmp_path / "empty", variant="miras", progress=False)


def test_missing_shard_is_named(tiny, tmp_path):
    ckpt = _copy(tiny, tmp_path)
    (ckpt / "model-00002-of-00003.safetensors").unlink()
    with pytest.raises(CheckpointError, match="model-00002-of-00003.safetensors"):
        load_model(ckpt, variant="miras", convnext=tiny["convnext"], progress=False)


def test_missing_convnext_names_keys_and_option(tiny):
    with pytest.raises(CheckpointError) as info:
        load_model(tiny["model_dir"], variant="miras", progress=False)
    msg = str(info.value)
    assert "missing key(s): model.vision_tower_aux.vision_stages.0." in msg and "--convnext" in msg
    assert "/datas/CLIP-convnext_large_d_320" in msg


def test_unexpected_and_misshaped_keys_are_named(tiny, tmp_path):
    from safetensors.torch import save_file

    ckpt = _copy(tiny, tmp_path)
    index_path = ckpt / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    save_file({"model.extra_head.weight": torch.zeros(2, 2), "model.norm.weight": torch.zeros(3)},
              str(ckpt / "model-extra.safetensors"))
    index["weight_map"]["model.extra_head.weight"] = "model-extra.safetensors"
    index_path.write_text(json.dumps(index))
    # The real model.norm.weight is still in its shard; drop it there so the bad one is used.
    for shard in sorted(ckpt.glob("model-0000*.safetensors")):
        from safetensors.torch import load_file

        part = load_file(str(shard))
        if "model.norm.weight" in part:
            del part["model.norm.weight"]
            save_file(part, str(shard))
    with pytest.raises(CheckpointError) as info:
        load_model(ckpt, variant="miras", convnext=tiny["convnext"], progress=False)
    msg = str(info.value)
    assert "unexpected" in msg and "model.extra_head.weight" in msg
    assert "mis-shaped" in msg and "model.norm.weight [3] (expected [64])" in msg


def test_mismatched_vocab_and_seg_id(tiny, tmp_path):
    ckpt = _copy(tiny, tmp_path)
    bigger = tiny_tokenizer(extra_words="zebra giraffe")
    bigger.save_pretrained(str(ckpt))
    with pytest.raises(CheckpointError, match="vocabulary"):
        load_model(ckpt, variant="miras", convnext=tiny["convnext"], progress=False)

    ckpt2 = tmp_path / "seg"
    shutil.copytree(tiny["model_dir"], ckpt2)
    cfg = json.loads((ckpt2 / "config.json").read_text())
    cfg["seg_token_idx"] = 3
    (ckpt2 / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"seg_token_idx=3"):
        load_model(ckpt2, variant="miras", convnext=tiny["convnext"], progress=False)


def test_tokenizer_without_seg_token(tiny, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    ckpt = _copy(tiny, tmp_path)
    core = Tokenizer(models.WordLevel(vocab={"<unk>": 0, "<s>": 1, "</s>": 2, "hi": 3}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    tok.save_pretrained(str(ckpt))
    with pytest.raises(CheckpointError, match=r"no \[SEG\] token"):
        load_model(ckpt, variant="miras", convnext=tiny["convnext"], progress=False)


def test_quantisation_needs_bitsandbytes(tiny):
    pytest.importorskip("torch")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        with pytest.raises(CheckpointError, match="bitsandbytes"):
            load_model(tiny["model_dir"], variant="miras", convnext=tiny["convnext"], load_in_4bit=True,
                       progress=False)
    else:  # pragma: no cover - depends on the environment
        pytest.skip("bitsandbytes installed; the error path does not apply")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU for bitsandbytes 4/8-bit (CI has none)")
@pytest.mark.parametrize("bits", [4, 8])
def test_quantized_model_answers_and_segments_on_a_gpu(tiny, image, bits):
    bnb = pytest.importorskip("bitsandbytes", reason="bitsandbytes is not installed")
    import hashlib

    from tools.backends.vlm_common.engine import SegVLMPredictor
    from tools.backends.vlm_common.generation import GenerationParams
    from tools.backends.vlm_common.testing import ForceTokens

    common = dict(variant="miras", convnext=tiny["convnext"], device="cuda:0", dtype="fp16", progress=False)
    plain = load_model(tiny["model_dir"], **common)
    quant = load_model(tiny["model_dir"], load_in_4bit=bits == 4, load_in_8bit=bits == 8, **common)
    layer_types = {type(m) for m in quant.model.model.layers.modules()}
    assert (bnb.nn.Linear4bit if bits == 4 else bnb.nn.Linear8bitLt) in layer_types
    assert not any(type(m) is torch.nn.Linear for m in quant.model.model.layers.modules())
    ids = [1, 4, -200, 5]
    clip, aux = preprocess_mgm(image, aux_size=64, clip_size=56)
    want, got = plain.model(ids, clip, aux)[0].float(), quant.model(ids, clip, aux)[0].float()
    assert torch.isfinite(got).all()
    assert torch.nn.functional.cosine_similarity(got.flatten(), want.flatten(), dim=0) > 0.9

    pred = SegVLMPredictor(quant)
    assert pred.describe()["decode"] == "eager"  # quantized layers are decoded eagerly
    sha = hashlib.sha256(image.tobytes()).hexdigest()
    params = GenerationParams(max_new_tokens=4, logits_processor=(ForceTokens(quant.seg_token_idx, {1}),))
    out = pred.start_turn(image, sha, [("user", "Please segment it .")], params=params).run()
    masks = pred.masks(image, sha, out.seg_hidden)
    assert len(out.seg_positions) == 1 and len(masks) == 1 and np.isfinite(masks[0][1]).all()


def test_unknown_dtype(tiny):
    with pytest.raises(CheckpointError, match="dtype"):
        load_model(tiny["model_dir"], variant="miras", convnext=tiny["convnext"], dtype="int3", progress=False)


def _cli(argv: list[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="pixelrs")
    add_model_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    code = args.handler(args, out=out, err=err)
    assert args.handler is run_model_command
    return code, out.getvalue(), err.getvalue()


def test_model_keys_prints_every_tensor_with_its_shape():
    code, out, _ = _cli(["model", "keys", "--backend", "miras"])
    assert code == 0
    rows = dict(line.split("\t") for line in out.splitlines())
    shapes = expected_shapes(build_meta_model(SegVLMConfig.full_size("miras")))
    assert set(rows) == set(shapes)
    assert rows["model.text_hidden_fcs.0.2.weight"] == "[256, 4096]"
    assert rows["model.visual_model.image_encoder.pos_embed"] == "[1, 64, 64, 1280]"


def test_model_check_clean_problems_and_bad_dir(tiny, tmp_path):
    d = str(tiny["model_dir"])
    code, out, _ = _cli(["model", "check", "--backend", "miras", "--model-dir", d, "--convnext", str(tiny["convnext"])])
    assert code == 0 and out.startswith("ok\t")

    code, out, err = _cli(["model", "check", "--backend", "miras", "--model-dir", d])
    assert code == 1
    assert "missing\tmodel.vision_tower_aux.vision_stem.0.weight" in out
    assert "--convnext" in err

    code, out, err = _cli(["model", "check", "--backend", "lisa", "--model-dir", d])
    assert code == 1 and "unexpected\tmodel.vlm_uni_query_projector.0.weight" in out

    code, _, err = _cli(["model", "check", "--backend", "miras", "--model-dir", str(tmp_path / "nope")])
    assert code == 2 and "does not exist" in err

    ckpt = _copy(tiny, tmp_path)
    (ckpt / "model-00003-of-00003.safetensors").unlink()
    code, out, _ = _cli(["model", "check", "--backend", "miras", "--model-dir", str(ckpt)])
    assert code == 1 and "model-00003-of-00003.safetensors" in out


def test_model_check_reads_headers_only(tiny, monkeypatch):
    import safetensors

    calls = []
    real = safetensors.safe_open

    class Spy:
        def __init__(self, *a, **k):
            self._f = real(*a, **k)

        def __enter__(self):
            self._inner = self._f.__enter__()
            return self

        def __exit__(self, *exc):
            return self._f.__exit__(*exc)

        def keys(self):
            return self._inner.keys()

        def get_slice(self, k):
            return self._inner.get_slice(k)

        def get_tensor(self, k):
            calls.append(k)
            return self._inner.get_tensor(k)

    monkeypatch.setattr("tools.backends.vlm_common.checkpoint.safe_open", Spy)
    code, _, _ = _cli(["model", "check", "--backend", "miras", "--model-dir", str(tiny["model_dir"]),
                       "--convnext", str(tiny["convnext"])])
    assert code == 0 and calls == []


def test_saved_config_keeps_authors_paths(tiny):
    cfg = json.loads((Path(tiny["model_dir"]) / "config.json").read_text())
    assert cfg["mm_vision_tower_aux"].startswith("/datas/")
    model = tiny["model"]
    assert callable(save_authors_layout)  # helper shared with the benchmark
    assert model.config.num_image_tokens == 16
