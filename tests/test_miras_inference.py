"""MIRAS inference: multi-turn generation, [SEG] rules, masks, caches, backend protocol (tiny, CPU)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from _data import HDMI_JPG
from PIL import Image

from agent.types import BoxPrompt, DialogueTurn, ImageRef, Intent, PointPrompt, Prompts
from tools.backends.base import Backend, ExplainRequest, SegmentRequest
from tools.backends.miras import MirasBackend
from tools.backends.vlm_common.engine import SegVLMPredictor
from tools.backends.vlm_common.generation import GenerationParams
from tools.backends.vlm_common.loader import load_model
from tools.backends.vlm_common.testing import ForceTokens, make_tiny_checkpoint

IMAGE = HDMI_JPG

Q1 = "What is the HDMI label on the laptop ?"
Q2 = "Please segment it ."


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    info = make_tiny_checkpoint(tmp_path_factory.mktemp("mirasinf"), "miras", seed=1)
    return load_model(info["model_dir"], variant="miras", convnext=info["convnext"], progress=False)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.array(Image.open(IMAGE).convert("RGB"))


@pytest.fixture(scope="module")
def sha(image) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()


def _params(loaded, steps=frozenset(), n=10, eos=True) -> GenerationParams:
    ban = () if eos else (loaded.tokenizer.eos_token_id,)
    return GenerationParams(max_new_tokens=n, logits_processor=(ForceTokens(loaded.seg_token_idx, set(steps), ban),))


def _full_hidden(pred: SegVLMPredictor, image, sha, dialogue, generated) -> torch.Tensor:
    """Recompute every final hidden state from scratch (no cache) over prompt + generated tokens."""
    ids = pred.prompt_ids(dialogue) + generated
    entry, _ = pred.image_entry(image, sha, use_cache=False)
    return pred.model.forward_embeds(pred.model.embed(ids, entry.tokens), None, 0)[0]


def test_two_turn_conversation_text_then_mask(loaded, image, sha):
    pred = SegVLMPredictor(loaded)
    t1 = pred.start_turn(image, sha, [("user", Q1)], session_id="a", params=_params(loaded, n=8))
    chunks = list(t1)
    r1 = t1.result
    assert isinstance(r1.text, str) and r1.text and "".join(chunks).strip() == r1.text
    assert r1.seg_positions == [] and pred.stats["sam_encodes"] == 0 and pred.stats["mask_decodes"] == 0
    dialogue = [("user", Q1), ("assistant", r1.text), ("user", Q2)]
    r2 = pred.start_turn(image, sha, dialogue, session_id="a", params=_params(loaded, {2}, n=6)).run()
    assert "[SEG]" in r2.text and len(r2.seg_positions) == 1
    masks = pred.masks(image, sha, r2.seg_hidden)
    assert len(masks) == 1
    mask, prob, score = masks[0]
    assert mask.shape == image.shape[:2] and mask.dtype == bool and prob.shape == image.shape[:2]
    assert np.array_equal(mask, prob > 0.5) and isinstance(score, float)


def test_position_rules_pick_the_documented_states(loaded, image, sha):
    pred = SegVLMPredictor(loaded)
    assert pred.seg_position == "authors_offset"  # MIRAS default: what its checkpoints were trained on
    dialogue = [("user", Q1)]
    outs = {}
    for rule in ("predicting", "authors_offset"):
        pred.forget("r")
        outs[rule] = pred.start_turn(image, sha, dialogue, session_id="r", seg_position=rule,
                                     params=_params(loaded, {1, 4}, n=6, eos=False)).run()
    a, b = outs["predicting"], outs["authors_offset"]
    assert a.token_ids == b.token_ids and a.seg_positions == b.seg_positions
    n_image, assumed = loaded.config.num_image_tokens, loaded.config.authors_assumed_image_tokens
    assert (n_image, assumed) == (16, 4)
    prompt_len = a.prompt_tokens
    assert a.seg_positions == [prompt_len + 1, prompt_len + 4]
    assert a.embed_indices == [p - 1 for p in a.seg_positions]
    assert b.embed_indices == [p - 1 - (n_image - assumed) for p in b.seg_positions]
    # The authors' index is where their training mask (ids[1:] == SEG, 255-style zero prefix of
    # assumed-1) lands in the expanded sequence: unexpanded SEG index - 1 + (assumed - 1).
    ids = pred.prompt_ids(dialogue) + a.token_ids
    unexpanded_seg = [i for i, t in enumerate(ids) if t == loaded.seg_token_idx]
    assert b.embed_indices == [i - 1 + (assumed - 1) for i in unexpanded_seg]
    full = _full_hidden(pred, image, sha, dialogue, a.token_ids[:-1])
    assert torch.allclose(a.seg_hidden, full[a.embed_indices], atol=1e-5)
    assert torch.allclose(b.seg_hidden, full[b.embed_indices], atol=1e-5)
    # Several [SEG] give several masks.
    assert len(pred.masks(image, sha, a.seg_hidden)) == 2


def test_generation_arguments_change_the_output(loaded, image, sha):
    pred = SegVLMPredictor(loaded)
    short = pred.start_turn(image, sha, [("user", Q1)], params=_params(loaded, n=3, eos=False)).run()
    long = pred.start_turn(image, sha, [("user", Q1)], params=_params(loaded, n=9, eos=False)).run()
    assert len(short.token_ids) == 3 and len(long.token_ids) == 9
    assert long.token_ids[:3] == short.token_ids
    sampled = [
        pred.start_turn(image, sha, [("user", Q1)], params=GenerationParams(
            max_new_tokens=8, do_sample=True, temperature=5.0, seed=s,
            logits_processor=(ForceTokens(loaded.seg_token_idx, set(), (loaded.tokenizer.eos_token_id,)),))).run().token_ids
        for s in (0, 1, 2)
    ]
    assert len({tuple(s) for s in sampled}) > 1
    with pytest.raises(ValueError, match="beam"):
        GenerationParams(num_beams=4)


def test_turn_two_reuses_caches_and_matches_recompute(loaded, image, sha):
    cached = SegVLMPredictor(loaded)
    r1 = cached.start_turn(image, sha, [("user", Q1)], session_id="s", params=_params(loaded, n=8)).run()
    covered = cached.session_tokens("s")
    dialogue = [("user", Q1), ("assistant", r1.text), ("user", Q2)]
    before = dict(cached.stats)
    r2 = cached.start_turn(image, sha, dialogue, session_id="s", params=_params(loaded, {3}, n=6)).run()
    assert r2.image_cache_hit and cached.stats["image_encodes"] == before["image_encodes"] == 1
    # The whole previous turn (prompt + answer) came from the KV cache.
    new_ids = cached.prompt_ids(dialogue)
    assert new_ids[: len(covered)] == covered
    assert r2.reused_tokens == len(covered) + loaded.config.num_image_tokens - 1
    assert cached.stats["prefill_tokens"] - before["prefill_tokens"] == r2.prompt_tokens - r2.reused_tokens
    assert r2.prompt_tokens - r2.reused_tokens < 15

    fresh = SegVLMPredictor(loaded)
    r2b = fresh.start_turn(image, sha, dialogue, use_cache=False, params=_params(loaded, {3}, n=6)).run()
    assert r2b.reused_tokens == 0 and not r2b.image_cache_hit
    assert r2.token_ids == r2b.token_ids and r2.text == r2b.text
    assert r2.embed_indices == r2b.embed_indices
    assert torch.allclose(r2.seg_hidden, r2b.seg_hidden, atol=1e-5)
    m_cached = cached.masks(image, sha, r2.seg_hidden)
    m_fresh = fresh.masks(image, sha, r2b.seg_hidden, use_cache=False)
    assert np.allclose(m_cached[0][1], m_fresh[0][1], atol=1e-5)
    assert abs(m_cached[0][2] - m_fresh[0][2]) < 1e-5
    # SAM ran once for the cached predictor; a second mask request reuses its embedding.
    cached.masks(image, sha, r2.seg_hidden)
    assert cached.stats["sam_encodes"] == 1


def test_recompute_baseline_encodes_once_per_turn(loaded, image, sha):
    """The benchmarks' recompute path does what the authors' runtime does per turn: one CLIP + ConvNeXt
    encode, one SAM encode and a prefill of the whole prompt -- and gives the cached path's answer."""
    pred = SegVLMPredictor(loaded)
    before = dict(pred.stats)
    entry = pred.encode_for_turn(image, sha)
    out = pred.start_turn(image, sha, [("user", Q1)], params=_params(loaded, {2}, n=4), use_cache=False,
                          image_entry=entry).run()
    masks = pred.masks(image, sha, out.seg_hidden, use_cache=False, image_entry=entry)
    work = {k: pred.stats[k] - before[k] for k in before}
    assert work["image_encodes"] == 1 and work["sam_encodes"] == 1 and work["mask_decodes"] == 1
    assert work["prefill_tokens"] == out.prompt_tokens and out.reused_tokens == 0 and len(pred.cache) == 0
    cached = SegVLMPredictor(loaded)
    ref = cached.start_turn(image, sha, [("user", Q1)], session_id="c", params=_params(loaded, {2}, n=4)).run()
    assert ref.token_ids == out.token_ids
    assert np.allclose(cached.masks(image, sha, ref.seg_hidden)[0][1], masks[0][1], atol=1e-5)


