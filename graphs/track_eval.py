"""Run an intent tracker over PRIST dialogues and score its final target against ``focus``.

The score is a bag-of-words token F1 between the tracked target phrase and the gold ``focus``
phrase (lower-case ``[a-z0-9]+`` tokens, :data:`STOP_WORDS` removed), averaged over dialogues.
A trivial baseline -- the words of the first answer before its first verb
(:func:`baseline_target`) -- is scored the same way for comparison.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from agent.errors import BadInputError
from agent.intent import IntentTracker, target_phrase
from agent.prist import PristDialogue, tracker_turns
from agent.types import DialogueTurn, Intent

STOP_WORDS = frozenset(
    "the a an of on in to and is are with for at by that this it its which what as from be "
    "or was were".split()
)
"""Common English words left out of the token F1."""

BASELINE_VERBS = frozenset(
    "is are was were be been has have had reads read shows show showed shown appears appear "
    "contains contain displays display features feature can could suggests suggest indicates "
    "indicate mentions mention includes include seems seem says say depicts depict represents "
    "represent lists states provides provide offers offer will would may might should does do "
    "did helps help makes make implies imply allows allow gives give looks look stands sits "
    "lies hangs holds wears bears reflects highlights creates adds serves uses "
    "emphasizes enhances conveys signifies confirms".split()
)
"""Common verbs and auxiliaries; the baseline stops at the first of them."""

_TOKEN_RE = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Lower-case word tokens of ``text`` without stop words."""
    return [t for t in _TOKEN_RE.findall(text.lower()) if t not in STOP_WORDS]


def token_f1(pred: str, gold: str) -> float:
    """Bag-of-words F1 of ``pred`` against ``gold`` (1.0 when both have no tokens)."""
    p, g = Counter(tokens(pred)), Counter(tokens(gold))
    if not p and not g:
        return 1.0
    if not p or not g:
        return 0.0
    common = sum((p & g).values())
    if common == 0:
        return 0.0
    precision = common / sum(p.values())
    recall = common / sum(g.values())
    return 2 * precision * recall / (precision + recall)


def baseline_target(item: PristDialogue) -> str:
    """Return the words of the first assistant answer before its first verb (a trivial baseline)."""
    answer = next((m.value for m in item.dialogue if m.speaker == "gpt"), "")
    out: list[str] = []
    for word in answer.split():
        if "".join(_TOKEN_RE.findall(word.lower())) in BASELINE_VERBS:
            break
        out.append(word)
    return " ".join(out)


def track_dialogue(tracker: IntentTracker, item: PristDialogue, index: int = 0) -> dict[str, Any]:
    """Run ``tracker`` over every user turn of ``item``, feeding the recorded answers.

    Returns ``{"index", "img_id", "target", "intent"}`` where ``target`` is the final intent as
    one phrase (:func:`agent.intent.target_phrase`) and ``intent`` its JSON form.
    """
    intent = Intent()
    dialogue: list[DialogueTurn] = []
    for turn, step in enumerate(tracker_turns(item)):
        result = tracker.track(
            intent=intent, dialogue=list(dialogue), user_text=step.user, turn=turn
        )
        intent = result.intent
        dialogue.append(DialogueTurn(role="user", text=step.user, act=result.act))
        if step.answer is not None:
            dialogue.append(DialogueTurn(role="assistant", text=step.answer))
    return {
        "index": index,
        "img_id": item.img_id,
        "target": target_phrase(intent),
        "intent": intent.model_dump(mode="json"),
    }


def track_dialogues(
    tracker: IntentTracker, items: Iterable[PristDialogue]
) -> Iterator[dict[str, Any]]:
    """Yield :func:`track_dialogue`'s dict for each dialogue (the CLI prints them as JSON lines)."""
    for index, item in enumerate(items):
        yield track_dialogue(tracker, item, index)


def evaluate(tracker: IntentTracker, items: Sequence[PristDialogue]) -> dict[str, Any]:
    """Mean token F1 of the tracked targets and of the baseline against ``focus``.

    Returns ``{"n", "mean_token_f1", "baseline_f1"}`` (both means are 0.0 when ``items`` is empty).
    """
    scores: list[float] = []
    base: list[float] = []
    for row, item in zip(track_dialogues(tracker, items), items, strict=True):
        scores.append(token_f1(row["target"], item.focus))
        base.append(token_f1(baseline_target(item), item.focus))
    n = len(scores)
    return {
        "n": n,
        "mean_token_f1": round(sum(scores) / n, 4) if n else 0.0,
        "baseline_f1": round(sum(base) / n, 4) if n else 0.0,
    }


iter_track = track_dialogues
"""Alias of :func:`track_dialogues`."""


