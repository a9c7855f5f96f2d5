"""The ``session`` object of ``session.update``, built from :class:`SessionSettings`.

Pure: no I/O, no clock, no logging; safe from any thread. The caller wraps the result as
``{"type": "session.update", "session": build_session(...)}`` (protocol.md §2.1, §4).

Rules the payload follows (protocol.md §4):

* The audio formats are always stated explicitly (PCM16 mono at 24 kHz both ways) so the
  client never depends on a service default it cannot see.
* Features that are off are sent as JSON ``null``: on ``session.update`` that disables them
  (``turn_detection``, noise reduction, echo cancellation, transcription).
* ``turn_detection`` carries only the fields that its ``type`` accepts (§4.3): ``eagerness``
  only for ``semantic_vad``; ``remove_filler_words`` only for the Azure semantic VADs;
  ``end_of_utterance_detection`` for ``server_vad`` and the Azure semantic VADs. Fields left
  ``None`` in the settings are omitted so the service default applies.
* End-of-utterance detection is spelled per API version (§4.4): ``threshold_level`` and
  ``timeout_ms`` on GA and later previews; ``threshold`` (float) and ``timeout`` (seconds) on
  2025-05-01-preview.
* Echo cancellation with a client-supplied reference (§4.1, 2026-06-01-preview and later) is
  ``{"type": "server_echo_cancellation", "reference_source": "client", "channels": 2}``: the
  input audio is then stereo (microphone, reference). The handshake must also carry
  ``features=client_ec_reference:true`` (``ConnectionSettings.features``).
* Agent sessions (Foundry Agent Service) take no ``instructions`` (§4.1); the configuration
  refuses them, so the payload is the same builder's.

Settings are expected to be validated already (``voicelive.config`` does that); the builder
raises ``ValueError`` only for combinations it cannot express at all.
"""

from __future__ import annotations

from typing import Any, Final

from voicelive.config.settings import (
    SessionSettings,
    TurnDetectionSettings,
    uses_legacy_eou_fields,
)
from voicelive.protocol.pcm import SAMPLE_RATE

OPENAI_VOICES: Final = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"}
)
"""Voice names of the OpenAI family (gpt-realtime models only)."""

VOICE_TYPES: Final = ("azure-standard", "azure-custom", "azure-personal", "openai")

VAD_TYPES: Final = (
    "server_vad",
    "azure_semantic_vad",
    "azure_semantic_vad_multilingual",
    "semantic_vad",
)
AZURE_SEMANTIC_VADS: Final = frozenset({"azure_semantic_vad", "azure_semantic_vad_multilingual"})
EOU_VADS: Final = frozenset({"server_vad", *AZURE_SEMANTIC_VADS})
"""VAD types that accept ``end_of_utterance_detection``."""
THRESHOLD_VADS: Final = EOU_VADS
"""VAD types with ``threshold``/``prefix_padding_ms``/``silence_duration_ms`` (not semantic_vad)."""

# auto_truncate is documented from 2026-01-01-preview and modelled in the GA 2025-10-01 SDK; the
# first preview never had it, so the field is left out there rather than risking a rejection.
_NO_AUTO_TRUNCATE_VERSIONS: Final = frozenset({"2025-05-01-preview"})


def supports_auto_truncate(api_version: str) -> bool:
    """True when ``turn_detection.auto_truncate`` exists in ``api_version``."""
    return api_version not in _NO_AUTO_TRUNCATE_VERSIONS


ECHO_REFERENCE_FROM: Final = "2026-06-01-preview"
"""The first API version with a client-supplied echo reference (protocol.md §1.3, §4.1)."""


def supports_echo_reference(api_version: str) -> bool:
    """True when ``api_version`` takes ``reference_source: client`` with ``channels: 2``."""
    return api_version.removesuffix("-preview") >= ECHO_REFERENCE_FROM.removesuffix("-preview")


def infer_voice_type(name: str) -> str | None:
    """Guess the voice ``type`` from its name, or None when the name is ambiguous.

    Azure neural voices look like ``en-US-AvaNeural`` or ``en-US-Ava:DragonHDLatestNeural``
    (a hyphen and ``Neural``); OpenAI voices are the fixed lower-case names in
    :data:`OPENAI_VOICES`. Custom and personal voices cannot be recognised by name.
    """
    if name.lower() in OPENAI_VOICES:
        return "openai"
    if "-" in name and "Neural" in name:
        return "azure-standard"
    return None