def test_edited_history_and_changed_image_recompute_correctly(loaded, image, sha):
    pred = SegVLMPredictor(loaded)
    r1 = pred.start_turn(image, sha, [("user", Q1)], session_id="e", params=_params(loaded, n=6)).run()
    edited = [("user", "Where is the red cable ?"), ("assistant", r1.text), ("user", Q2)]
    r_edit = pred.start_turn(image, sha, edited, session_id="e", params=_params(loaded, {1}, n=4)).run()
    ref = SegVLMPredictor(loaded).start_turn(image, sha, edited, use_cache=False, params=_params(loaded, {1}, n=4)).run()
    assert r_edit.reused_tokens < r1.prompt_tokens and r_edit.token_ids == ref.token_ids
    assert torch.allclose(r_edit.seg_hidden, ref.seg_hidden, atol=1e-5)

    other = np.ascontiguousarray(image[::-1])
    other_sha = hashlib.sha256(other.tobytes()).hexdigest()
    r_img = pred.start_turn(other, other_sha, edited, session_id="e", params=_params(loaded, {1}, n=4)).run()
    ids = pred.prompt_ids(edited)
    assert r_img.reused_tokens <= ids.index(-200)
    ref2 = SegVLMPredictor(loaded).start_turn(other, other_sha, edited, use_cache=False,
                                               params=_params(loaded, {1}, n=4)).run()
    assert r_img.token_ids == ref2.token_ids
    assert torch.allclose(r_img.seg_hidden, ref2.seg_hidden, atol=1e-5)

    pred.forget("e")
    assert pred.session_tokens("e") is None
    assert pred.start_turn(image, sha, edited, session_id="e", params=_params(loaded, n=2)).run().reused_tokens == 0


