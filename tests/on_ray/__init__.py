"""Tests of gilfree.ray on a local Ray cluster (the ray extra; skipped without it)."""
