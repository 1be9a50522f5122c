"""Lets the tests import ``pixelrs_zoom`` from this folder without installing it first."""