def test_cache_is_bounded_by_bytes(loaded, image, sha):
    pred = SegVLMPredictor(loaded, cache_bytes=200_000)
    for i in range(6):
        pred.start_turn(image, sha, [("user", Q1)], session_id=f"s{i}", params=_params(loaded, n=3)).run()
        assert pred.cache.total_bytes <= 200_000
    assert len(pred.cache) < 7


def _request(image, sha, dialogue, session="b", prompts=None, on_text=None):
    return SegmentRequest(
        image=image, image_ref=ImageRef(sha256=sha, width=image.shape[1], height=image.shape[0]),
        dialogue=[DialogueTurn(role=r, text=t) for r, t in dialogue], intent=Intent(target="HDMI label"),
        session_id=session, prompts=prompts or Prompts(), on_text=on_text,
    )


def test_backend_protocol_segment_and_explain(loaded, image, sha):
    backend = MirasBackend(predictor=SegVLMPredictor(loaded, generation=_params(loaded, n=6)))
    assert isinstance(backend, Backend) and backend.name == "miras"
    chunks: list[str] = []
    res = backend.segment(_request(image, sha, [("user", Q1)], on_text=chunks.append))
    assert res.masks == [] and res.text and "".join(chunks).strip() == res.text
    assert res.evidence["backend"] == "miras" and res.backend_ms > 0

    backend.predictor.generation = _params(loaded, {1}, n=5)
    req = _request(image, sha, [("user", Q1), ("assistant", res.text), ("user", Q2)])
    res2 = backend.segment(req)
    assert len(res2.masks) == 1 and res2.masks[0].mask.array.shape == image.shape[:2]
    assert res2.masks[0].label == "HDMI label" and isinstance(res2.masks[0].score, float)
    assert res2.evidence["reused_prompt_tokens"] > 0 and res2.evidence["image_cache_hit"]

    ex = ExplainRequest(image=image, image_ref=req.image_ref, dialogue=req.dialogue, intent=req.intent,
                        session_id="b", result=res2)
    assert "".join(backend.explain(ex)) == res2.text

    backend.predictor.generation = _params(loaded, n=6, eos=False)
    ex2 = ExplainRequest(image=image, image_ref=req.image_ref, dialogue=req.dialogue, intent=req.intent,
                         session_id="b")
    pieces = list(backend.explain(ex2))
    assert len(pieces) >= 2 and "[SEG]" not in "".join(pieces)
    backend.forget_session("b")
    assert backend.predictor.session_tokens("b") is None


