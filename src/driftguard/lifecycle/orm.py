"""Tables of the model-risk lifecycle."""

from __future__ import annotations
