"""Settings the authors' runtime decides itself, whatever a checkpoint's ``config.json`` says.

A checkpoint's ``config.json`` is not always what the authors' code runs with. Their merge
scripts save a config that their ``chat.py`` (and training) then partly overwrite from command-line
defaults before any forward pass (MIRAS_REFERENCE D.1, G.2 item 19). Reading those keys literally
changes the prompt or the image path, so for the keys below pixelrs uses the runtime's value, logs
one line when ``config.json`` disagrees, and takes an explicit override (backend options
``im_start_end`` / ``aux_image_size``, CLI ``--im-start-end`` / ``--aux-size``).

Every ``config.json`` key pixelrs reads, and why it is read the way it is:

* ``mm_use_im_start_end`` -- **runtime value (True, both models).** MIRAS's merge script writes
  ``false`` (``merge…py:150``, default at ``:65``); its ``chat.py`` and training always wrap the image
  as ``<im_start><image><im_end>`` (``--use_mm_start_end`` defaults to True; ``dataset_stage2.py``).
  LISA's ``chat.py`` wraps the same way (``--use_mm_start_end`` True); in LISA's model code the flag
  changes only how the same embeddings are put together (and, with ``tune_mm_mlp_adapter``, which
  ``LisaModel`` forces off, which of them are detached).
* ``image_size_aux`` (MIRAS) -- **runtime value (768).** The merge script leaves the
  ``initialize_uni_modules`` default 320 (``mgm_arch.py:146``); ``chat.py`` sets 768 on the config
  and on the image processor before running (``--image_size_aux``), as training does.
* ``image_grid``, ``image_global`` (MIRAS) -- **runtime value (1, false).** ``chat.py`` overwrites
  both from its defaults; only ``image_grid=1`` is well-defined in their code (G.2 item 11).
* ``tokenizer_model_max_length`` -- **not applied, on purpose.** Their runtime cuts the expanded
  sequence at 1024 (``mgm_arch.py:462``), silently dropping the newest question in long chats
  (G.2 item 21); pixelrs keeps the whole sequence up to the language model's context.
* ``mm_vision_select_feature``, ``image_aspect_ratio``, ``mm_use_im_patch_token``, ``use_cache`` --
  **not read.** Their model constructors force ``patch``, ``square``, ``false`` and ``false``;
  pixelrs always drops CLS, uses the square path and never inserts ``<im_patch>``.
* ``mm_vision_select_layer``, ``mm_projector_type``, ``mm_hidden_size``, ``mm_hidden_size_aux``,
  ``out_dim`` and the LLaMA keys (``vocab_size``, ``hidden_size``, ``num_*``, ``rms_norm_eps``,
  ``rope_*``, ``max_position_embeddings``) -- **literal.** Their runtime builds the modules from
  these same values at ``from_pretrained`` time, and the strict shape check catches a mismatch.
* ``vision_tower`` / ``mm_vision_tower`` (CLIP location and size) -- **literal, in the runtime's
  order:** MIRAS copies ``vision_tower`` into ``mm_vision_tower`` (``MGMSA.py:147``), LISA the other
  way round (``LISA.py``: ``LisaModel``); every config their code writes holds the same path in both.
* ``vision_tower_aux`` / ``mm_vision_tower_aux`` (MIRAS ConvNeXt location and size) -- literal,
  ``vision_tower_aux`` first for the same reason.
* ``vision_pretrained`` / ``sam_checkpoint`` (SAM location) -- a fallback path only: their runtime
  takes SAM from the merged checkpoint, and so does pixelrs; the path is used when the checkpoint
  lacks SAM's tensors and the file exists here (``loader.components_for``).
* ``torch_dtype`` -- **not read.** The dtype is an argument, as their ``--precision`` is.
* ``seg_token_idx`` -- checked, not trusted: the id comes from the tokenizer, as in their
  ``chat.py``, and a config that disagrees is an error.
* ``bos_token_id``, ``eos_token_id``, ``pad_token_id`` -- their ``chat.py`` takes them from the
  tokenizer; pixelrs stops on the tokenizer's EOS.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from agent.errors import CheckpointError

logger = logging.getLogger(__name__)

RUNTIME_VALUES: dict[str, dict[str, Any]] = {
    "miras": {"mm_use_im_start_end": True, "image_size_aux": 768, "image_grid": 1, "image_global": False},
    "lisa": {"mm_use_im_start_end": True},
}
"""Per model, the config.json keys the authors' runtime sets itself, with the values it uses."""

_EXPLAIN = {
    "mm_use_im_start_end": "<im_start>/<im_end> around the image",
    "image_size_aux": "ConvNeXt input side",
    "image_grid": "image grid",
    "image_global": "global image",
}


@dataclass(frozen=True)
class RuntimeSettings:
    """The values a MIRAS/LISA checkpoint runs with.

    Arguments:
      use_im_start_end: wrap the image as ``<im_start><image><im_end>``.
      aux_image_size: ConvNeXt input side (MIRAS); ``None`` for LISA.
      note: the one-line explanation logged when config.json disagreed (``None`` when it agreed).
    """

    use_im_start_end: bool
    aux_image_size: int | None
    note: str | None = None


def _fmt(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def resolve_runtime_settings(
    raw: dict[str, Any],
    variant: str,
    *,
    im_start_end: bool | None = None,
    aux_image_size: int | None = None,
) -> RuntimeSettings:
    """Return the settings the authors' runtime uses for a checkpoint with config ``raw``.

    Arguments:
      raw: the checkpoint's config.json content.
      variant: ``"miras"`` or ``"lisa"``.
      im_start_end: explicit override of the image start/end tokens (``None``: the runtime's).
      aux_image_size: explicit override of the ConvNeXt input side (``None``: the runtime's).

    Logs one line when config.json disagrees with the runtime and no override settles it.
    """
    runtime = RUNTIME_VALUES[variant]
    overrides = {"mm_use_im_start_end": im_start_end, "image_size_aux": aux_image_size}
    differing = []
    for key, value in runtime.items():
        if key in raw and raw[key] != value and overrides.get(key) is None:
            differing.append((key, raw[key], value))
    note = None
    if differing:
        says = ", ".join(f"{k}={_fmt(v)}" for k, v, _ in differing)
        uses = ", ".join(f"{_EXPLAIN[k]} = {_fmt(r)}" for k, _, r in differing)
        note = (f"{variant} config.json says {says} (what the authors' merge script writes); using the "
                f"authors' runtime values as their chat.py and training do: {uses} "
                "(override with im_start_end / aux_image_size, CLI --im-start-end / --aux-size)")
        logger.warning(note)
    use = runtime["mm_use_im_start_end"] if im_start_end is None else bool(im_start_end)
    aux: int | None = None
    if "image_size_aux" in runtime:
        aux = int(runtime["image_size_aux"] if aux_image_size is None else aux_image_size)
        if aux <= 0:
            raise CheckpointError(f"aux_image_size must be positive, got {aux}")
    return RuntimeSettings(use_im_start_end=use, aux_image_size=aux, note=note)