def test_user_points_and_box_go_into_sam(loaded, image, sha):
    backend = MirasBackend(predictor=SegVLMPredictor(loaded, generation=_params(loaded, n=3)))
    prompts = Prompts(points=[PointPrompt(x=230, y=220), PointPrompt(x=20, y=20, positive=False)])
    res = backend.segment(_request(image, sha, [("user", Q1)], session="p", prompts=prompts))
    assert len(res.masks) == 1 and res.evidence["user_prompts"] and res.evidence["seg_tokens"] == 0

    pred = backend.predictor
    r = pred.start_turn(image, sha, [("user", Q2)], params=_params(loaded, {0}, n=2)).run()
    plain = pred.masks(image, sha, r.seg_hidden)[0][1]
    boxed = pred.masks(image, sha, r.seg_hidden, Prompts(box=BoxPrompt(x0=200, y0=190, x1=270, y1=245)))[0][1]
    assert plain.shape == boxed.shape and not np.allclose(plain, boxed)


def test_backend_without_model_dir_errors_on_use():
    from agent.errors import BackendError

    backend = MirasBackend()
    with pytest.raises(BackendError, match="--model-dir"):
        backend.load()


def test_seg_index_arithmetic_at_full_size():
    from tools.backends.vlm_common.config import SegVLMConfig
    from tools.backends.vlm_common.engine import seg_embedding_index

    miras, lisa = SegVLMConfig.full_size("miras"), SegVLMConfig.full_size("lisa")
    assert (miras.num_image_tokens, lisa.num_image_tokens) == (576, 256)
    assert miras.seg_position == "authors_offset" and lisa.seg_position == "predicting"
    # A [SEG] at expanded position 700 with the image starting at 40: 320 positions earlier.
    assert seg_embedding_index(700, "authors_offset", image_start=40, n_image=576) == 699 - 320
    assert seg_embedding_index(700, "predicting", image_start=40, n_image=576) == 699
    # LISA's hack is exact for 256 image tokens.
    assert seg_embedding_index(300, "authors_offset", image_start=40, n_image=256) == 299
    # Offsets before the sequence start (or no image) fall back to the predicting state.
    assert seg_embedding_index(100, "authors_offset", image_start=40, n_image=576, assumed_image_tokens=-900) == 99
    assert seg_embedding_index(100, "authors_offset", image_start=None, n_image=0) == 99


