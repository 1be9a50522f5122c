"""Authors' side of the MIRAS parity run (runs in the venv from ``setup_venv.sh miras``).

With the authors' own classes (PixelRIST, CPU patches applied by ``run.py``) and tiny widths at the
real geometry, it:

1. builds the towers their config points to (an HF CLIP directory named ``clip-vit-large-patch14-336``,
   an open_clip ConvNeXt directory named ``…convnext_large_d_320…``, a SAM ``.pth``) and a LLaVA-1.5
   style base model with a LLaMA-style sentencepiece tokenizer;
2. runs their merge script (``merge_lora_weights_and_save_hf_model.py``) unmodified: the training
   checkpoint it reads (``--weight``) is the LoRA-wrapped model it builds, with seeded random values,
   so the merged checkpoint and its ``config.json`` are exactly what the script writes;
3. loads the merged checkpoint the way ``chat.py`` does (same calls, same order) and also saves it
   whole (``full``: every tensor, ConvNeXt included, with the config the runtime holds);
4. records preprocessing, prompt ids, image tokens, logits, greedy tokens (a ``[SEG]`` forced at one
   step), the ``[SEG]`` embedding and mask of their training forward, and a second turn.
Tensors go to ``authors_miras.pt`` with a JSON sidecar; pixelrs never imports this file.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authors_common import (  # noqa: E402
    GEOMETRY,
    add_paths,
    alias_package,
    randomize_,
    save_exchange,
    tiny_convnext_trunk,
    train_tokenizer,
    versions,
)

Q1 = "What is the label on the laptop next to the port?"
A1 = "Sure, it is [SEG]. It is the HDMI label."
Q2 = "Please segment the HDMI port on the left side of the laptop."
N_NEW = 8
SEG_STEP = 3
SHARD = "400KB"  # a 7B save is sharded by the 10GB default; the tiny one is sharded the same way


def setup(root: Path):
    """Import their code the way their scripts expect it (``MGMSA.*`` for the folder MIRAS/MIRAS)."""
    miras = root / "MIRAS" / "MIRAS"
    add_paths(miras / "model", miras, root / "MIRAS")
    import mgm
    import mgm.conversation
    import mgm.mm_utils

    alias_package("MGMSA", miras)
    import MGMSA.model  # noqa: F401  (namespace package)

    sys.modules["MGMSA.model.mgm"] = mgm
    sys.modules["MGMSA.model.mgm.conversation"] = mgm.conversation
    sys.modules["MGMSA.model.mgm.mm_utils"] = mgm.mm_utils
    import MGMSA.model.MGMSA as mgmsa
    from mgm.model.multimodal_encoder.openclip_encoder import OpenCLIPVisionTower
    from MGMSA.model.segment_anything.build_sam import _build_sam

    # Tiny geometry: their builders hard-code ViT-H and ConvNeXt-L widths.
    mgmsa.build_sam_vit_h = lambda checkpoint=None: _build_sam(**GEOMETRY["sam"], checkpoint=checkpoint)
    tiny_convnext_trunk()
    load = OpenCLIPVisionTower.load_model

    def load_tiny(self):
        load(self)
        self.model_channel = list(GEOMETRY["convnext"]["dims"])  # hard-coded [192, 384, 768, 1536]

    OpenCLIPVisionTower.load_model = load_tiny
    return mgmsa


def make_towers(work: Path, seed: int) -> tuple[Path, Path, Path]:
    import mgm.model.multimodal_encoder.openclip_encoder as oc
    from MGMSA.model.segment_anything.build_sam import _build_sam
    from open_clip.factory import get_model_config
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    clip_dir = work / "towers" / "clip-vit-large-patch14-336"
    clip = CLIPVisionModel(CLIPVisionConfig(**GEOMETRY["clip"], image_size=336))
    clip.load_state_dict(randomize_(clip.state_dict(), seed + 1))
    clip.save_pretrained(str(clip_dir))
    CLIPImageProcessor(
        size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336}, do_center_crop=True, resample=3,
        image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711],
    ).save_pretrained(str(clip_dir))

    conv_dir = work / "towers" / "CLIP-convnext_large_d_320-parity-tiny"
    conv_dir.mkdir(parents=True, exist_ok=True)
    cfg = get_model_config("convnext_large_d_320")
    model = oc.CLIP(**copy.deepcopy(cfg))
    torch.save(randomize_(model.state_dict(), seed + 2), conv_dir / "open_clip_pytorch_model.bin")
    (conv_dir / "open_clip_config.json").write_text(__import__("json").dumps({"model_cfg": cfg}))

    sam_path = work / "towers" / "sam_parity_tiny.pth"
    torch.save(randomize_(_build_sam(**GEOMETRY["sam"]).state_dict(), seed + 3), sam_path)
    return clip_dir, conv_dir, sam_path


def make_base(work: Path, clip_dir: Path, seed: int) -> Path:
    """Build a LLaVA-1.5-style base (the README's ``--version``): LLaMA + mlp2x_gelu projector."""
    from mgm.model.language_model.mgm_llama import MGMConfig, MGMLlamaForCausalLM

    base = work / "base"
    tok = train_tokenizer(base, legacy=False)
    from transformers import AutoTokenizer

    n_vocab = len(AutoTokenizer.from_pretrained(str(tok), use_fast=False))
    cfg = MGMConfig(
        **GEOMETRY["llm"], vocab_size=n_vocab, bos_token_id=1, eos_token_id=2, pad_token_id=0,
        tie_word_embeddings=False, mm_vision_tower=str(clip_dir), mm_projector_type="mlp2x_gelu",
        mm_hidden_size=GEOMETRY["clip"]["hidden_size"], mm_vision_select_layer=-2,
        mm_vision_select_feature="patch", mm_use_im_start_end=False, mm_use_im_patch_token=False,
        image_aspect_ratio="pad", tune_mm_mlp_adapter=False, freeze_mm_mlp_adapter=False, use_mm_proj=True,
        tokenizer_model_max_length=2048, tokenizer_padding_side="right",
    )
    torch.manual_seed(seed)
    model = MGMLlamaForCausalLM(cfg)
    model.load_state_dict(randomize_(model.state_dict(), seed + 4), strict=False)
    model.save_pretrained(str(base), max_shard_size=SHARD)  # a 7B base is sharded with an index, which their loader needs
    return base


def run_merge(root: Path, work: Path, base: Path, towers: tuple[Path, Path, Path], seed: int) -> Path:
    """Run their merge script; its ``--weight`` is its own LoRA-wrapped model with random values."""
    import merge_lora_weights_and_save_hf_model as merge
    from transformers import PreTrainedModel

    clip_dir, conv_dir, sam_path = towers
    weight = work / "training_checkpoint.bin"
    merged = work / "merged"
    captured: dict[str, torch.nn.Module] = {}
    real_peft, real_load, real_save = merge.get_peft_model, torch.load, PreTrainedModel.save_pretrained

    def peft_capture(model, config):
        captured["model"] = real_peft(model, config)
        return captured["model"]

    def load_training_checkpoint(f, *args, **kwargs):
        if str(f) != str(weight):
            return real_load(f, *args, **kwargs)
        state = {k: v.detach().clone() for k, v in captured["model"].state_dict().items()}
        randomize_(state, seed + 5, skip=("vision_tower",))  # frozen towers keep their directories' values
        torch.save(state, weight)
        return state

    def save_sharded(self, *args, **kwargs):
        kwargs.setdefault("max_shard_size", SHARD)
        return real_save(self, *args, **kwargs)

    merge.get_peft_model, torch.load, PreTrainedModel.save_pretrained = peft_capture, load_training_checkpoint, save_sharded
    try:
        merge.main(["--version", str(base), "--weight", str(weight), "--save_path", str(merged),
                    "--vision_pretrained", str(sam_path), "--vision-tower", str(clip_dir),
                    "--vision-tower-aux", str(conv_dir), "--precision", "fp32"])
    finally:
        merge.get_peft_model, torch.load, PreTrainedModel.save_pretrained = real_peft, real_load, real_save
    return merged


def load_like_chat(merged: Path, clip_dir: Path):
    """``chat.py`` lines 79-179 with ``--precision fp32`` (``.cuda()`` left out)."""
    import MGMSA.model.MGMSA as mgmsa
    from model.segment_anything.utils.transforms import ResizeLongestSide
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(merged), cache_dir=None, model_max_length=1024,
                                              padding_side="right", use_fast=False)
    tokenizer.pad_token = tokenizer.unk_token
    tokenizer.add_tokens(["[SEG]"])
    seg_idx = tokenizer("[SEG]", add_special_tokens=False).input_ids[1]
    model = mgmsa.MgmsaForCausalLM.from_pretrained(str(merged), low_cpu_mem_usage=True, vision_tower=str(clip_dir),
                                                  seg_token_idx=seg_idx, torch_dtype=torch.float32)
    model.config.eos_token_id = tokenizer.eos_token_id
    model.config.bos_token_id = tokenizer.bos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.get_model().initialize_vision_modules(model.get_model().config)
    vision_tower = model.get_model().get_vision_tower()
    vision_tower.to(dtype=torch.float32)
    model.get_model().get_vision_tower_aux().to(dtype=torch.float32)
    model = model.float()
    processor = copy.deepcopy(vision_tower.image_processor)
    transform = ResizeLongestSide(1024)
    model.config.image_grid = 1
    model.config.image_global = False
    model.config.image_aspect_ratio = "square"
    model.config.image_grid_pinpoints = None
    model.config.tokenizer_padding_side = tokenizer.padding_side
    model.config.tokenizer_model_max_length = tokenizer.model_max_length
    model.config.mm_use_im_start_end = False  # chat.py: args.mm_use_im_start_end (default False)
    model.config.mm_use_im_patch_token = True
    raw_size = processor.crop_size.copy()
    model.config.image_size_aux = 768
    processor.crop_size["height"] = processor.crop_size["width"] = 768
    processor.size["shortest_edge"] = 768
    model.get_model().initialize_uni_modules(model.get_model().config)
    model.eval()
    return model, tokenizer, seg_idx, processor, transform, raw_size


