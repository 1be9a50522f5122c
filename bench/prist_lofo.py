"""Which later questions should move the target? Leave-one-fold-out over the PRIST dev folds.

The rule tracker's :class:`agent.intent.focus.FocusOptions` switch three rules on and off; each
combination below is a variant. For every fold the variant that scores best on the other four is
scored on it (:func:`graphs.track_eval.leave_one_fold_out`), so the figure is not the score of the
data that picked the variant. It does not make the folds unseen: the rules themselves were written
after reading failures of every fold (see the README's "Intent tracking" section).

Run from the repository root: ``python bench/prist_lofo.py [--prist PATH] [--folds FOLDS.json]``;
prints one JSON object (per-variant F1 per fold, the held-out choice and score per fold, the
leave-one-fold-out mean).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.intent import RuleIntentTracker  # noqa: E402
from agent.intent.focus import FocusOptions  # noqa: E402
from agent.prist import load_prist  # noqa: E402
from graphs.track_eval import DEFAULT_FOLDS, leave_one_fold_out, load_folds  # noqa: E402

DEFAULT_PRIST = REPO.parent / "shared" / "data" / "prist_dev.json"

VARIANTS = {
    "questions never move": FocusOptions(on_current=False, same_noun_more_words=False, which_names=False),
    "on the current": FocusOptions(on_current=True, same_noun_more_words=False, which_names=False),
    "which N": FocusOptions(on_current=False, same_noun_more_words=False, which_names=True),
    "on the current + which N": FocusOptions(on_current=True, same_noun_more_words=False, which_names=True),
    "all three": FocusOptions(),
}
"""The variants compared, simplest first (a tie goes to the simpler one)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prist", type=Path, default=DEFAULT_PRIST)
    parser.add_argument("--folds", type=Path, default=DEFAULT_FOLDS)
    args = parser.parse_args()
    items = load_prist(args.prist)
    folds = load_folds(args.folds)
    trackers = {name: RuleIntentTracker(focus=options) for name, options in VARIANTS.items()}
    print(json.dumps(leave_one_fold_out(trackers, items, folds), indent=1))


if __name__ == "__main__":
    main()
