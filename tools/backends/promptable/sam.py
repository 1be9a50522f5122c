"""Promptable masks for detection boxes: SAM, its image embedding computed once per image.

Two implementations behind one small interface (:class:`BoxMasker`):

* :class:`SegmentAnythingMasker`: the ``segment-anything`` modules, built from a checkpoint
  file such as ``sam_vit_b_01ec64.pth``. The model type (ViT-B/L/H, or any other size) is read
  from the state dict's shapes, or given as ``sam_type`` and then checked against them.
* :class:`TransformersSamMasker`: transformers' ``SamModel`` + ``SamProcessor`` from a local
  directory or a model id (``facebook/sam-vit-base``).

Both run the image encoder once per image (:meth:`embed`, cached by the caller:
:class:`~tools.backends.promptable.boxes.BoxMasks`) and then decode any number of boxes in one
batched call of the prompt encoder and mask decoder (:meth:`masks`). Loading errors are one line
that names the backend which asked (``backend="lite"`` or ``"openvocab"``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from tools.backends.promptable import loading
from tools.backends.promptable.loading import SAM_TYPES, failure


@dataclass
class SamImage:
    """One image's SAM embedding and the sizes needed to map boxes in and masks out."""

    embedding: torch.Tensor
    input_size: tuple[int, int]
    """(h, w) of the resized image inside SAM's padded square."""
    original_size: tuple[int, int]
    """(H, W) of the image that was embedded."""


class BoxMasker(Protocol):
    """A promptable segmenter: embed an image once, then mask boxes on it."""

    family: str
    vision_module: torch.nn.Module
    """The image encoder (tests and benchmarks count its calls)."""

    def embed(self, rgb: np.ndarray) -> SamImage:
        """Run the image encoder on an (H, W, 3) uint8 RGB image."""
        ...

    def masks(self, image: SamImage, boxes: np.ndarray) -> np.ndarray:
        """Return (B, H, W) boolean masks for (B, 4) x0, y0, x1, y1 boxes in image pixels."""
        ...


class SegmentAnythingMasker:
    """``segment-anything``'s SAM (image encoder, prompt encoder, mask decoder) with box prompts."""

    family = "segment-anything"

    def __init__(self, sam: Any, *, device: torch.device, dtype: torch.dtype) -> None:
        from segment_anything.utils.transforms import ResizeLongestSide

        self.sam = sam.to(device=device, dtype=dtype).eval()
        self.device, self.dtype = device, dtype
        self.vision_module = self.sam.image_encoder
        self.size = int(self.sam.image_encoder.img_size)
        self.transform = ResizeLongestSide(self.size)

    @torch.inference_mode()
    def embed(self, rgb: np.ndarray) -> SamImage:
        """Resize the longest side to SAM's input, normalise, pad, encode."""
        from tools.backends.vlm_common.preprocess import preprocess_sam

        pixels, input_size = preprocess_sam(rgb, size=self.size)
        embedding = self.sam.image_encoder(pixels.to(self.device, self.dtype))
        return SamImage(embedding, input_size, (int(rgb.shape[0]), int(rgb.shape[1])))

    @torch.inference_mode()
    def masks(self, image: SamImage, boxes: np.ndarray) -> np.ndarray:
        """Decode one mask per box (single-mask output, SAM's choice for box prompts)."""
        prompts = self.transform.apply_boxes(np.asarray(boxes, np.float64), image.original_size)
        pe = self.sam.prompt_encoder
        sparse, dense = pe(
            points=None, boxes=torch.as_tensor(prompts, dtype=torch.float32, device=self.device), masks=None
        )
        low_res, _ = self.sam.mask_decoder(
            image_embeddings=image.embedding,
            image_pe=pe.get_dense_pe().to(self.dtype),
            sparse_prompt_embeddings=sparse.to(self.dtype),
            dense_prompt_embeddings=dense.to(self.dtype),
            multimask_output=False,
        )
        masks = self.sam.postprocess_masks(low_res.float(), image.input_size, image.original_size)
        return (masks[:, 0] > self.sam.mask_threshold).cpu().numpy()


