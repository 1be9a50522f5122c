"""The ``[SEG]``-to-SAM vision-language model shared by MIRAS and LISA.

Module names reproduce the authors' state-dict names (MIRAS_REFERENCE C.10): the top level has
``model`` (:class:`SegVLMCore`) and ``lm_head``; the core holds the LLaMA pieces
(``embed_tokens``, ``layers``, ``norm``), the projectors (``mm_projector``,
``vlm_uni_{query,aux,val}_projector``), the towers (``vision_tower.vision_tower`` = HF
``CLIPVisionModel``; ``vision_tower_aux.vision_stem`` / ``vision_stages`` = timm ConvNeXt
trunk), SAM (``visual_model``) and the ``[SEG]`` projector ``text_hidden_fcs``.

The language model runs through our own loop over ``LlamaDecoderLayer`` so that we control the
KV cache (reused across turns), keep every position's final hidden state (for the ``[SEG]``
rules) and move activations between devices for a manual ``device_map``.
"""

from __future__ import annotations

import inspect
from functools import partial

import timm.models.convnext as timm_convnext
import torch
import torch.nn.functional as F
from segment_anything.modeling import (
    ImageEncoderViT,
    MaskDecoder,
    PromptEncoder,
    Sam,
    TwoWayTransformer,
)
from segment_anything.modeling.prompt_encoder import PositionEmbeddingRandom
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import CLIPVisionModel
from transformers.models.llama.modeling_llama import (
    LlamaDecoderLayer,
    LlamaRMSNorm,
    LlamaRotaryEmbedding,
)

from .config import IMAGE_PLACEHOLDER, ConvNeXtSpec, SamSpec, SegVLMConfig
from .kv import KVCache


def _cache_keyword() -> str:
    """Name under which this transformers release passes the KV cache to a decoder layer.

    The layer takes ``**kwargs``, so a wrong name would be swallowed silently and nothing cached.
    """
    params = inspect.signature(LlamaDecoderLayer.forward).parameters
    for name in ("cache", "past_key_values", "past_key_value"):
        if name in params:
            return name
    raise ImportError(f"unsupported transformers release: LlamaDecoderLayer.forward takes none of the known "
                      f"KV-cache arguments ({', '.join(params)})")


_CACHE_KW = _cache_keyword()

SDPA_BACKENDS = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
"""Attention kernels the language model may use: not cuDNN's, which builds a new execution plan for
every new sequence length (about 1 ms of CPU per layer and decode step on an H100, torch 2.11)."""


def run_layer(
    layer: nn.Module,
    hidden: torch.Tensor,
    mask: torch.Tensor | None,
    positions: torch.Tensor,
    rope: tuple[torch.Tensor, torch.Tensor],
    cache: object | None,
) -> torch.Tensor:
    """Run one decoder layer, passing the KV cache under this transformers release's argument name."""
    out = layer(hidden, attention_mask=mask, position_ids=positions, position_embeddings=rope,
                use_cache=cache is not None, **{_CACHE_KW: cache})
    return out[0] if isinstance(out, tuple) else out


class Fp32PositionEmbedding(PositionEmbeddingRandom):
    """SAM's random Fourier position encoding, computed in fp32 whatever the model's dtype.

    segment_anything builds its coordinate grid in fp32, which fails against a bf16/fp16
    frequency matrix (LISA's fork casts the coordinates down instead, losing precision in the
    sines); the buffer keeps its name, so checkpoints load unchanged.
    """

    def _pe_encoding(self, coords: torch.Tensor) -> torch.Tensor:
        coords = (2 * coords.float() - 1) @ self.positional_encoding_gaussian_matrix.float()
        coords = 2 * torch.pi * coords
        return torch.cat([torch.sin(coords), torch.cos(coords)], dim=-1)


