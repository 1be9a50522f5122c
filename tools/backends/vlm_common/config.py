"""Typed configuration of a ``[SEG]``-to-SAM vision-language model (MIRAS or LISA).

The checkpoints' ``config.json`` is a LLaMA config plus LLaVA/MGM keys (``mm_hidden_size``,
``mm_projector_type``, ``image_size_aux``, ...); the tower hyperparameters are *not* in it (the
authors store absolute paths to the towers instead). This module is the only place that knows
those hyperparameters, behind explicit registries (``CLIP_REGISTRY``, ``CONVNEXT_REGISTRY``,
``SAM_REGISTRY``). A ``config.json`` may carry an optional ``"pixelrs"`` section with explicit tower
settings (the tiny test configs use it), which wins over the registries.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from transformers import CLIPVisionConfig, LlamaConfig

from agent.errors import CheckpointError

from .runtime_values import resolve_runtime_settings

Variant = Literal["miras", "lisa"]
SegPosition = Literal["predicting", "authors_offset"]
TokenizerRule = Literal["current", "legacy_slow"]
"""How the authors' runtime turned prompt text into ids (their pinned ``transformers``):

* ``"current"`` -- what transformers >= 4.34 does (MIRAS pins 4.36.2): text around added tokens is
  kept as it is.
* ``"legacy_slow"`` -- what the slow ``LlamaTokenizer`` of transformers <= 4.33 does (LISA pins 4.31.0,
  and trained with it): whitespace next to a token added with ``add_tokens`` (``<im_start>``,
  ``<im_end>``, ``[SEG]``) is dropped -- so the newline after ``<im_end>`` and the space before
  ``<im_start>`` vanish -- and every piece of text between added or special tokens is encoded on its
  own, starting with the ``▁`` prefix.
"""

IMAGE_PLACEHOLDER = -200
"""Id of the ``<image>`` placeholder in unexpanded token ids (LLaVA's ``IMAGE_TOKEN_INDEX``)."""

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

CLIP_REGISTRY: dict[str, dict[str, Any]] = {
    # openai/clip-vit-large-patch14-336 (MIRAS, LLaVA-1.5): 24x24 = 576 patch tokens.
    "vit_l14_336": dict(
        hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
        image_size=336, patch_size=14, projection_dim=768, hidden_act="quick_gelu",
    ),
    # openai/clip-vit-large-patch14 (LISA-7B-v1, LLaVA-1): 16x16 = 256 patch tokens.
    "vit_l14": dict(
        hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
        image_size=224, patch_size=14, projection_dim=768, hidden_act="quick_gelu",
    ),
}

CONVNEXT_REGISTRY: dict[str, dict[str, Any]] = {
    # open_clip ``convnext_large_d_320`` trunk (timm ``convnext_large``): 192+384+768+1536 = 2880.
    "convnext_large_d_320": dict(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536)),
    "convnext_base_w_320": dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024)),
    "convnext_xxlarge": dict(depths=(3, 4, 30, 3), dims=(384, 768, 1536, 3072)),
}

SAM_REGISTRY: dict[str, dict[str, Any]] = {
    "vit_h": dict(encoder_embed_dim=1280, encoder_depth=32, encoder_num_heads=16,
                  encoder_global_attn_indexes=(7, 15, 23, 31)),
    "vit_l": dict(encoder_embed_dim=1024, encoder_depth=24, encoder_num_heads=16,
                  encoder_global_attn_indexes=(5, 11, 17, 23)),
    "vit_b": dict(encoder_embed_dim=768, encoder_depth=12, encoder_num_heads=12,
                  encoder_global_attn_indexes=(2, 5, 8, 11)),
}

LLAMA_7B: dict[str, Any] = dict(
    vocab_size=32004, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
    rms_norm_eps=1e-5, rope_theta=10000.0, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    tie_word_embeddings=False,
)
"""LLaMA-7B (Vicuna-7B v1.5 / LLaVA-1.5-7B) with 4 added tokens: ``[SEG]``, ``<im_start>``,
``<im_end>``, ``<im_patch>`` (C.6; the real size is checked against ``embed_tokens``)."""