def preprocess_like_chat(image_path: Path, processor, transform, raw_size):
    """``chat.py`` lines 200-254 (the image part of turn 0)."""
    import chat
    import cv2

    image_np = cv2.cvtColor(cv2.imread(str(image_path)), cv2.COLOR_BGR2RGB)
    image_clip = processor.preprocess(image_np[np.newaxis, :], return_tensors="pt")["pixel_values"][0]
    image_aux = image_clip.clone()
    image_clip = torch.nn.functional.interpolate(image_clip[None], size=[raw_size["height"], raw_size["width"]],
                                                 mode="bilinear", align_corners=False)[0]
    image = transform.apply_image(image_np)
    resize = image.shape[:2]
    sam = chat.preprocess(torch.from_numpy(image).permute(2, 0, 1).contiguous()).unsqueeze(0).float()
    return image_np, image_clip[None].float(), image_aux[None].float(), sam, resize


def prompt_ids(tokenizer, turns: list[tuple[str, str]]) -> torch.Tensor:
    """Tokenize like chat.py: llava_v1 template, ``<im_start><image><im_end>`` on the first message."""
    from mgm import conversation as conversation_lib
    from mgm.constants import (
        DEFAULT_IM_END_TOKEN,
        DEFAULT_IM_START_TOKEN,
        DEFAULT_IMAGE_TOKEN,
        IMAGE_TOKEN_INDEX,
    )
    from mgm.mm_utils import tokenizer_image_token

    conv = conversation_lib.conv_templates["llava_v1"].copy()
    conv.messages = []
    for i, (role, text) in enumerate(turns):
        if i == 0:
            text = (DEFAULT_IMAGE_TOKEN + "\n" + text).replace(
                DEFAULT_IMAGE_TOKEN, DEFAULT_IM_START_TOKEN + DEFAULT_IMAGE_TOKEN + DEFAULT_IM_END_TOKEN)
        conv.append_message(conv.roles[0] if role == "user" else conv.roles[1], text)
    conv.append_message(conv.roles[1], "")
    return tokenizer_image_token(conv.get_prompt(), tokenizer, IMAGE_TOKEN_INDEX, return_tensors="pt").unsqueeze(0)


