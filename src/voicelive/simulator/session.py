"""The simulated session object: defaults per API version, ``session.update`` validation, merge.

Pure: no I/O, no asyncio. :func:`apply_update` either returns the new effective session or
raises :class:`SessionError` naming the offending ``param`` (``session.turn_detection.threshold``
style), in which case nothing changes — as the service rejects a bad update whole.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from typing import Any

from . import schema
from .constants import API_VERSIONS, has_expires_at, uses_legacy_eou
from .schema import SessionError
from .wire import JsonDict

__all__ = [
    "SessionError",
    "apply_update",
    "client_echo_reference",
    "default_session",
    "parse_features",
    "vad_settings",
]

logger = logging.getLogger(__name__)

_NEW_PADDING_FROM = "2026-04-10"  # prefix_padding_ms default rises 300 → 400/420 from here
SESSION_LIFETIME_S = 30 * 60
_REALTIME_VOICE_MODELS = ("gpt-realtime", "gpt-4o-realtime", "gpt-4o-mini-realtime")
_AZURE_SEMANTIC = ("azure_semantic_vad", "azure_semantic_vad_multilingual", "azure_semantic_vad_en")


def _version_key(api_version: str) -> str:
    return api_version.removesuffix("-preview")


def turn_detection_defaults(vad_type: str, api_version: str) -> JsonDict:
    """The effective ``turn_detection`` object for a type before any client override."""
    new = _version_key(api_version) >= _NEW_PADDING_FROM
    if vad_type == "semantic_vad":
        return {
            "type": vad_type,
            "eagerness": "auto",
            "create_response": True,
            "interrupt_response": True,
            "auto_truncate": False,
        }
    azure = vad_type in _AZURE_SEMANTIC
    base: JsonDict = {
        "type": vad_type,
        "threshold": 0.5,
        "prefix_padding_ms": (420 if azure else 400) if new else 300,
        "silence_duration_ms": 500,
        "create_response": True,
        "interrupt_response": True,
        "auto_truncate": False,
    }
    if azure:
        # The docs give server_vad a speech_duration_ms (200) too, but the SDK's ServerVad model
        # lacks it; it is accepted on input and only echoed when the client set it.
        base["speech_duration_ms"] = 80
        base["remove_filler_words"] = False
    return base


def default_session(
    session_id: str,
    api_version: str,
    model: str | None,
    agent: JsonDict | None = None,
    expires_at: int | None = None,
) -> JsonDict:
    """The full session object sent in ``session.created``.

    ``agent`` (``{type: "agent", name, agent_id, thread_id}``) marks an agent session: it is
    shown as ``session.agent``, and such a session refuses ``instructions`` in updates.
    ``expires_at`` (Unix seconds) is shown on the API versions that have it; by default it is
    :data:`SESSION_LIFETIME_S` from now.
    """
    realtime_voice = model is not None and model.startswith(_REALTIME_VOICE_MODELS)
    voice: JsonDict = (
        {"type": "openai", "name": "alloy"}
        if realtime_voice
        else {"type": "azure-standard", "name": "en-US-Ava:DragonHDLatestNeural"}
    )
    session: JsonDict = {
        "id": session_id,
        "object": "realtime.session",
        "model": model,
        "modalities": ["text", "audio"],
        "instructions": "",
        "voice": voice,
        "input_audio_format": "pcm16",
        "input_audio_sampling_rate": 24000,
        "output_audio_format": "pcm16",
        "input_audio_noise_reduction": None,
        "input_audio_echo_cancellation": None,
        "input_audio_transcription": None,
        "turn_detection": turn_detection_defaults("server_vad", api_version),
        "tools": [],
        "tool_choice": "auto",
        "temperature": 0.8,
        "max_response_output_tokens": "inf",
    }
    if agent is not None:
        session["agent"] = agent
    if has_expires_at(api_version):
        # Unix seconds; only the 2026-07-15 API carries it.
        if expires_at is None:
            expires_at = math.ceil(time.time() + SESSION_LIFETIME_S)
        session["expires_at"] = expires_at
    return session


def apply_update(
    current: JsonDict,
    update: Any,
    api_version: str,
    *,
    features: dict[str, str] | None = None,
    audio_started: bool = False,
) -> JsonDict:
    """Validate a ``session.update``'s ``session`` and return the merged effective session.

    Top-level fields are replaced; nested objects (``turn_detection``, ``voice``…) are replaced
    whole, then ``turn_detection`` gets the defaults of its type filled in. ``null`` disables
    the optional features. ``features``: the handshake's ``features`` flags
    (:func:`parse_features`); ``audio_started``: input audio was appended already (the input
    channel count is then fixed). Raises :class:`SessionError`.
    """
    if not isinstance(update, dict):
        raise SessionError("invalid_type", "session must be an object", "session")
    if "instructions" in update and current.get("agent") is not None:
        # protocol notes §4.1: instructions are not allowed with agent sessions (the agent has
        # its own). The service's exact code is not documented; this is its usual shape.
        raise SessionError(
            "invalid_value",
            "Invalid value for 'session.instructions': instructions cannot be set in an agent "
            "session; the agent's own instructions apply.",
            "session.instructions",
        )
    legacy_eou = uses_legacy_eou(api_version)
    for key, value in update.items():
        schema.check_session_field(key, value, legacy_eou=legacy_eou, current=current)
    td_update = update.get("turn_detection")
    if isinstance(td_update, dict):
        for key in sorted(schema.TOLERATED_TD_FIELDS & set(td_update)):
            logger.info("session.update: accepted turn_detection.%s (not modelled)", key)
    merged = copy.deepcopy(current)
    for key, value in update.items():
        merged[key] = copy.deepcopy(value)
    td = merged.get("turn_detection")
    if isinstance(td, dict) and "turn_detection" in update:
        merged["turn_detection"] = {**turn_detection_defaults(td["type"], api_version), **td}
    fmt = merged.get("input_audio_format")
    if fmt in ("g711_ulaw", "g711_alaw"):
        merged["input_audio_sampling_rate"] = 8000
    elif (
        "input_audio_sampling_rate" not in update
        and current.get("input_audio_format") in ("g711_ulaw", "g711_alaw")
        and merged.get("input_audio_sampling_rate") == 8000
    ):
        # Leaving G.711 without naming a rate: back to the pcm16 default.
        merged["input_audio_sampling_rate"] = 24000
    _check_echo_cancellation(merged, current, api_version, features or {}, audio_started)
    return merged


# --- client echo reference (protocol notes §1.2, §4.1; Microsoft's live-reference-aec sample) ---

CLIENT_EC_FEATURE = "client_ec_reference"
"""The handshake flag a client reference needs: ``features=client_ec_reference:true``."""
_FIRST_CLIENT_EC_VERSION = "2026-06-01-preview"
_EC = "session.input_audio_echo_cancellation"


def parse_features(value: str | None) -> dict[str, str]:
    """The handshake's ``features`` parameter (``name:value,name:value``) as a dict."""
    found: dict[str, str] = {}
    for item in (value or "").split(","):
        name, _, setting = item.strip().partition(":")
        if name.strip():
            found[name.strip()] = setting.strip().lower()
    return found