@dataclass
class ConvNeXtSpec:
    """The auxiliary high-resolution ConvNeXt tower (MIRAS only).

    Arguments:
      depths: blocks per stage (4 stages).
      dims: channels per stage; the concatenated feature has ``sum(dims)`` channels.
      image_size: side of the square input (``image_size_aux``, 768 for MIRAS).
      feature_size: every stage is resized to ``feature_size x feature_size`` (48 for MIRAS).
    """

    depths: tuple[int, ...]
    dims: tuple[int, ...]
    image_size: int = 768
    feature_size: int = 48

    @property
    def channels(self) -> int:
        """Channels of the concatenated multi-stage feature (2880 for ConvNeXt-L)."""
        return int(sum(self.dims))


@dataclass
class SamSpec:
    """SAM hyperparameters (defaults: ViT-H at 1024 px, as ``build_sam_vit_h``)."""

    encoder_embed_dim: int = 1280
    encoder_depth: int = 32
    encoder_num_heads: int = 16
    encoder_global_attn_indexes: tuple[int, ...] = (7, 15, 23, 31)
    image_size: int = 1024
    patch_size: int = 16
    window_size: int = 14
    prompt_embed_dim: int = 256
    mask_in_chans: int = 16
    decoder_mlp_dim: int = 2048
    decoder_num_heads: int = 8
    decoder_depth: int = 2
    iou_head_hidden_dim: int = 256

    @property
    def embedding_size(self) -> int:
        """Side of the image embedding grid (64 for 1024 px / patch 16)."""
        return self.image_size // self.patch_size


