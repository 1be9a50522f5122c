"""MIRAS behind the real runtime and CLI: one generation per turn, streamed once, masks stored (tiny, CPU)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from _data import HDMI_JPG

from agent.images import load_image_file
from agent.memory import Memory
from graphs.runtime import Runtime
from tools.backends.miras import MirasBackend
from tools.backends.vlm_common.engine import SegVLMPredictor
from tools.backends.vlm_common.generation import GenerationParams
from tools.backends.vlm_common.loader import load_model
from tools.backends.vlm_common.testing import ForceTokens, make_tiny_checkpoint


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("miras_rt"), "miras", seed=3)


def test_prist_style_dialogue_through_the_runtime(tiny: dict[str, Path], tmp_path: Path) -> None:
    loaded = load_model(tiny["model_dir"], variant="miras", convnext=tiny["convnext"], progress=False)
    predictor = SegVLMPredictor(loaded, generation=GenerationParams(max_new_tokens=6))
    backend = MirasBackend(predictor=predictor)
    runtime = Runtime(memory=Memory(f"sqlite:///{tmp_path / 'db.sqlite'}"), backend=backend)
    sid = runtime.new_session()
    image = load_image_file(HDMI_JPG)

    predictor.generation = GenerationParams(max_new_tokens=6, logits_processor=(ForceTokens(loaded.seg_token_idx),))
    first = list(runtime.run_turn(sid, "What label is visible on the laptop?", image=image))
    done = first[-1].turn
    assert done is not None and not done.masks
    streamed = "".join(e.text for e in first if e.kind == "token")
    assert done.reply and streamed.strip() == done.reply.strip()  # the model's answer, streamed once

    predictor.generation = GenerationParams(max_new_tokens=4, logits_processor=(ForceTokens(loaded.seg_token_idx, {1}),))
    final = list(runtime.run_turn(sid, "Please segment the conversation above to align with the provided answers."))
    done = final[-1].turn
    assert done is not None and done.act.value == "segment_request"
    assert len(done.masks) == 1 and done.masks[0].mask.array.shape == (427, 639)
    assert [e.kind for e in final].count("mask") == 1
    assert "".join(e.text for e in final if e.kind == "token").strip() == done.reply.strip()
    history = runtime.history(sid)
    assert [t.status for t in history.turns] == ["ok"] * 4
    assert history.current_mask is not None and history.current_mask.id == done.masks[0].id
    assert [c.tool for c in history.turns[-1].tool_calls] == ["segment", "explain"]
    runtime.close()


def test_cli_chat_with_the_miras_backend(tiny: dict[str, Path], tmp_path: Path) -> None:
    import app

    out, err = io.StringIO(), io.StringIO()
    from ui.cli import main

    code = main(
        ["chat", "--backend", "miras", "--model-dir", str(tiny["model_dir"]), "--convnext", str(tiny["convnext"]),
         "--image", str(HDMI_JPG), "--db", f"sqlite:///{tmp_path / 'db.sqlite'}", "--json"],
        stdin=io.StringIO("What is printed on the laptop?\nwhy is it there?\n"), stdout=out, stderr=err,
    )
    assert code == 0, err.getvalue()
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == 2 and rows[0]["session"] == rows[1]["session"]
    assert all(r["explanation"] for r in rows)
    assert app.main  # the console-script entry point is the same function


def test_cli_reports_a_bad_model_dir_in_one_line(tmp_path: Path) -> None:
    from ui.cli import main

    err = io.StringIO()
    code = main(
        ["chat", "--backend", "miras", "--model-dir", str(tmp_path / "missing"), "--image", str(HDMI_JPG),
         "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"],
        stdin=io.StringIO("hello\n"), stdout=io.StringIO(), stderr=err,
    )
    lines = err.getvalue().strip().splitlines()
    assert code == 2 and lines and "Traceback" not in err.getvalue()
    assert any("missing" in line for line in lines)


def test_cli_graph_decoding_without_a_gpu_is_one_line(tiny: dict[str, Path], tmp_path: Path) -> None:
    from ui.cli import main

    err = io.StringIO()
    code = main(
        ["chat", "--backend", "miras", "--model-dir", str(tiny["model_dir"]), "--convnext", str(tiny["convnext"]),
         "--decode", "graphs", "--image", str(HDMI_JPG), "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"],
        stdin=io.StringIO("hello\n"), stdout=io.StringIO(), stderr=err,
    )
    lines = err.getvalue().strip().splitlines()
    assert code == 2 and len(lines) == 1 and "CUDA" in lines[0], err.getvalue()


def test_stop_during_generation_keeps_the_model_caches_consistent(tiny: dict[str, Path], tmp_path: Path) -> None:
    """A Stop pressed while MIRAS generates (fixed-shape decode steps) ends the turn, releases the
    decoder, and leaves a KV cache whose reuse gives the same next answer as recomputing."""
    import threading

    from agent.errors import TurnStopped

    loaded = load_model(tiny["model_dir"], variant="miras", convnext=tiny["convnext"], progress=False)
    predictor = SegVLMPredictor(loaded, decode="static")
    predictor.generation = GenerationParams(max_new_tokens=12, logits_processor=(ForceTokens(loaded.seg_token_idx, {1}),))
    runtime = Runtime(memory=Memory(f"sqlite:///{tmp_path / 'db.sqlite'}"), backend=MirasBackend(predictor=predictor))
    sid = runtime.new_session()
    image = load_image_file(HDMI_JPG)
    runtime.run_turn_sync(sid, "What label is visible on the laptop?", image=image)
    stop = threading.Event()
    with pytest.raises(TurnStopped):
        runtime.run_turn_sync(sid, "Please segment it.", stop=stop,
                              on_event=lambda e: stop.set() if e.kind == "token" else None)
    assert predictor._decoder_lock.acquire(blocking=False)  # released by the stopped turn
    predictor._decoder_lock.release()
    state = predictor.cache.get(("session", sid))
    assert state.kv.get_seq_length() == state.expanded(len(state.ids)) == state.hidden.length

    def params() -> GenerationParams:  # ForceTokens counts steps, so each generation gets its own
        return GenerationParams(max_new_tokens=12, logits_processor=(ForceTokens(loaded.seg_token_idx, {1}),))

    predictor.generation = params()
    after = runtime.run_turn_sync(sid, "Please segment it.")
    dialogue = [(t.role, t.text) for t in runtime.history(sid).dialogue()][:-1]
    fresh = SegVLMPredictor(loaded, decode="eager").start_turn(
        image.rgb, image.ref.sha256, dialogue, params=params(), use_cache=False).run()
    assert after.reply.strip() == fresh.text.strip() and len(after.masks) == 1 and len(fresh.seg_positions) == 1
    runtime.close()