def build_sam(spec: SamSpec) -> Sam:
    """Build SAM (encoder, prompt encoder, mask decoder) at the sizes of ``spec``."""
    sam = _build_sam_modules(spec)
    sam.prompt_encoder.pe_layer = Fp32PositionEmbedding(spec.prompt_embed_dim // 2)
    return sam


def _build_sam_modules(spec: SamSpec) -> Sam:
    return Sam(
        image_encoder=ImageEncoderViT(
            depth=spec.encoder_depth,
            embed_dim=spec.encoder_embed_dim,
            img_size=spec.image_size,
            mlp_ratio=4,
            norm_layer=partial(nn.LayerNorm, eps=1e-6),
            num_heads=spec.encoder_num_heads,
            patch_size=spec.patch_size,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=spec.encoder_global_attn_indexes,
            window_size=spec.window_size,
            out_chans=spec.prompt_embed_dim,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=spec.prompt_embed_dim,
            image_embedding_size=(spec.embedding_size, spec.embedding_size),
            input_image_size=(spec.image_size, spec.image_size),
            mask_in_chans=spec.mask_in_chans,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=spec.decoder_depth,
                embedding_dim=spec.prompt_embed_dim,
                mlp_dim=spec.decoder_mlp_dim,
                num_heads=spec.decoder_num_heads,
            ),
            transformer_dim=spec.prompt_embed_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=spec.iou_head_hidden_dim,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )


class CLIPTower(nn.Module):
    """The low-resolution tower: ``CLIPVisionModel`` features of one hidden layer, CLS dropped.

    Arguments:
      config: the CLIP vision config.
      select_layer: index into ``hidden_states`` (-2 = penultimate layer).
    """

    def __init__(self, config, *, select_layer: int = -2) -> None:
        super().__init__()
        hf = CLIPVisionModel(config)
        # transformers 4.x nests the transformer as ``CLIPVisionModel.vision_model``; 5.x flattened
        # it. Either way the names under ``vision_tower.vision_tower`` start with ``vision_model.``.
        self.vision_tower = hf if hasattr(hf, "vision_model") else _VisionModelHolder(hf)
        self.select_layer = select_layer

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Map (B, 3, S, S) pixels to (B, (S/patch)^2, C) patch features."""
        vision = self.vision_tower.get_submodule("vision_model")
        param = vision.get_parameter("embeddings.patch_embedding.weight")
        out = vision(pixel_values=pixel_values.to(device=param.device, dtype=param.dtype), output_hidden_states=True)
        return out.hidden_states[self.select_layer][:, 1:]


class _VisionModelHolder(nn.Module):
    """Gives a flattened (transformers 5) ``CLIPVisionModel`` the attribute name ``vision_model``."""

    def __init__(self, vision_model: nn.Module) -> None:
        super().__init__()
        self.vision_model = vision_model


class ConvNeXtTower(nn.Module):
    """The high-resolution tower: a ConvNeXt stem + 4 stages, every stage resized and concatenated.

    Arguments:
      spec: depths/dims of the trunk and the common output size (48 for MIRAS).
    """

    def __init__(self, spec: ConvNeXtSpec) -> None:
        super().__init__()
        trunk = timm_convnext.ConvNeXt(depths=spec.depths, dims=spec.dims, num_classes=0)
        self.vision_stem = trunk.stem
        self.vision_stages = trunk.stages
        self.feature_size = spec.feature_size

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Map (B, 3, S, S) pixels to (B, sum(dims), feature_size, feature_size)."""
        param = self.vision_stem.get_parameter("0.weight")
        x = self.vision_stem(pixel_values.to(device=param.device, dtype=param.dtype))
        size = (self.feature_size, self.feature_size)
        outs = []
        for stage in self.vision_stages.children():
            x = stage(x)
            outs.append(F.interpolate(x.float(), size=size, mode="bilinear", align_corners=False).to(x.dtype))
        return torch.cat(outs, dim=1)


def _ln_linear(in_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, out_dim))