def split_by_image(
    items: Sequence[PristDialogue],
) -> tuple[list[PristDialogue], list[PristDialogue]]:
    """Split dialogues in two halves by image id (sorted ids; all dialogues of an image together)."""
    ids = sorted({it.img_id for it in items})
    first = set(ids[: len(ids) // 2])
    return [it for it in items if it.img_id in first], [
        it for it in items if it.img_id not in first
    ]


DEFAULT_FOLDS = Path(__file__).resolve().parents[1] / "data" / "prist" / "prist_dev_folds.json"
"""The fixed split of ``prist_dev.json`` by image that ships with the repository."""


class Folds(BaseModel):
    """A fixed split of PRIST dialogues by image: which folds were tuned on, which were not."""

    description: str = ""
    folds: list[list[str]] = Field(min_length=2)
    """Image ids of each fold."""
    tuned: list[int]
    """Folds the tracker was developed on."""
    unseen: list[int]
    """Folds only ever scored."""

    @model_validator(mode="after")
    def _check(self) -> Folds:
        ids = [i for fold in self.folds for i in fold]
        if len(ids) != len(set(ids)):
            raise ValueError("an image is in more than one fold")
        named = set(self.tuned) | set(self.unseen)
        if set(self.tuned) & set(self.unseen) or not named <= set(range(len(self.folds))):
            raise ValueError("tuned and unseen must be disjoint fold numbers")
        return self

    def fold_of(self, img_id: str) -> int | None:
        """Return the fold an image belongs to (None when the split does not name it)."""
        return next((k for k, fold in enumerate(self.folds) if img_id in fold), None)


def load_folds(path: str | Path = DEFAULT_FOLDS) -> Folds:
    """Read a folds file; raise :class:`BadInputError` with a one-line reason if unusable."""
    p = Path(path)
    try:
        return Folds.model_validate(json.loads(p.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise BadInputError(f"folds file not found: {p}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"cannot read folds file {p}: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        raise BadInputError(f"{p}: {'.'.join(map(str, err['loc'])) or 'folds'}: {err['msg']}") from None


def evaluate_folds(
    tracker: IntentTracker, items: Sequence[PristDialogue], folds: Folds
) -> dict[str, Any]:
    """Mean token F1 per fold, over the tuned and the unseen folds, and their gap.

    Returns ``{"folds": [{"fold", "split", "n", "mean_token_f1", "baseline_f1"}...],
    "tuned_f1", "unseen_f1", "gap", "worst_unseen_fold_f1", "unassigned"}``; a fold's F1 is the
    mean over its dialogues, the tuned/unseen figures the mean over their dialogues, and the gap
    ``tuned_f1 - unseen_f1``. Dialogues of images the split does not name are counted in
    ``unassigned`` and scored nowhere.
    """
    per_fold: list[list[PristDialogue]] = [[] for _ in folds.folds]
    unassigned = 0
    for item in items:
        k = folds.fold_of(item.img_id)
        if k is None:
            unassigned += 1
        else:
            per_fold[k].append(item)
    rows: list[dict[str, Any]] = []
    unseen_folds: list[float] = []
    scores: dict[str, list[float]] = {"tuned": [], "unseen": []}
    for k, fold_items in enumerate(per_fold):
        split = "tuned" if k in folds.tuned else "unseen" if k in folds.unseen else "unused"
        f1s = [token_f1(row["target"], it.focus) for row, it in zip(track_dialogues(tracker, fold_items), fold_items, strict=True)]
        base = [token_f1(baseline_target(it), it.focus) for it in fold_items]
        if split in scores:
            scores[split].extend(f1s)
        if split == "unseen" and f1s:
            unseen_folds.append(round(sum(f1s) / len(f1s), 4))
        rows.append(
            {
                "fold": k,
                "split": split,
                "n": len(f1s),
                "mean_token_f1": round(sum(f1s) / len(f1s), 4) if f1s else 0.0,
                "baseline_f1": round(sum(base) / len(base), 4) if base else 0.0,
            }
        )
    tuned = sum(scores["tuned"]) / len(scores["tuned"]) if scores["tuned"] else 0.0
    unseen = sum(scores["unseen"]) / len(scores["unseen"]) if scores["unseen"] else 0.0
    return {
        "folds": rows,
        "tuned_f1": round(tuned, 4),
        "unseen_f1": round(unseen, 4),
        "gap": round(tuned - unseen, 4),
        "worst_unseen_fold_f1": min(unseen_folds) if unseen_folds else 0.0,
        "unassigned": unassigned,
    }


def leave_one_fold_out(
    trackers: dict[str, IntentTracker], items: Sequence[PristDialogue], folds: Folds
) -> dict[str, Any]:
    """Choose among tracker variants without scoring on the data that chose them.

    Every variant is scored on every dialogue once. For each fold, the variant with the best mean
    token F1 on the *other* folds (ties: the earlier variant) is scored on that fold. Returns
    ``{"variants": {name: [F1 per fold]}, "held_out": [{"fold", "chosen", "f1_others", "f1"}...],
    "lofo_f1"}``, ``lofo_f1`` being the mean over all dialogues of the held-out scores. Dialogues
    of images the split does not name are left out.
    """
    names = list(trackers)
    scored: dict[str, list[tuple[int, float]]] = {}
    for name, tracker in trackers.items():
        rows: list[tuple[int, float]] = []
        for row, item in zip(track_dialogues(tracker, items), items, strict=True):
            k = folds.fold_of(item.img_id)
            if k is not None:
                rows.append((k, token_f1(row["target"], item.focus)))
        scored[name] = rows

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    held: list[dict[str, Any]] = []
    held_scores: list[float] = []
    for k in range(len(folds.folds)):
        others = {n: mean([f for j, f in scored[n] if j != k]) for n in names}
        chosen = max(names, key=lambda n: (round(others[n], 9), -names.index(n)))
        fold_scores = [f for j, f in scored[chosen] if j == k]
        held_scores.extend(fold_scores)
        held.append({"fold": k, "chosen": chosen, "f1_others": round(others[chosen], 4), "f1": round(mean(fold_scores), 4)})
    per_fold = {n: [round(mean([f for j, f in scored[n] if j == k]), 4) for k in range(len(folds.folds))] for n in names}
    return {"variants": per_fold, "held_out": held, "lofo_f1": round(mean(held_scores), 4)}


__all__ = [
    "BASELINE_VERBS",
    "DEFAULT_FOLDS",
    "Folds",
    "STOP_WORDS",
    "baseline_target",
    "evaluate",
    "evaluate_folds",
    "iter_track",
    "leave_one_fold_out",
    "load_folds",
    "split_by_image",
    "token_f1",
    "tokens",
    "track_dialogue",
    "track_dialogues",
]
