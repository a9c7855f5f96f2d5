"""The simulator's own protocol tables, written from the shared protocol notes (§1.3, §4.4, §4.7).

The simulator is an independent oracle: it must not take these from the client
(``voicelive.settings`` and friends), or a client mistake would be mirrored here and no test
would notice. ``tests/test_simulator_independence.py`` enforces that. Pure data, no imports.
"""

from __future__ import annotations

API_VERSIONS: tuple[str, ...] = (
    "2025-05-01-preview",
    "2025-10-01",
    "2026-01-01-preview",
    "2026-04-10",
    "2026-06-01-preview",
    "2026-07-15",
)
"""Every ``api-version`` the handshake accepts (protocol notes §1.3), oldest first."""

LEGACY_EOU_API_VERSIONS = frozenset({"2025-05-01-preview"})
"""Versions whose ``end_of_utterance_detection`` uses the preview spellings ``threshold`` and
``timeout`` (seconds) instead of ``threshold_level`` and ``timeout_ms`` (protocol notes §4.4)."""

EXPIRES_AT_API_VERSIONS = frozenset({"2026-07-15"})
"""Versions whose session object carries ``expires_at`` (Unix seconds; protocol notes §1.3)."""

SAMPLE_RATE = 24_000
"""Internal (and default wire) audio: PCM16 mono little-endian at 24 kHz (protocol notes §4.7)."""
BYTES_PER_SAMPLE = 2
BYTES_PER_MS = SAMPLE_RATE * BYTES_PER_SAMPLE // 1000  # 48


def uses_legacy_eou(api_version: str) -> bool:
    """True when ``api_version`` spells EOU fields the 2025-05-01-preview way."""
    return api_version in LEGACY_EOU_API_VERSIONS


def has_expires_at(api_version: str) -> bool:
    """True when ``session.created`` carries ``session.expires_at`` on ``api_version``."""
    return api_version in EXPIRES_AT_API_VERSIONS