class SegVLMCore(nn.Module):
    """The ``model.`` sub-tree: LLaMA body, towers, projectors, SAM and the ``[SEG]`` projector."""

    def __init__(self, config: SegVLMConfig) -> None:
        super().__init__()
        llm = config.llm
        hidden = config.hidden_size
        clip_width = int(config.clip.hidden_size)
        self.embed_tokens = nn.Embedding(llm.vocab_size, hidden)
        self.layers = nn.ModuleList([LlamaDecoderLayer(llm, i) for i in range(llm.num_hidden_layers)])
        self.norm = LlamaRMSNorm(hidden, eps=llm.rms_norm_eps)
        self.rotary_emb = LlamaRotaryEmbedding(config=llm)
        self.vision_tower = CLIPTower(config.clip, select_layer=config.select_layer)
        if config.aux is not None:
            self.vision_tower_aux = ConvNeXtTower(config.aux)
            self.vlm_uni_query_projector = _ln_linear(clip_width, clip_width)
            self.vlm_uni_aux_projector = _ln_linear(config.aux.channels, clip_width)
            self.vlm_uni_val_projector = _ln_linear(config.aux.channels, clip_width)
        if config.projector_type == "mlp2x_gelu":
            self.mm_projector: nn.Module = nn.Sequential(
                nn.Linear(clip_width, hidden), nn.GELU(), nn.Linear(hidden, hidden)
            )
        else:
            self.mm_projector = nn.Linear(clip_width, hidden)
        self.visual_model = build_sam(config.sam)
        self.text_hidden_fcs = nn.ModuleList(
            [nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, config.out_dim),
                           nn.Dropout(0.0))]
        )


def mine_patch_info(core: SegVLMCore, clip_feats: torch.Tensor, aux_feats: torch.Tensor) -> torch.Tensor:
    """Patch-info mining (C.4): each CLIP token attends over its window of ConvNeXt vectors.

    Arguments:
      core: the module holding the ``vlm_uni_*`` projectors.
      clip_feats: (B, G*G, C) CLIP patch features X.
      aux_feats: (B, C_aux, A, A) concatenated ConvNeXt stages.

    Returns:
      (B, G*G, C): ``X + F`` where F is the softmax-over-window attention read-out (the
      un-projected CLIP features are added, as the authors do).
    """
    batch, tokens, _ = clip_feats.shape
    grid = int(round(tokens**0.5))
    side = aux_feats.shape[-1]
    patch = 1 if side < grid else side // grid
    aux = aux_feats.to(clip_feats.dtype).permute(0, 2, 3, 1)
    aux = aux.reshape(batch, grid, patch, grid, patch, aux.shape[-1]).permute(0, 1, 3, 2, 4, 5)
    aux = aux.reshape(batch, grid * grid, patch * patch, aux.shape[-1])
    query = core.vlm_uni_query_projector(clip_feats)
    key = core.vlm_uni_aux_projector(aux)
    value = core.vlm_uni_val_projector(aux)
    att = query[:, :, None] @ (key.transpose(-1, -2) / (key.shape[-1] ** 0.5))
    feat = (att.nan_to_num().softmax(-1) @ value).mean(2)
    return clip_feats + feat