class TransformersSamMasker:
    """transformers' ``SamModel`` with its processor, box prompts batched in one call."""

    family = "transformers-sam"

    def __init__(self, model: Any, processor: Any, *, device: torch.device, dtype: torch.dtype) -> None:
        self.model = model.to(device=device, dtype=dtype).eval()
        self.processor = processor
        self.device, self.dtype = device, dtype
        self.vision_module = self.model.vision_encoder

    @torch.inference_mode()
    def embed(self, rgb: np.ndarray) -> SamImage:
        """Preprocess with the model's image processor and run ``get_image_embeddings``."""
        inputs = self.processor.image_processor(images=rgb, return_tensors="pt")
        embedding = self.model.get_image_embeddings(inputs["pixel_values"].to(self.device, self.dtype))
        if not isinstance(embedding, torch.Tensor):  # a model output in some releases
            embedding = embedding[0]
        h, w = (int(v) for v in inputs["reshaped_input_sizes"][0])
        return SamImage(embedding, (h, w), (int(rgb.shape[0]), int(rgb.shape[1])))

    @torch.inference_mode()
    def masks(self, image: SamImage, boxes: np.ndarray) -> np.ndarray:
        """Decode one mask per box; the processor removes the padding and resizes to the image."""
        (h, w), (oh, ow) = image.input_size, image.original_size
        scale = np.array([w / ow, h / oh, w / ow, h / oh])
        prompts = torch.as_tensor(np.asarray(boxes, np.float64) * scale, dtype=self.dtype)
        out = self.model(
            image_embeddings=image.embedding,
            input_boxes=prompts[None].to(self.device),
            multimask_output=False,
        )
        masks = self.processor.image_processor.post_process_masks(
            out.pred_masks.float().cpu(), [list(image.original_size)], [list(image.input_size)]
        )[0]
        return masks[:, 0].numpy().astype(bool)


# -- loading -----------------------------------------------------------------------------------

DECODER_HEADS = 8
"""The mask decoder's attention heads: not visible in the weights' shapes; 8 in every published SAM."""


def load_sam(
    location: str | os.PathLike[str],
    *,
    sam_type: str | None,
    device: torch.device,
    dtype: torch.dtype,
    allow_download: bool,
    backend: str,
) -> BoxMasker:
    """Load SAM from a checkpoint file (segment-anything), or a directory / model id (transformers)."""
    path = Path(str(location)).expanduser()
    if path.is_file() or (path.is_dir() and not (path / "config.json").exists()):
        return SegmentAnythingMasker(
            build_segment_anything(path, sam_type, backend=backend), device=device, dtype=dtype
        )
    from transformers import SamModel, SamProcessor

    common: dict[str, Any] = dict(flag="--sam", allow_download=allow_download, backend=backend)
    source, local = loading.model_source(location, what="SAM", flag="--sam", backend=backend)
    model, info = loading.from_pretrained(
        SamModel.from_pretrained, source, local=local, what="SAM", output_loading_info=True, **common
    )
    loading.check_loading_info(info, what="SAM", source=source, backend=backend)
    processor = loading.from_pretrained(
        SamProcessor.from_pretrained, source, local=local, what="SAM processor", **common
    )
    return TransformersSamMasker(model, processor, device=device, dtype=dtype)


def _checkpoint_file(path: Path, backend: str) -> Path:
    if path.is_file():
        return path
    found = sorted(path.glob("sam*.pth")) + sorted(path.glob("*.pth")) + sorted(path.glob("*.safetensors"))
    if not found:
        raise failure(backend, f"SAM directory {str(path)!r} has no .pth or .safetensors file")
    return found[0]


