"""The ``session.update`` payload: fixed audio fields, voice objects, VAD fields per type, and
end-of-utterance spelling per API version."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from voicelive.config.resolve import resolve_settings
from voicelive.config.settings import KNOWN_API_VERSIONS, SessionSettings, TurnDetectionSettings
from voicelive.protocol.session_payload import (
    build_session,
    infer_voice_type,
    supports_auto_truncate,
    supports_echo_reference,
)

GA_AND_NEWER = [v for v in KNOWN_API_VERSIONS if v != "2025-05-01-preview"]
LEGACY = "2025-05-01-preview"


def td(**kwargs: Any) -> SessionSettings:
    return SessionSettings(turn_detection=TurnDetectionSettings(**kwargs))


@pytest.mark.parametrize("api_version", KNOWN_API_VERSIONS)
def test_audio_format_fields_are_always_explicit(api_version: str) -> None:
    payload = build_session(SessionSettings(), api_version)
    assert payload["modalities"] == ["text", "audio"]
    assert payload["input_audio_format"] == "pcm16"
    assert payload["input_audio_sampling_rate"] == 24000
    assert payload["output_audio_format"] == "pcm16"
    json.dumps(payload)  # serialisable as is


def test_defaults_enable_server_vad_noise_suppression_echo_cancellation_transcription() -> None:
    payload = build_session(SessionSettings(), "2026-07-15")
    assert payload["turn_detection"] == {
        "type": "server_vad",
        "create_response": True,
        "interrupt_response": True,
    }
    assert payload["input_audio_noise_reduction"] == {"type": "azure_deep_noise_suppression"}
    assert payload["input_audio_echo_cancellation"] == {"type": "server_echo_cancellation"}
    assert payload["input_audio_transcription"] == {"model": "azure-speech"}
    assert "voice" not in payload
    assert "instructions" not in payload


def test_disabled_features_are_sent_as_null() -> None:
    session = SessionSettings(
        transcription_model=None,
        noise_reduction=None,
        echo_cancellation=False,
        turn_detection=TurnDetectionSettings(vad_type=None),
        modalities=("text",),
    )
    payload = build_session(session, "2026-07-15")
    for key in (
        "turn_detection",
        "input_audio_noise_reduction",
        "input_audio_echo_cancellation",
        "input_audio_transcription",
    ):
        assert key in payload
        assert payload[key] is None
    assert payload["modalities"] == ["text"]


@pytest.mark.parametrize(
    ("voice", "voice_type", "extra", "expected"),
    [
        ("alloy", None, {}, {"type": "openai", "name": "alloy"}),
        ("Cedar", "openai", {}, {"type": "openai", "name": "cedar"}),
        (
            "en-US-Ava:DragonHDLatestNeural",
            None,
            {"voice_temperature": 0.8},
            {
                "type": "azure-standard",
                "name": "en-US-Ava:DragonHDLatestNeural",
                "temperature": 0.8,
            },
        ),
        ("en-US-AvaNeural", None, {}, {"type": "azure-standard", "name": "en-US-AvaNeural"}),
        (
            "MyBrandVoice",
            "azure-custom",
            {"voice_endpoint_id": "ep-1", "voice_model": "ignored"},
            {"type": "azure-custom", "name": "MyBrandVoice", "endpoint_id": "ep-1"},
        ),
        (
            "speaker-profile-1",
            "azure-personal",
            {"voice_model": "DragonLatestNeural", "voice_temperature": 0.5},
            {
                "type": "azure-personal",
                "name": "speaker-profile-1",
                "model": "DragonLatestNeural",
                "temperature": 0.5,
            },
        ),
    ],
)
def test_voice_object_by_type(
    voice: str, voice_type: str | None, extra: dict[str, Any], expected: dict[str, Any]
) -> None:
    session = SessionSettings(voice=voice, voice_type=voice_type, **extra)
    assert build_session(session, "2026-07-15")["voice"] == expected


def test_voice_of_unknown_type_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Zeus"):
        build_session(SessionSettings(voice="Zeus"), "2026-07-15")


def test_infer_voice_type() -> None:
    assert infer_voice_type("echo") == "openai"
    assert infer_voice_type("de-DE-SeraphinaMultilingualNeural") == "azure-standard"
    assert infer_voice_type("Neural") is None  # no locale hyphen
    assert infer_voice_type("my-voice") is None  # no Neural


ALL_KNOBS = TurnDetectionSettings(
    threshold=0.4,
    eagerness="high",
    prefix_padding_ms=200,
    silence_duration_ms=700,
    remove_filler_words=True,
    eou_model="semantic_detection_v1",
    eou_threshold="low",
    eou_timeout_ms=900,
    interrupt_response=False,
    auto_truncate=True,
)


@pytest.mark.parametrize(
    ("vad", "expected"),
    [
        (
            "server_vad",
            {
                "type": "server_vad",
                "threshold": 0.4,
                "prefix_padding_ms": 200,
                "silence_duration_ms": 700,
                "end_of_utterance_detection": {
                    "model": "semantic_detection_v1",
                    "threshold_level": "low",
                    "timeout_ms": 900,
                },
                "create_response": True,
                "interrupt_response": False,
                "auto_truncate": True,
            },
        ),
        (
            "azure_semantic_vad",
            {
                "type": "azure_semantic_vad",
                "threshold": 0.4,
                "prefix_padding_ms": 200,
                "silence_duration_ms": 700,
                "remove_filler_words": True,
                "end_of_utterance_detection": {
                    "model": "semantic_detection_v1",
                    "threshold_level": "low",
                    "timeout_ms": 900,
                },
                "create_response": True,
                "interrupt_response": False,
                "auto_truncate": True,
            },
        ),
        (
            "semantic_vad",
            {
                "type": "semantic_vad",
                "eagerness": "high",
                "create_response": True,
                "interrupt_response": False,
                "auto_truncate": True,
            },
        ),
    ],
)
def test_turn_detection_carries_only_the_fields_of_its_type(
    vad: str, expected: dict[str, Any]
) -> None:
    session = SessionSettings(turn_detection=replace(ALL_KNOBS, vad_type=vad))
    assert build_session(session, "2026-07-15")["turn_detection"] == expected


def test_multilingual_semantic_vad_takes_filler_words_too() -> None:
    session = SessionSettings(
        turn_detection=replace(ALL_KNOBS, vad_type="azure_semantic_vad_multilingual")
    )
    turn = build_session(session, "2025-10-01")["turn_detection"]
    assert turn["remove_filler_words"] is True
    assert "eagerness" not in turn


@pytest.mark.parametrize("api_version", GA_AND_NEWER)
def test_eou_uses_threshold_level_and_timeout_ms_on_ga_and_later(api_version: str) -> None:
    session = td(
        vad_type="azure_semantic_vad",
        eou_model="semantic_detection_v1_multilingual",
        eou_threshold="default",
        eou_timeout_ms=1200,
    )
    eou = build_session(session, api_version)["turn_detection"]["end_of_utterance_detection"]
    assert eou == {
        "model": "semantic_detection_v1_multilingual",
        "threshold_level": "default",
        "timeout_ms": 1200,
    }


def test_eou_uses_threshold_and_timeout_seconds_on_2025_05_01_preview() -> None:
    session = td(
        vad_type="azure_semantic_vad",
        eou_model="semantic_detection_v1",
        eou_threshold="0.01",
        eou_timeout_ms=2500,
    )
    turn = build_session(session, LEGACY)["turn_detection"]
    assert turn["end_of_utterance_detection"] == {
        "model": "semantic_detection_v1",
        "threshold": 0.01,
        "timeout": 2.5,
    }
    # the first preview has no auto_truncate field at all
    assert "auto_truncate" not in turn
    assert not supports_auto_truncate(LEGACY)


def test_legacy_eou_threshold_that_is_not_a_number_is_a_value_error() -> None:
    session = td(eou_model="semantic_detection_v1", eou_threshold="high")
    with pytest.raises(ValueError, match="high"):
        build_session(session, LEGACY)


@pytest.mark.parametrize("api_version", KNOWN_API_VERSIONS)
def test_eou_model_alone_or_none(api_version: str) -> None:
    alone = build_session(td(eou_model="semantic_detection_v1"), api_version)
    assert alone["turn_detection"]["end_of_utterance_detection"] == {
        "model": "semantic_detection_v1"
    }
    for model in (None, "none"):
        payload = build_session(td(eou_model=model, eou_threshold="high"), api_version)
        assert "end_of_utterance_detection" not in payload["turn_detection"]


def test_transcription_language_and_instructions() -> None:
    session = SessionSettings(
        instructions="Answer in one sentence.",
        transcription_model="gpt-4o-transcribe",
        language="en-US",
    )
    payload = build_session(session, "2026-07-15")
    assert payload["instructions"] == "Answer in one sentence."
    assert payload["input_audio_transcription"] == {
        "model": "gpt-4o-transcribe",
        "language": "en-US",
    }


@pytest.mark.parametrize(
    ("api_version", "eou_threshold", "eou_key", "eou_value", "timeout_key", "timeout_value"),
    [
        ("2025-05-01-preview", "0.3", "threshold", 0.3, "timeout", 2.0),
        ("2025-10-01", "high", "threshold_level", "high", "timeout_ms", 2000),
        ("2026-07-15", "medium", "threshold_level", "medium", "timeout_ms", 2000),
    ],
)
def test_flags_to_payload_end_to_end(
    api_version: str,
    eou_threshold: str,
    eou_key: str,
    eou_value: object,
    timeout_key: str,
    timeout_value: object,
) -> None:
    """From raw flag values through config to the wire, per API version."""
    flags = {
        "endpoint": "https://res.services.ai.azure.com",
        "api_version": api_version,
        "voice": "en-US-Ava:DragonHDLatestNeural",
        "voice_temperature": "0.8",
        "vad": "azure_semantic_vad",
        "vad_threshold": "0.5",
        "remove_filler_words": True,
        "eou_model": "semantic_detection_v1",
        "eou_threshold": eou_threshold,
        "eou_timeout_ms": "2000",
        "noise_reduction": "far_field",
        "echo_cancellation": False,
        "language": "en-US",
    }
    settings = resolve_settings(flags, environ={}, dotenv_path=None)
    payload = build_session(settings.session, settings.connection.api_version)
    eou = payload["turn_detection"]["end_of_utterance_detection"]
    assert eou == {"model": "semantic_detection_v1", eou_key: eou_value, timeout_key: timeout_value}
    assert payload["turn_detection"]["remove_filler_words"] is True
    assert payload["voice"] == {
        "type": "azure-standard",
        "name": "en-US-Ava:DragonHDLatestNeural",
        "temperature": 0.8,
    }
    assert payload["input_audio_noise_reduction"] == {"type": "far_field"}
    assert payload["input_audio_echo_cancellation"] is None
    assert payload["input_audio_transcription"] == {"model": "azure-speech", "language": "en-US"}


# --- echo reference and agent sessions ---------------------------------------------------------

ECHO_REFERENCE_VERSIONS = ("2026-06-01-preview", "2026-07-15")


@pytest.mark.parametrize("api_version", ECHO_REFERENCE_VERSIONS)
def test_echo_reference_asks_for_the_client_reference_in_stereo(api_version: str) -> None:
    assert supports_echo_reference(api_version)
    payload = build_session(SessionSettings(echo_reference=True), api_version)
    assert payload["input_audio_echo_cancellation"] == {
        "type": "server_echo_cancellation",
        "reference_source": "client",
        "channels": 2,
    }
    assert payload["input_audio_format"] == "pcm16"  # channels 2 needs pcm16 (§4.1)
    without = build_session(SessionSettings(), api_version)["input_audio_echo_cancellation"]
    assert without == {"type": "server_echo_cancellation"}


@pytest.mark.parametrize(
    "api_version", [v for v in KNOWN_API_VERSIONS if v not in ECHO_REFERENCE_VERSIONS]
)
def test_echo_reference_is_not_expressible_before_2026_06_01_preview(api_version: str) -> None:
    assert not supports_echo_reference(api_version)
    with pytest.raises(ValueError, match="echo reference"):
        build_session(SessionSettings(echo_reference=True), api_version)


def test_echo_reference_without_echo_cancellation_is_not_expressible() -> None:
    with pytest.raises(ValueError, match="needs echo cancellation"):
        build_session(SessionSettings(echo_reference=True, echo_cancellation=False), "2026-07-15")


def test_flags_to_payload_with_the_echo_reference() -> None:
    settings = resolve_settings(
        {"simulate": True, "echo_reference": True, "api_version": "2026-06-01-preview"},
        environ={},
    )
    payload = build_session(settings.session, settings.connection.api_version)
    assert payload["input_audio_echo_cancellation"]["reference_source"] == "client"
    assert settings.connection.features == ("client_ec_reference:true",)


def test_an_agent_session_update_carries_no_instructions() -> None:
    flags = {"simulate": True, "agent": "planner", "agent_project": "contoso", "voice": "alloy"}
    settings = resolve_settings(flags, environ={"VOICELIVE_GREET": "1"})
    payload = build_session(settings.session, settings.connection.api_version)
    assert "instructions" not in payload
    assert payload["voice"] == {"type": "openai", "name": "alloy"}
    assert payload["input_audio_transcription"] == {"model": "azure-speech"}  # §4.5 agents
