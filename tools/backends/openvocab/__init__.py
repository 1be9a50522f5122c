"""The ``openvocab`` backend: OWLv2 / Grounding DINO detections of any noun phrase, SAM masks, lite's cues and answers."""

from tools.backends.openvocab.backend import OpenVocabBackend

__all__ = ["OpenVocabBackend"]