def input_channels(session: JsonDict) -> int:
    """Channels of the input audio: 2 with a client echo reference, else 1."""
    ec = session.get("input_audio_echo_cancellation")
    channels = ec.get("channels", 1) if isinstance(ec, dict) else 1
    return channels if channels in (1, 2) and not isinstance(channels, bool) else 1


def client_echo_reference(session: JsonDict) -> bool:
    """True when the input is stereo: microphone on channel 0, the client's reference on 1."""
    ec = session.get("input_audio_echo_cancellation")
    return (
        isinstance(ec, dict)
        and ec.get("reference_source") == "client"
        and input_channels(session) == 2
    )


def _check_echo_cancellation(
    merged: JsonDict,
    current: JsonDict,
    api_version: str,
    features: dict[str, str],
    audio_started: bool,
) -> None:
    """The rules of the client reference. Codes from the 2026-07-15 reference and Microsoft's
    sample; where the service's code is not documented (an old API version, the missing
    ``features`` flag) the simulator answers ``unknown_parameter``/``invalid_value``."""
    ec = merged.get("input_audio_echo_cancellation")
    if isinstance(ec, dict):
        fields = [name for name in ("reference_source", "channels") if name in ec]
        old = API_VERSIONS.index(api_version) < API_VERSIONS.index(_FIRST_CLIENT_EC_VERSION)
        if fields and old and _server_defaults(ec):
            # Microsoft's live suite sends these defaults on 2025-10-01 and the service takes
            # them; they change nothing (the service's own canceller, mono input).
            logger.info("session.update: accepted %s %s on %s", _EC, fields, api_version)
        elif fields and old:
            raise SessionError(
                "unknown_parameter",
                f"Unknown parameter: '{_EC}.{fields[0]}'.",
                f"{_EC}.{fields[0]}",
            )
        source = ec.get("reference_source", "server")
        channels = ec.get("channels", 1)
        if source not in ("server", "client"):
            raise SessionError(
                "invalid_value",
                f"Invalid value for '{_EC}.reference_source': expected 'server' or 'client'.",
                f"{_EC}.reference_source",
            )
        if isinstance(channels, bool) or channels not in (1, 2):
            raise SessionError(
                "invalid_ec_reference_channels",
                f"Invalid value for '{_EC}.channels': {channels!r}; supported: 1, 2.",
                f"{_EC}.channels",
            )
        if channels == 2 and source != "client":
            raise SessionError(
                "invalid_ec_channels_requires_client",
                "Stereo input (channels: 2) is only valid with reference_source 'client'.",
                f"{_EC}.channels",
            )
        if source == "client" and channels != 2:
            raise SessionError(
                "invalid_ec_reference_channels",
                "A client echo reference requires stereo input (channels: 2): the microphone "
                "on channel 0, the reference on channel 1.",
                f"{_EC}.channels",
            )
        if source == "client" and features.get(CLIENT_EC_FEATURE) != "true":
            raise SessionError(
                "invalid_value",
                "reference_source 'client' needs the preview feature flag: connect with "
                f"features={CLIENT_EC_FEATURE}:true.",
                f"{_EC}.reference_source",
            )
        if channels == 2 and merged.get("input_audio_format", "pcm16") != "pcm16":
            raise SessionError(
                "invalid_ec_channels_format",
                "Stereo input with a client echo reference supports pcm16 only.",
                "session.input_audio_format",
            )
    if audio_started and input_channels(merged) != input_channels(current):
        raise SessionError(
            "change_in_ec_channels_not_allowed",
            "The input channel count cannot change once audio has been sent.",
            f"{_EC}.channels",
        )