def lm_forward(model, ids: torch.Tensor, image_clip, image_aux):
    """Make the call their ``model_forward`` makes (``super().forward`` with images, hidden states)."""
    from mgm.model.language_model.mgm_llama import MGMLlamaForCausalLM

    with torch.no_grad():
        return MGMLlamaForCausalLM.forward(model, input_ids=ids, images=image_clip, images_aux=image_aux,
                                           attention_mask=torch.ones_like(ids), output_hidden_states=True)


def greedy(model, tokenizer, ids, image_clip, image_aux, seg_idx) -> list[int]:
    """Greedy decoding by full forwards (what ``generate`` should do; their ``evaluate`` re-feeds tokens,
    D.1): EOS and special tokens banned, ``[SEG]`` forced at ``SEG_STEP`` and banned elsewhere."""
    banned = sorted(set(tokenizer.all_special_ids) | {tokenizer.eos_token_id})
    out: list[int] = []
    for step in range(N_NEW):
        full = torch.cat([ids, torch.tensor([out], dtype=ids.dtype)], dim=1) if out else ids
        logits = lm_forward(model, full, image_clip, image_aux).logits[0, -1].clone()
        logits[banned] = -float("inf")
        if step == SEG_STEP:
            logits[:] = -float("inf")
            logits[seg_idx] = 0.0
        else:
            logits[seg_idx] = -float("inf")
        out.append(int(logits.argmax()))
    return out