def read_state_dict(path: Path, *, backend: str) -> dict[str, torch.Tensor]:
    """Read a SAM state dict (``.pth`` with ``weights_only``, or safetensors) on the CPU."""
    file = _checkpoint_file(path, backend)
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(file))
        else:
            state = torch.load(str(file), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same one-line error
        raise failure(
            backend,
            f"SAM checkpoint {str(file)!r} is not a readable PyTorch or safetensors file "
            f"({type(exc).__name__})",
        ) from exc
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict) or "image_encoder.pos_embed" not in state:
        raise failure(
            backend,
            f"{str(file)!r} is not a segment-anything SAM checkpoint (no image_encoder.pos_embed); "
            "pass --sam sam_vit_b_01ec64.pth or a transformers SAM directory",
        )
    return state


def infer_spec(state: dict[str, torch.Tensor], sam_type: str | None = None, *, backend: str) -> Any:
    """Read SAM's hyperparameters from its weights' shapes; check them against ``sam_type`` when given."""
    from tools.backends.vlm_common.config import SAM_REGISTRY, SamSpec

    def blocks(prefix: str) -> int:
        pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
        return 1 + max((int(m.group(1)) for k in state if (m := pattern.match(k))), default=-1)

    try:
        pos = state["image_encoder.pos_embed"]  # (1, grid, grid, dim)
        grid, dim = int(pos.shape[1]), int(pos.shape[-1])
        patch = int(state["image_encoder.patch_embed.proj.weight"].shape[-1])
        depth = blocks("image_encoder.blocks.")
        rel = [state[f"image_encoder.blocks.{i}.attn.rel_pos_h"] for i in range(depth)]
        heads = dim // int(rel[0].shape[1])
        windowed = [int(r.shape[0]) for r in rel if int(r.shape[0]) != 2 * grid - 1]
        window = (windowed[0] + 1) // 2 if windowed else grid
        prompt_dim = 2 * int(state["prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"].shape[1])
        spec = SamSpec(
            encoder_embed_dim=dim,
            encoder_depth=depth,
            encoder_num_heads=heads,
            encoder_global_attn_indexes=tuple(
                i for i, r in enumerate(rel) if int(r.shape[0]) == 2 * grid - 1
            ),
            image_size=grid * patch,
            patch_size=patch,
            window_size=window,
            prompt_embed_dim=prompt_dim,
            mask_in_chans=4 * int(state["prompt_encoder.mask_downscaling.0.weight"].shape[0]),
            decoder_mlp_dim=int(state["mask_decoder.transformer.layers.0.mlp.lin1.weight"].shape[0]),
            decoder_num_heads=DECODER_HEADS,
            decoder_depth=blocks("mask_decoder.transformer.layers."),
            iou_head_hidden_dim=int(state["mask_decoder.iou_prediction_head.layers.0.weight"].shape[0]),
        )
    except (KeyError, IndexError, ZeroDivisionError) as exc:
        raise failure(
            backend, f"the SAM checkpoint lacks {exc} (not a complete segment-anything SAM)"
        ) from exc
    if sam_type is not None:
        if sam_type not in SAM_REGISTRY:
            raise failure(backend, f"unknown SAM type {sam_type!r}; use one of {', '.join(SAM_TYPES)}")
        want = SAM_REGISTRY[sam_type]
        got = dict(
            encoder_embed_dim=spec.encoder_embed_dim,
            encoder_depth=spec.encoder_depth,
            encoder_num_heads=spec.encoder_num_heads,
            encoder_global_attn_indexes=tuple(spec.encoder_global_attn_indexes),
        )
        if got != {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in want.items()}:
            raise failure(
                backend,
                f"the SAM checkpoint is not {sam_type}: its image encoder has width "
                f"{spec.encoder_embed_dim}, {spec.encoder_depth} blocks and {spec.encoder_num_heads} heads",
            )
    return spec


def build_segment_anything(path: Path, sam_type: str | None = None, *, backend: str) -> Any:
    """Build SAM at the checkpoint's size and load its weights strictly (one-line errors)."""
    from tools.backends.vlm_common.modeling import build_sam

    state = read_state_dict(path, backend=backend)
    spec = infer_spec(state, sam_type, backend=backend)
    sam = build_sam(spec)
    try:
        sam.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = " ".join(str(exc).split())[:240]
        raise failure(backend, f"the SAM checkpoint does not load: {first}") from exc
    return sam.eval()
