"""Intent tracking: classify each user turn (an :class:`agent.types.Act`) and update the intent.

Public API:

* :class:`TrackResult`, :class:`IntentTracker` -- the protocol every tracker follows;
* :class:`RuleIntentTracker` -- deterministic, offline rules over spaCy's parse of each turn;
* :class:`LLMIntentTracker` -- any LangChain chat model with structured output, falling back to
  the rules when the model fails or is too slow;
* :func:`build_tracker` / :func:`build_trackers` -- the tracker a user chose (``rules`` or
  ``llm`` with ``PROVIDER:MODEL`` or the backend's own model);
* :func:`target_phrase` -- the intent as one natural phrase ("'Sky Cola' label on the large
  bottle"), what a segmentation backend is prompted with;
* :func:`ground_from_answer` -- the rule tracker's step that fills the intent in from the last
  assistant answer.

Modules: ``protocol`` (the protocol, :func:`target_phrase`), ``rules`` (acts), ``decision``
(what an act changes), ``refining`` (narrowing the current target), ``focus`` (when a later
question moves the target), ``language`` (English or not, cleaning, typos), ``parsing`` (phrases
from spaCy's parse), ``reading`` (a turn's frame and main phrase), ``phrase`` (noun phrases and
what kind they are), ``splitting`` (a phrase -> target/attributes/relations), ``words``
(token-level helpers), ``grounding`` (answers), ``history`` (earlier targets), ``vocab``
(the few word lists the parse cannot give), ``llm`` (the model-backed tracker), ``choice``
(building the chosen one).
"""

from agent.intent.choice import TRACKERS, build_tracker, build_trackers
from agent.intent.grounding import ground_from_answer
from agent.intent.llm import IntentUpdate, LLMIntentTracker
from agent.intent.protocol import IntentTracker, TrackerCall, TrackResult, target_phrase
from agent.intent.rules import RuleIntentTracker

__all__ = [
    "TRACKERS",
    "IntentTracker",
    "IntentUpdate",
    "LLMIntentTracker",
    "RuleIntentTracker",
    "TrackResult",
    "TrackerCall",
    "build_tracker",
    "build_trackers",
    "ground_from_answer",
    "target_phrase",
]