class SegVLMForCausalLM(nn.Module):
    """MIRAS / LISA: a LLaMA LM reading image tokens, whose ``[SEG]`` states prompt SAM.

    Arguments:
      config: the typed configuration (sizes, projector type, tower specs).
    """

    def __init__(self, config: SegVLMConfig) -> None:
        super().__init__()
        self.config = config
        self.model = SegVLMCore(config)
        self.lm_head = nn.Linear(config.hidden_size, config.llm.vocab_size, bias=False)

    # -- devices ------------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        """Device of the token embeddings (where token ids are sent)."""
        return self.model.embed_tokens.weight.device

    @property
    def dtype(self) -> torch.dtype:
        """Compute dtype of the language model."""
        return self.model.embed_tokens.weight.dtype

    # -- vision ---------------------------------------------------------------------------------

    @torch.no_grad()
    def encode_image(self, clip_pixels: torch.Tensor, aux_pixels: torch.Tensor | None = None) -> torch.Tensor:
        """Return the (B, N, hidden) image embeddings that replace one ``<image>`` placeholder.

        Arguments:
          clip_pixels: (B, 3, S, S) normalised CLIP input (S = 336 for MIRAS, 224 for LISA).
          aux_pixels: (B, 3, S_aux, S_aux) normalised ConvNeXt input (MIRAS only, 768).
        """
        feats = self.model.vision_tower(clip_pixels)
        if self.config.aux is not None:
            if aux_pixels is None:
                raise ValueError("MIRAS needs the high-resolution image for its ConvNeXt tower")
            aux = self.model.vision_tower_aux(aux_pixels)
            proj_param = self.model.get_parameter("vlm_uni_query_projector.1.weight")
            feats = mine_patch_info(
                self.model, feats.to(proj_param.device, proj_param.dtype), aux.to(proj_param.device)
            )
        first = next(self.model.mm_projector.parameters())
        tokens = self.model.mm_projector(feats.to(first.device, first.dtype))
        return tokens.to(self.device, self.dtype)

    @torch.no_grad()
    def sam_image_embedding(self, sam_pixels: torch.Tensor) -> torch.Tensor:
        """Run SAM's image encoder on (B, 3, 1024, 1024) normalised, padded pixels -> (B, 256, 64, 64)."""
        enc = self.model.visual_model.image_encoder
        param = enc.patch_embed.proj.weight
        return enc(sam_pixels.to(param.device, param.dtype))

    # -- language model -------------------------------------------------------------------------

    def embed(self, ids: list[int], image_tokens: torch.Tensor | None) -> torch.Tensor:
        """Embed unexpanded ids, replacing each ``IMAGE_PLACEHOLDER`` with ``image_tokens`` (N, hidden).

        Returns:
          (1, L', hidden) with L' = len(ids) + (N - 1) per placeholder.
        """
        pieces: list[torch.Tensor] = []
        run: list[int] = []
        weight = self.model.embed_tokens.weight

        def flush() -> None:
            if run:
                pieces.append(self.model.embed_tokens(torch.tensor(run, device=weight.device)))
                run.clear()

        for tok in ids:
            if tok == IMAGE_PLACEHOLDER:
                if image_tokens is None:
                    raise ValueError("the prompt has an <image> placeholder but no image was given")
                flush()
                pieces.append(image_tokens.to(weight.device, weight.dtype))
            else:
                run.append(tok)
        flush()
        return torch.cat(pieces, dim=0)[None]

    @torch.no_grad()
    def forward_embeds(self, embeds: torch.Tensor, cache: KVCache | None, start: int) -> torch.Tensor:
        """Run the decoder over (1, n, hidden) ``embeds`` at positions ``start..start+n-1``.

        The KV cache (which must hold exactly ``start`` positions) is extended in place.

        Returns:
          (1, n, hidden): the final hidden states after the last RMSNorm (what both ``lm_head``
          and ``text_hidden_fcs`` read).
        """
        n = embeds.shape[1]
        if cache is not None and cache.get_seq_length() != start:
            raise ValueError(f"KV cache holds {cache.get_seq_length()} positions, expected {start}")
        h = embeds
        positions = torch.arange(start, start + n, device=h.device)[None]
        mask = None
        if start > 0 and n > 1:
            keys = torch.arange(start + n, device=h.device)
            mask = (keys[None, :] <= positions[0][:, None])[None, None]
        rope_cache: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}
        with sdpa_kernel(SDPA_BACKENDS):
            for layer in self.model.layers:
                dev = layer.get_parameter("input_layernorm.weight").device
                if h.device != dev:
                    h = h.to(dev)
                if dev not in rope_cache:
                    rope_cache[dev] = self.model.rotary_emb(h, position_ids=positions.to(dev))
                    rope_cache[dev] = (rope_cache[dev][0].to(dev), rope_cache[dev][1].to(dev))
                layer_mask = mask.to(dev) if mask is not None else None
                h = run_layer(layer, h, layer_mask, positions.to(dev), rope_cache[dev], cache)
        h = h.to(self.model.norm.weight.device)
        return self.model.norm(h)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Next-token logits (fp32) from final hidden states."""
        w = self.lm_head.weight
        return self.lm_head(hidden.to(w.device)).float()

    def seg_embeddings(self, hidden: torch.Tensor) -> torch.Tensor:
        """Project (n, hidden) final hidden states to (n, out_dim) SAM prompt embeddings."""
        fc = self.model.text_hidden_fcs[0]
        w = fc.get_parameter("0.weight")
        return fc(hidden.to(w.device, w.dtype))

    @torch.no_grad()
    def forward(self, ids: list[int], clip_pixels: torch.Tensor | None = None,
                aux_pixels: torch.Tensor | None = None) -> torch.Tensor:
        """Full forward (no cache) of one unexpanded id sequence; returns (1, L', vocab) logits."""
        image_tokens = self.encode_image(clip_pixels, aux_pixels)[0] if clip_pixels is not None else None
        hidden = self.forward_embeds(self.embed(ids, image_tokens), None, 0)
        return self.logits(hidden)

    # -- masks ----------------------------------------------------------------------------------

    @torch.no_grad()
    def decode_masks(
        self,
        image_embedding: torch.Tensor,
        seg_embeds: torch.Tensor | None,
        *,
        input_size: tuple[int, int],
        original_size: tuple[int, int],
        point_coords: torch.Tensor | None = None,
        point_labels: torch.Tensor | None = None,
        box: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode one mask per ``[SEG]`` embedding (plus any user points/box) with SAM.

        Arguments:
          image_embedding: (1, 256, 64, 64) SAM image embedding.
          seg_embeds: (n, 256) projected ``[SEG]`` states, or ``None`` for a prompt-only mask.
          input_size: (h, w) of the resized image inside SAM's padded square.
          original_size: (H, W) of the original image.
          point_coords: (1, k, 2) points in SAM's input frame; point_labels: (1, k), 1 = positive.
          box: (1, 4) box in SAM's input frame.

        Returns:
          probabilities (n, H, W) in [0, 1] (fp32, on the SAM device) and IoU scores (n,).
        """
        sam = self.model.visual_model
        pe = sam.prompt_encoder
        dtype = pe.point_embeddings[0].weight.dtype
        device = pe.point_embeddings[0].weight.device
        points = None
        if point_coords is not None and point_labels is not None:
            points = (point_coords.to(device, dtype), point_labels.to(device))
        boxes = box.to(device, dtype) if box is not None else None
        if points is None and boxes is None:
            sparse = torch.empty((1, 0, pe.embed_dim), device=device, dtype=dtype)
            dense = pe.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(1, -1, *pe.image_embedding_size)
        else:
            sparse, dense = pe(points=points, boxes=boxes, masks=None)
        sparse = sparse.to(dtype)
        if seg_embeds is not None and seg_embeds.shape[0] > 0:
            n = seg_embeds.shape[0]
            sparse = torch.cat([sparse.expand(n, -1, -1), seg_embeds.to(device, dtype)[:, None]], dim=1)
        low_res, iou = sam.mask_decoder(
            image_embeddings=image_embedding.to(device, dtype),
            image_pe=pe.get_dense_pe().to(dtype),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense.to(dtype),
            multimask_output=False,
        )
        size = sam.image_encoder.img_size
        masks = F.interpolate(low_res.float(), (size, size), mode="bilinear", align_corners=False)
        masks = masks[..., : input_size[0], : input_size[1]]
        masks = F.interpolate(masks, original_size, mode="bilinear", align_corners=False)
        return masks[:, 0].sigmoid(), iou[:, 0].float()