def _two_turns(pred: SegVLMPredictor, loaded, image, sha, session: str) -> list:
    dialogue = [("user", Q1)]
    outs = []
    for steps, n in (({3}, 24), ({5}, 30)):
        out = pred.start_turn(image, sha, dialogue, session_id=session, params=_params(loaded, steps, n=n, eos=False)).run()
        outs.append(out)
        dialogue += [("assistant", out.text), ("user", Q2)]
    return outs


@pytest.mark.parametrize("capacity", [None, 112])  # 112: turn 1 (85 positions) fits, turn 2 (124) decodes eagerly
def test_static_decode_steps_match_eager_decoding(loaded, image, sha, capacity):
    """The fixed-shape steps CUDA graphs replay give the eager tokens, [SEG] states and KV cache,
    across attention-span buckets, turns that reuse the cache, and turns too long for the workspace."""
    from tools.backends.vlm_common.static_decode import StaticDecoder

    eager = SegVLMPredictor(loaded, decode="eager")
    static = SegVLMPredictor(loaded, decode="static")
    assert eager.decoder is None and static.describe()["decode"] == "static"
    static.decoder = StaticDecoder(loaded.model, use_graphs=False, bucket=16, capacity=capacity)
    want, got = _two_turns(eager, loaded, image, sha, "s"), _two_turns(static, loaded, image, sha, "s")
    assert got[1].reused_tokens > 0
    for a, b in zip(want, got, strict=True):
        assert a.token_ids == b.token_ids and a.seg_positions == b.seg_positions
        torch.testing.assert_close(b.seg_hidden, a.seg_hidden, rtol=1e-4, atol=1e-5)
    assert eager.session_tokens("s") == static.session_tokens("s")
    kv_eager = eager.cache.get(("session", "s")).kv.layers()
    kv_static = static.cache.get(("session", "s")).kv.layers()
    for (ke, ve), (ks, vs) in zip(kv_eager, kv_static, strict=True):
        torch.testing.assert_close(ks, ke, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(vs, ve, rtol=1e-4, atol=1e-5)


def test_decode_modes_are_checked(loaded):
    assert SegVLMPredictor(loaded).decoder is None  # auto on a CPU model: eager
    with pytest.raises(ValueError, match="CUDA"):
        SegVLMPredictor(loaded, decode="graphs")
    with pytest.raises(ValueError, match="unknown decode mode"):
        SegVLMPredictor(loaded, decode="fast")  # type: ignore[arg-type]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU for CUDA graphs (CI has none)")
def test_cuda_graph_decoding_matches_static_and_eager_steps(tmp_path_factory, image, sha):
    from tools.backends.vlm_common.static_decode import StaticDecoder

    info = make_tiny_checkpoint(tmp_path_factory.mktemp("mirasgpu"), "miras", seed=1)
    loaded = load_model(info["model_dir"], variant="miras", convnext=info["convnext"], device="cuda:0", progress=False)
    assert SegVLMPredictor(loaded).describe()["decode"] == "graphs"  # auto on one GPU
    outs = {}
    for mode in ("eager", "static", "graphs"):
        pred = SegVLMPredictor(loaded, decode=mode)
        if pred.decoder is not None:
            pred.decoder = StaticDecoder(loaded.model, use_graphs=mode == "graphs", bucket=16)
        outs[mode] = _two_turns(pred, loaded, image, sha, "g")
        assert outs[mode][1].reused_tokens > 0
    for mode in ("static", "graphs"):
        for a, b in zip(outs["eager"], outs[mode], strict=True):
            assert a.token_ids == b.token_ids and a.seg_positions == b.seg_positions
            torch.testing.assert_close(b.seg_hidden, a.seg_hidden, rtol=1e-3, atol=1e-4)