def build_session(session: SessionSettings, api_version: str) -> dict[str, Any]:
    """Return the ``session`` object for ``session.update``.

    Raises ``ValueError`` when a voice is set without a type that can be inferred, when
    a legacy (2025-05-01-preview) EOU threshold is not a number, or when an echo reference is
    asked for without echo cancellation or on an API version that lacks it.
    """
    payload: dict[str, Any] = {
        "modalities": list(session.modalities),
        "input_audio_format": "pcm16",
        "input_audio_sampling_rate": SAMPLE_RATE,
        "output_audio_format": "pcm16",
    }
    if session.instructions is not None:
        payload["instructions"] = session.instructions
    if session.voice is not None:
        payload["voice"] = _voice(session)
    payload["turn_detection"] = _turn_detection(session.turn_detection, api_version)
    payload["input_audio_noise_reduction"] = (
        {"type": session.noise_reduction} if session.noise_reduction else None
    )
    payload["input_audio_echo_cancellation"] = _echo_cancellation(session, api_version)
    payload["input_audio_transcription"] = _transcription(session)
    return payload


def _echo_cancellation(session: SessionSettings, api_version: str) -> dict[str, Any] | None:
    if not session.echo_cancellation:
        if session.echo_reference:
            raise ValueError("an echo reference needs echo cancellation")
        return None
    result: dict[str, Any] = {"type": "server_echo_cancellation"}
    if session.echo_reference:
        if not supports_echo_reference(api_version):
            raise ValueError(f"no client echo reference on {api_version}")
        result["reference_source"] = "client"
        result["channels"] = 2  # interleaved: channel 0 the microphone, 1 the reference
    return result


def _voice(session: SessionSettings) -> dict[str, Any]:
    name = session.voice
    assert name is not None  # checked by the caller
    voice_type = session.voice_type or infer_voice_type(name)
    if voice_type is None:
        raise ValueError(f"cannot tell the type of voice {name!r}; set voice_type")
    if voice_type == "openai":
        # OpenAI voices take no further options; the names are lower case on the wire.
        return {"type": "openai", "name": name.lower()}
    voice: dict[str, Any] = {"type": voice_type, "name": name}
    if session.voice_temperature is not None:
        voice["temperature"] = session.voice_temperature
    if voice_type == "azure-custom" and session.voice_endpoint_id is not None:
        voice["endpoint_id"] = session.voice_endpoint_id
    if voice_type == "azure-personal" and session.voice_model is not None:
        voice["model"] = session.voice_model
    return voice


def _turn_detection(td: TurnDetectionSettings, api_version: str) -> dict[str, Any] | None:
    vad = td.vad_type
    if vad is None or vad == "none":
        return None  # manual commit: the client decides when a turn ends
    result: dict[str, Any] = {"type": vad}
    if vad in THRESHOLD_VADS:
        _put(result, "threshold", td.threshold)
        _put(result, "prefix_padding_ms", td.prefix_padding_ms)
        _put(result, "silence_duration_ms", td.silence_duration_ms)
    if vad == "semantic_vad":
        _put(result, "eagerness", td.eagerness)
    if vad in AZURE_SEMANTIC_VADS:
        _put(result, "remove_filler_words", td.remove_filler_words)
    if vad in EOU_VADS:
        eou = _end_of_utterance(td, api_version)
        if eou is not None:
            result["end_of_utterance_detection"] = eou
    result["create_response"] = True
    result["interrupt_response"] = td.interrupt_response
    if td.auto_truncate and supports_auto_truncate(api_version):
        # only when asked for: off is the service default, and older versions may not know it
        result["auto_truncate"] = True
    return result


def _end_of_utterance(td: TurnDetectionSettings, api_version: str) -> dict[str, Any] | None:
    if td.eou_model is None or td.eou_model == "none":
        return None
    eou: dict[str, Any] = {"model": td.eou_model}
    if uses_legacy_eou_fields(api_version):
        if td.eou_threshold is not None:
            try:
                eou["threshold"] = float(td.eou_threshold)
            except ValueError:
                raise ValueError(
                    f"EOU threshold must be a number on {api_version}, got {td.eou_threshold!r}"
                ) from None
        if td.eou_timeout_ms is not None:
            eou["timeout"] = td.eou_timeout_ms / 1000
    else:
        _put(eou, "threshold_level", td.eou_threshold)
        _put(eou, "timeout_ms", td.eou_timeout_ms)
    return eou


def _transcription(session: SessionSettings) -> dict[str, Any] | None:
    model = session.transcription_model
    if model is None or model == "none":
        return None
    result: dict[str, Any] = {"model": model}
    _put(result, "language", session.language)
    return result


def _put(target: dict[str, Any], key: str, value: object) -> None:
    """Set ``key`` only when a value was configured, so the service default applies otherwise."""
    if value is not None:
        target[key] = value
