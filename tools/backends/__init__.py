"""Model backends: ``lite`` (CPU default, no downloaded weights), ``miras`` and ``lisa``."""
