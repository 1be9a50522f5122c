"""Lets the tests import ``pixelrs_measure`` from this folder without installing it first."""
