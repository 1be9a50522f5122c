"""Shared machinery of the MIRAS and LISA backends: model, loader, predictor, backend base."""
