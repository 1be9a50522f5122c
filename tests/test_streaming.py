"""Chunk coalescing: slow producers stream chunk by chunk, fast ones are merged, nothing is lost."""

from __future__ import annotations

from graphs.streaming import ChunkCoalescer


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_slow_chunks_are_sent_one_by_one() -> None:
    sent: list[str] = []
    clock = FakeClock()
    coalesce = ChunkCoalescer(sent.append, window_ms=15, clock=clock)
    for word in ["The ", "HDMI ", "label."]:
        coalesce(word)
        clock.now += 0.020  # a token every 20 ms, like a 7B model on a GPU
    coalesce.flush()
    assert sent == ["The ", "HDMI ", "label."]


def test_fast_chunks_are_merged_and_first_goes_out_at_once() -> None:
    sent: list[str] = []
    clock = FakeClock()
    coalesce = ChunkCoalescer(sent.append, window_ms=15, clock=clock)
    words = [f"w{i} " for i in range(80)]
    for i, word in enumerate(words):
        coalesce(word)
        clock.now += 0.0005 if i != 40 else 0.02
    assert sent[0] == "w0 "
    coalesce.flush()
    assert "".join(sent) == "".join(words)
    assert 2 <= len(sent) <= 6  # ~40 ms of chunks in 15 ms windows, not 80 events


def test_flush_without_chunks_sends_nothing() -> None:
    sent: list[str] = []
    ChunkCoalescer(sent.append).flush()
    assert sent == []
