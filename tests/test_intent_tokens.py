"""The rule tracker's token memo: same analysis as without it, per tracker, bounded, copy-safe."""

from __future__ import annotations

from _data import PRIST_DEV

from agent.intent import RuleIntentTracker
from agent.intent.tokens import TokenCache, analyse_tokens, reading_with, tag, tokenize
from agent.prist import load_prist
from agent.types import Intent
from graphs.track_eval import track_dialogues

TEXTS = [
    "find the HDMI label",
    "no, the one on the right",
    "what's written on the 'Sky Cola' bottle?",
    "now the port next to it",
    "Does the sign help drivers?",
    "<b>EXIT</b> sign",
    "",
]

DEV = PRIST_DEV


def _plain(text: str) -> list[tuple[str, str, str, str]]:
    return [(t.text, t.kind, t.tag, t.low) for t in tag(tokenize(text))]


def test_memo_gives_the_same_tokens_as_tagging_afresh() -> None:
    cache = TokenCache()
    for _ in range(2):  # a miss, then a hit
        for text in TEXTS:
            assert [(t.text, t.kind, t.tag, t.low) for t in cache.analyse(text)] == _plain(text)
    assert len(cache) == len(TEXTS)


def test_callers_get_fresh_tokens() -> None:
    cache = TokenCache()
    first = cache.analyse("find the HDMI label")
    first[0].tag = "SPOILED"
    first.pop()
    again = cache.analyse("find the HDMI label")
    assert [t.tag for t in again] == [t.tag for t in tag(tokenize("find the HDMI label"))]
    again[0].tag = "SPOILED"
    assert cache.analyse("find the HDMI label")[0].tag != "SPOILED"


def test_memo_is_bounded_least_recently_used_first() -> None:
    cache = TokenCache(max_entries=2)
    cache.analyse("a cup")
    cache.analyse("a mug")
    cache.analyse("a cup")  # used again: "a mug" is now the oldest
    cache.analyse("a plate")
    assert len(cache) == 2
    with reading_with(cache):
        analyse_tokens("a cup")
    assert len(cache) == 2


def test_each_tracker_memoises_only_inside_its_own_track_calls() -> None:
    first, second = RuleIntentTracker(), RuleIntentTracker()
    analyse_tokens("find the HDMI label")  # outside any track call: nothing memoised
    assert len(first.tokens) == len(second.tokens) == 0
    found = first.track(intent=Intent(), dialogue=[], user_text="find the red cup", turn=0)
    first.track(intent=found.intent, dialogue=[], user_text="the bigger one", turn=1)
    assert len(first.tokens) > 0 and len(second.tokens) == 0
    before = len(first.tokens)
    analyse_tokens("something else entirely")
    assert len(first.tokens) == before


def test_a_warm_tracker_tracks_exactly_like_one_without_a_memo() -> None:
    items = load_prist(DEV)
    warm = RuleIntentTracker()
    list(track_dialogues(warm, items))  # fill its memo with every dev text
    warm_rows = list(track_dialogues(warm, items))
    plain_rows = list(track_dialogues(RuleIntentTracker(cache_entries=0), items))
    assert len(warm.tokens) > 100
    assert [r["intent"] for r in warm_rows] == [r["intent"] for r in plain_rows]