@dataclass
class SegVLMConfig:
    """Everything needed to build and run a MIRAS or LISA model.

    Arguments:
      variant: ``"miras"`` (CLIP + ConvNeXt with patch-info mining) or ``"lisa"`` (CLIP only).
      llm: the LLaMA language model config.
      clip: the CLIP vision tower config (``hidden_states[select_layer]``, CLS dropped).
      aux: the ConvNeXt tower (MIRAS) or ``None`` (LISA).
      sam: the SAM image encoder / prompt encoder / mask decoder.
      projector_type: ``mm_projector`` kind, ``"mlp2x_gelu"`` or ``"linear"``.
      out_dim: output width of ``text_hidden_fcs`` (must equal SAM's prompt dim).
      select_layer: CLIP hidden-state index (-2, the penultimate layer).
      use_im_start_end: wrap ``<image>`` as ``<im_start><image><im_end>`` in the prompt.
      seg_token_idx: the ``[SEG]`` id when the config states it (checked against the tokenizer).
      seg_position: default rule for the ``[SEG]`` hidden state (see ``seg_embedding_index``).
      authors_assumed_image_tokens: image length the authors' training hack assumed (LISA's 256:
        it prepends ``256 - 1`` zeros to the ``[SEG]`` mask).
      preprocess: ``"mgm"`` (shortest edge to ``aux.image_size``, centre crop, bilinear down to
        CLIP size; C.7) or ``"clip"`` (CLIPImageProcessor: bicubic shortest edge, centre crop).
      tokenizer_rule: how the authors' pinned transformers tokenizes prompt text around added tokens
        (:data:`TokenizerRule`): ``"current"`` for MIRAS (4.36.2), ``"legacy_slow"``
        for LISA (4.31.0).
    """

    variant: Variant
    llm: LlamaConfig
    clip: CLIPVisionConfig
    aux: ConvNeXtSpec | None
    sam: SamSpec = field(default_factory=SamSpec)
    projector_type: str = "linear"
    out_dim: int = 256
    select_layer: int = -2
    use_im_start_end: bool = True
    seg_token_idx: int | None = None
    seg_position: SegPosition = "predicting"
    authors_assumed_image_tokens: int = 256
    preprocess: Literal["mgm", "clip"] = "clip"
    tokenizer_rule: TokenizerRule = "current"
    extra: dict[str, Any] = field(default_factory=dict)
    """The raw config.json (tower paths and other keys, for messages)."""

    def __post_init__(self) -> None:
        if self.variant not in ("miras", "lisa"):
            raise CheckpointError(f"unknown model variant {self.variant!r} (expected miras or lisa)")
        if self.projector_type not in ("linear", "mlp2x_gelu"):
            raise CheckpointError(
                f"mm_projector_type {self.projector_type!r} is not supported (linear, mlp2x_gelu)"
            )
        if self.out_dim != self.sam.prompt_embed_dim:
            raise CheckpointError(
                f"out_dim {self.out_dim} must equal SAM's prompt dim {self.sam.prompt_embed_dim}"
            )
        if self.tokenizer_rule not in ("current", "legacy_slow"):
            raise CheckpointError(f"unknown tokenizer rule {self.tokenizer_rule!r} (current, legacy_slow)")
        if self.seg_position not in ("predicting", "authors_offset"):
            raise CheckpointError(f"unknown [SEG] position rule {self.seg_position!r}")
        grid = self.clip_grid
        if self.aux is not None and self.aux.feature_size % grid and grid % self.aux.feature_size:
            raise CheckpointError(
                f"ConvNeXt feature size {self.aux.feature_size} does not tile the CLIP grid {grid}"
            )
        self.llm._attn_implementation = "sdpa"
        self.clip._attn_implementation = "sdpa"

    @property
    def clip_grid(self) -> int:
        """Patch tokens per side of the CLIP grid (24 at 336/14)."""
        return int(self.clip.image_size) // int(self.clip.patch_size)  # type: ignore[arg-type]

    @property
    def clip_image_size(self) -> int:
        """Side of the CLIP input (336 for MIRAS, 224 for LISA)."""
        return int(self.clip.image_size)  # type: ignore[arg-type]

    @property
    def num_image_tokens(self) -> int:
        """How many embeddings replace one ``<image>`` placeholder (576 MIRAS, 256 LISA)."""
        return self.clip_grid**2

    @property
    def hidden_size(self) -> int:
        """Width of the language model."""
        return int(self.llm.hidden_size)

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def full_size(cls, variant: Variant) -> SegVLMConfig:
        """Return the released 7B layout of ``variant`` (what ``pixelrs model keys`` prints)."""
        raw: dict[str, Any] = dict(LLAMA_7B)
        if variant == "miras":
            raw.update(mm_projector_type="mlp2x_gelu", mm_hidden_size=1024, mm_hidden_size_aux=2880,
                       image_size_aux=768, mm_use_im_start_end=True)
        else:
            raw.update(mm_hidden_size=1024, mm_use_im_start_end=True)
        return cls.from_dict(raw, variant=variant)

    @classmethod
    def from_dict(
        cls,
        raw: dict[str, Any],
        *,
        variant: Variant,
        clip_dir: str | os.PathLike[str] | None = None,
        convnext_dir: str | os.PathLike[str] | None = None,
        im_start_end: bool | None = None,
        aux_image_size: int | None = None,
    ) -> SegVLMConfig:
        """Build from a checkpoint's ``config.json`` content.

        Tower settings come from, in order: the ``"pixelrs"`` section of ``raw``; the CLIP
        directory's own ``config.json`` (``clip_dir`` or the path stored in ``raw`` when it
        exists here); the registries (ViT-L/14-336 for MIRAS, ViT-L/14 for LISA; ConvNeXt-L
        d_320; SAM ViT-H). The image start/end tokens and the ConvNeXt input side are the
        authors' runtime values unless ``im_start_end`` / ``aux_image_size`` override them
        (:mod:`.runtime_values` says why, key by key).
        """
        ours: dict[str, Any] = dict(raw.get("pixelrs") or {})
        aux_override = aux_image_size or (ours.get("convnext") or {}).get("image_size")
        runtime = resolve_runtime_settings(raw, variant, im_start_end=im_start_end, aux_image_size=aux_override)
        llm_keys = {k: v for k, v in raw.items() if k not in ("pixelrs", "architectures", "model_type")}
        try:
            llm = LlamaConfig(**llm_keys)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"config.json is not a LLaMA config: {exc}") from exc

        clip = _clip_config(raw, ours, variant, clip_dir)
        mm_hidden = int(raw.get("mm_hidden_size", clip.hidden_size))
        if mm_hidden != clip.hidden_size:
            raise CheckpointError(
                f"config mm_hidden_size={mm_hidden} but the CLIP tower has width {clip.hidden_size}"
            )

        aux: ConvNeXtSpec | None = None
        if variant == "miras":
            spec = dict(ours.get("convnext") or _convnext_from_name(raw, convnext_dir))
            assert runtime.aux_image_size is not None  # MIRAS always has one
            aux = ConvNeXtSpec(
                depths=tuple(spec["depths"]),
                dims=tuple(spec["dims"]),
                image_size=runtime.aux_image_size,
                feature_size=int(spec.get("feature_size", 48)),
            )
            declared = raw.get("mm_hidden_size_aux")
            if declared is not None and int(declared) != aux.channels:
                raise CheckpointError(
                    f"config mm_hidden_size_aux={declared} but the ConvNeXt tower gives {aux.channels}"
                )

        sam_raw = dict(ours.get("sam") or {})
        sam_name = sam_raw.pop("name", "vit_h")
        if sam_name not in SAM_REGISTRY:
            raise CheckpointError(f"unknown SAM size {sam_name!r}; known: {sorted(SAM_REGISTRY)}")
        sam_kwargs = {**SAM_REGISTRY[sam_name], **sam_raw}
        sam_kwargs["encoder_global_attn_indexes"] = tuple(sam_kwargs["encoder_global_attn_indexes"])
        sam = SamSpec(**sam_kwargs)

        default_proj = "linear"
        projector = str(raw.get("mm_projector_type", default_proj))
        seg_position = ours.get("seg_position", "authors_offset" if variant == "miras" else "predicting")
        return cls(
            variant=variant,
            llm=llm,
            clip=clip,
            aux=aux,
            sam=sam,
            projector_type=projector,
            out_dim=int(raw.get("out_dim", sam.prompt_embed_dim)),
            select_layer=int(raw.get("mm_vision_select_layer", -2)),
            use_im_start_end=runtime.use_im_start_end,
            seg_token_idx=raw.get("seg_token_idx"),
            seg_position=seg_position,
            authors_assumed_image_tokens=int(ours.get("authors_assumed_image_tokens", 256)),
            preprocess="mgm" if variant == "miras" else "clip",
            tokenizer_rule=ours.get("tokenizer_rule", "legacy_slow" if variant == "lisa" else "current"),
            extra=raw,
        )

    @classmethod
    def from_dir(
        cls,
        model_dir: str | os.PathLike[str],
        *,
        variant: Variant,
        clip_dir: str | os.PathLike[str] | None = None,
        convnext_dir: str | os.PathLike[str] | None = None,
        im_start_end: bool | None = None,
        aux_image_size: int | None = None,
    ) -> SegVLMConfig:
        """Read ``model_dir/config.json`` (clear error when the directory or file is wrong); the
        keyword arguments are those of :meth:`from_dict`."""
        path = Path(model_dir)
        if not path.is_dir():
            raise CheckpointError(f"model directory {str(path)!r} does not exist or is not a directory")
        cfg_path = path / "config.json"
        if not cfg_path.is_file():
            raise CheckpointError(f"{str(path)!r} has no config.json; is it a MIRAS/LISA checkpoint directory?")
        try:
            raw = json.loads(cfg_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"cannot read {cfg_path}: {exc}") from exc
        return cls.from_dict(raw, variant=variant, clip_dir=clip_dir, convnext_dir=convnext_dir,
                             im_start_end=im_start_end, aux_image_size=aux_image_size)


