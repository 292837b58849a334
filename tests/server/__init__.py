"""Tests of gilfree.server."""
