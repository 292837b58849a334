"""schemathesis hooks (SCHEMATHESIS_HOOKS) for tests/server/test_e2e.py.

An ``application/octet-stream`` body of ``/process-numbers`` is little-endian int64 values: its
length is a multiple of 8, which a JSON schema (``format: binary``) cannot say. Valid bodies are
generated as such; other lengths are the API's documented 422.
"""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.media_type(
    "application/octet-stream",
    st.binary(max_size=4096).map(lambda raw: raw[: len(raw) // 8 * 8]),
)