def _clip_config(
    raw: dict[str, Any], ours: dict[str, Any], variant: Variant, clip_dir: str | os.PathLike[str] | None
) -> CLIPVisionConfig:
    if ours.get("clip"):
        return CLIPVisionConfig(**ours["clip"])
    # The runtime's order: MIRAS copies vision_tower into mm_vision_tower, LISA the other way round.
    keys = ("vision_tower", "mm_vision_tower") if variant == "miras" else ("mm_vision_tower", "vision_tower")
    candidates = [clip_dir, raw.get(keys[0]), raw.get(keys[1])]
    for cand in candidates:
        if cand and (Path(cand) / "config.json").is_file():
            data = json.loads((Path(cand) / "config.json").read_text(encoding="utf-8"))
            data = data.get("vision_config", data)
            data = {k: v for k, v in data.items() if k not in ("architectures", "model_type")}
            return CLIPVisionConfig(**data)
    name = str(raw.get(keys[0]) or raw.get(keys[1]) or "")
    if "336" in name or (not name and variant == "miras"):
        return CLIPVisionConfig(**CLIP_REGISTRY["vit_l14_336"])
    return CLIPVisionConfig(**CLIP_REGISTRY["vit_l14"])


def _convnext_from_name(raw: dict[str, Any], convnext_dir: str | os.PathLike[str] | None) -> dict[str, Any]:
    name = str(convnext_dir or raw.get("vision_tower_aux") or raw.get("mm_vision_tower_aux") or "")
    lowered = name.lower()
    if "xxlarge" in lowered:
        return dict(CONVNEXT_REGISTRY["convnext_xxlarge"])
    if "base" in lowered and "w_320" in lowered:
        return dict(CONVNEXT_REGISTRY["convnext_base_w_320"])
    return dict(CONVNEXT_REGISTRY["convnext_large_d_320"])