def training_path(model, ids, gen, image_clip, image_aux, sam, resize, size):
    """Their training forward (``model_forward``, teacher forcing) on prompt + generated tokens; returns
    the ``[SEG]`` embedding fed to SAM and the mask logits at the original size."""
    full = torch.cat([ids, torch.tensor([gen], dtype=ids.dtype)], dim=1)
    labels = full.clone()
    labels[:, : ids.shape[1]] = -100
    seen: dict[str, torch.Tensor] = {}
    pe = model.model.visual_model.prompt_encoder

    def grab(_module, _args, kwargs, _out):
        seen["text_embeds"] = kwargs["text_embeds"].detach().clone()

    post = model.model.visual_model.postprocess_masks

    def postprocess(*args, **kwargs):
        seen["mask_logits"] = post(*args, **kwargs).detach().clone()
        return seen["mask_logits"]

    handle = pe.register_forward_hook(grab, with_kwargs=True)
    model.model.visual_model.postprocess_masks = postprocess
    model.ce_loss_weight, model.dice_loss_weight, model.bce_loss_weight = 1.0, 0.5, 2.0  # set only when training
    try:
        with torch.no_grad():
            model.model_forward(images=sam, images_clip=image_clip, images_aux=image_aux, input_ids=full,
                                labels=labels, attention_masks=torch.ones_like(full), offset=torch.tensor([0, 1]),
                                masks_list=[torch.zeros(1, *size)], label_list=[torch.zeros(size)],
                                resize_list=[resize], inference=False)
    finally:
        handle.remove()
        model.model.visual_model.postprocess_masks = post
    return seen["text_embeds"][:, 0], seen["mask_logits"][:, 0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, required=True, help="patched PixelRIST work tree")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    torch.manual_seed(args.seed)  # every initialisation their code does is then reproducible too
    work, checkout, image_path = args.work.resolve(), args.checkout.resolve(), args.image.resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)  # their scripts write ./vis_output
    setup(checkout)

    towers = make_towers(work, args.seed)
    base = make_base(work, towers[0], args.seed)
    merged = run_merge(checkout, work, base, towers, args.seed)
    model, tokenizer, seg_idx, processor, transform, raw_size = load_like_chat(merged, towers[0])
    full_dir = work / "full"
    with torch.no_grad():
        model.save_pretrained(str(full_dir), max_shard_size=SHARD)
    tokenizer.save_pretrained(str(full_dir))

    image_np, image_clip, image_aux, sam, resize = preprocess_like_chat(image_path, processor, transform, raw_size)
    ids1 = prompt_ids(tokenizer, [("user", Q1)])
    with torch.no_grad():
        image_tokens = model.encode_images(image_clip, image_aux)
    out1 = lm_forward(model, ids1, image_clip, image_aux)
    gen = greedy(model, tokenizer, ids1, image_clip, image_aux, seg_idx)
    seg_embed, mask_logits = training_path(model, ids1, gen, image_clip, image_aux, sam, resize, image_np.shape[:2])
    ids2 = prompt_ids(tokenizer, [("user", Q1), ("assistant", A1), ("user", Q2)])
    out2 = lm_forward(model, ids2, image_clip, image_aux)

    tensors = {
        "image_clip": image_clip[0], "image_aux": image_aux[0], "image_sam": sam[0],
        "image_tokens": image_tokens[0], "logits1": out1.logits[0], "logits2": out2.logits[0],
        "seg_embedding": seg_embed, "mask_logits": mask_logits,
    }
    meta = {
        "model": "miras", "versions": versions(), "seg_token_idx": seg_idx,
        "ids1": ids1[0].tolist(), "ids2": ids2[0].tolist(), "generated": gen, "seg_step": SEG_STEP,
        "dialogue1": [["user", Q1]], "dialogue2": [["user", Q1], ["assistant", A1], ["user", Q2]],
        "resize": list(resize), "original_size": list(image_np.shape[:2]),
        "merged": str(merged), "full": str(full_dir), "clip": str(towers[0]), "convnext": str(towers[1]),
        "state_dict_keys": sorted(model.state_dict()), "geometry": GEOMETRY,
        "merged_config": __import__("json").loads((merged / "config.json").read_text()),
    }
    save_exchange(work / "authors_miras.pt", tensors, meta)
    print(f"authors' MIRAS outputs written to {work / 'authors_miras.pt'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