def _server_defaults(ec: JsonDict) -> bool:
    """The echo cancellation fields say only what is the default anyway (server, mono)."""
    channels = ec.get("channels", 1)
    return ec.get("reference_source", "server") == "server" and (
        channels == 1 and not isinstance(channels, bool)
    )


# eagerness → silence needed to end a turn (approximation of semantic end-of-turn detection)
_EAGERNESS_SILENCE_MS = {"low": 900, "medium": 500, "auto": 500, "high": 250}


def vad_settings(turn_detection: JsonDict) -> tuple[float, int, int, int]:
    """(threshold, prefix_padding_ms, silence_duration_ms, speech_duration_ms) for the detector.

    Every VAD type is approximated by the same energy detector; ``semantic_vad`` maps its
    ``eagerness`` to a silence duration.
    """
    if turn_detection.get("type") == "semantic_vad":
        eagerness = str(turn_detection.get("eagerness", "auto"))
        return 0.5, 300, _EAGERNESS_SILENCE_MS.get(eagerness, 500), 200
    return (
        float(turn_detection.get("threshold", 0.5)),
        int(turn_detection.get("prefix_padding_ms", 300)),
        int(turn_detection.get("silence_duration_ms", 500)),
        int(turn_detection.get("speech_duration_ms", 200)),
    )
