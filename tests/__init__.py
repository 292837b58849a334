"""Tests of gilfree, mirroring src/gilfree."""
