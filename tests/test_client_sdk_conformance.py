"""Every client event voicelive sends, checked against the official SDK's request models.

The reference is ``azure-ai-voicelive`` (test-only; the product never imports it). Each event
must deserialize into the SDK class for its type (not the generic fallback), and no field we
send may be unknown to the SDK model at any depth: that catches typos such as ``threshold``
where the GA API spells ``threshold_level``. Where the SDK and the documentation disagree, the
documentation for the chosen API version wins, and the exception is listed here with why.

The parser side: every server event type the SDK knows must be in the client's handled or
ignored table, so a new service feature makes this test fail and gets noticed.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from voicelive.config.resolve import resolve_settings
from voicelive.config.settings import KNOWN_API_VERSIONS, AgentSettings
from voicelive.connection.client import build_url
from voicelive.errors import ConfigError
from voicelive.protocol import client_events as ce
from voicelive.protocol import server_events as ev
from voicelive.protocol.session_payload import build_session

models = pytest.importorskip(
    "azure.ai.voicelive.models", reason="azure-ai-voicelive (test-only dependency) is not installed"
)
from tests.sdk_models import walk_model  # noqa: E402

# (SDK model, field) pairs we send that the SDK does not model, with the reason.
DOCUMENTED_EXTRAS = {
    # Protocol notes §4.4: 2025-05-01-preview spells end-of-utterance ``threshold`` (0-1) and
    # ``timeout`` (seconds); SDK 1.0.0b5 removed them in favour of the GA names. We send the
    # preview names only with that API version.
    ("EouDetection", "threshold"),
    ("EouDetection", "timeout"),
    ("AzureSemanticDetection", "threshold"),
    ("AzureSemanticDetection", "timeout"),
    ("AzureSemanticDetectionEn", "threshold"),
    ("AzureSemanticDetectionEn", "timeout"),
    ("AzureSemanticDetectionMultilingual", "threshold"),
    ("AzureSemanticDetectionMultilingual", "timeout"),
}

# turn_detection types the SDK does not model: OpenAI's semantic_vad (protocol notes §4.3,
# gpt-realtime models only). Its fields are checked against the documented list instead.
SEMANTIC_VAD_FIELDS = {
    "type",
    "eagerness",
    "create_response",
    "interrupt_response",
    "auto_truncate",
}

VOICE_MODELS = {
    "azure-standard": "AzureStandardVoice",
    "azure-custom": "AzureCustomVoice",
    "azure-personal": "AzurePersonalVoice",
    "openai": "OpenAIVoice",
}


def check_client_event(raw: dict[str, Any]) -> Any:
    event = models.ClientEvent._deserialize(raw, [])
    assert type(event) is not models.ClientEvent, f"{raw['type']}: no SDK model"
    assert event.type == raw["type"]
    walk_model(event, raw, raw["type"], extras=DOCUMENTED_EXTRAS)
    return event


def check_session_update(raw: dict[str, Any]) -> None:
    session = raw["session"]
    turn = session.get("turn_detection")
    if isinstance(turn, dict) and turn.get("type") == "semantic_vad":
        assert set(turn) <= SEMANTIC_VAD_FIELDS, turn
        raw = {**raw, "session": {k: v for k, v in session.items() if k != "turn_detection"}}
    event = check_client_event(raw)
    voice = session.get("voice")
    if isinstance(voice, dict):
        # the SDK's voice union does not pick a class by itself: check against the one named
        cls = getattr(models, VOICE_MODELS[voice["type"]])
        walk_model(cls._deserialize(voice, []), voice, "session.voice", extras=DOCUMENTED_EXTRAS)
    assert event.session is not None


FLAG_SETS: list[dict[str, str]] = [
    {},
    {"vad": "none"},
    {
        "vad": "server_vad",
        "vad_threshold": "0.6",
        "prefix_padding_ms": "300",
        "silence_duration_ms": "700",
        "eou_model": "semantic_detection_v1",
        "eou_timeout_ms": "900",
    },
    {
        "vad": "azure_semantic_vad",
        "remove_filler_words": "true",
        "eou_model": "semantic_detection_v1",
        "auto_truncate": "true",
    },
    {
        "vad": "azure_semantic_vad_multilingual",
        "interrupt": "false",
        "eou_model": "semantic_detection_v1_multilingual",
        "language": "en,fr",
    },
    {
        "vad": "semantic_vad",
        "vad_eagerness": "high",
        "model": "gpt-realtime",
        "voice": "alloy",
        "noise_reduction": "near_field",
    },
    {
        "voice": "en-US-Ava:DragonHDLatestNeural",
        "voice_temperature": "0.7",
        "instructions": "Be brief.",
        "modalities": "text",
    },
    {
        "voice": "MyCustomVoice",
        "voice_type": "azure-custom",
        "voice_endpoint_id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    },
    {
        "voice": "MyPersonalVoice",
        "voice_type": "azure-personal",
        "voice_model": "DragonLatestNeural",
    },
    {"transcription_model": "none", "noise_reduction": "none", "echo_cancellation": "false"},
    {"echo_reference": "true"},
    {"agent": "trip-planner", "agent_project": "contoso", "voice": "en-US-AvaNeural"},
]


@pytest.mark.parametrize(
    ("api_version", "flags"), list(itertools.product(KNOWN_API_VERSIONS, FLAG_SETS))
)
def test_session_update_for_each_version_and_flag_set(
    api_version: str, flags: dict[str, str]
) -> None:
    eou_threshold = "0.3" if api_version == "2025-05-01-preview" else "high"
    if "eou_model" in flags:
        flags = {**flags, "eou_threshold": eou_threshold}
    try:
        settings = resolve_settings(
            {"simulate": True, "api_version": api_version, **flags}, environ={}
        )
    except ConfigError as exc:
        # only combinations the client itself refuses may be skipped, and only these
        refused_here = ("--auto-truncate" in str(exc) and api_version == "2025-05-01-preview") or (
            "--echo-reference" in str(exc) and api_version < "2026-06-01"
        )
        assert refused_here, exc
        return
    payload = build_session(settings.session, api_version)
    check_session_update(ce.session_update(ce.EventIds(), payload))
    if flags.get("echo_reference"):
        ec = models.AudioEchoCancellation._deserialize(payload["input_audio_echo_cancellation"], [])
        assert (ec.reference_source, ec.channels) == ("client", 2)
    if flags.get("agent"):
        assert "instructions" not in payload
    eou = (payload.get("turn_detection") or {}).get("end_of_utterance_detection")
    if eou:
        legacy = api_version == "2025-05-01-preview"
        assert ("threshold" in eou) == legacy and ("threshold_level" in eou) == (not legacy)


def test_every_other_client_event() -> None:
    ids = ce.EventIds()
    for raw in (
        ce.audio_append(b"\x01\x00" * 480),
        ce.audio_commit(ids),
        ce.audio_clear(ids),
        ce.response_create(ids),
        ce.response_create(ids, {"instructions": "Greet the user."}),
        ce.response_cancel(ids),
        ce.response_cancel(ids, "resp_1"),
        ce.item_truncate(ids, "item_1", 1840),
        ce.item_create_text(ids, "What time is it?"),
        ce.item_delete(ids, "item_1"),
    ):
        check_client_event(raw)


def test_parser_tables_cover_every_server_event_the_sdk_knows() -> None:
    known = ev.HANDLED_TYPES | ev.IGNORED_TYPES
    missing = sorted(t.value for t in models.ServerEventType if t.value not in known)
    assert missing == [], f"server events the client neither handles nor ignores: {missing}"


@pytest.mark.parametrize(
    "agent",
    [
        AgentSettings("trip-planner", "contoso"),
        AgentSettings("trip-planner", "contoso", version="3", conversation_id="conv_1"),
    ],
)
def test_the_agent_url_has_the_sdks_query(agent: AgentSettings) -> None:
    """The query of voicelive's agent URL is the SDK's, less its telemetry parameter."""
    from urllib.parse import parse_qsl, urlsplit

    from azure.ai.voicelive.aio._patch import _VoiceLiveConnectionManager
    from azure.core.credentials import AzureKeyCredential

    config = {"agent_name": agent.name, "project_name": agent.project}
    if agent.version:
        config["agent_version"] = agent.version
    if agent.conversation_id:
        config["conversation_id"] = agent.conversation_id
    manager = _VoiceLiveConnectionManager(
        credential=AzureKeyCredential("unused"),
        endpoint="https://res.services.ai.azure.com",
        agent_config=config,
        extra_query={},
        extra_headers={},
    )
    sdk_url = manager._prepare_url()
    ours = build_url("https://res.services.ai.azure.com", "2026-07-15", "gpt-4o", agent=agent)
    sdk_query = [kv for kv in parse_qsl(urlsplit(sdk_url).query) if kv[0] != "x-ms-client-sdk"]
    assert parse_qsl(urlsplit(ours).query) == sdk_query
    assert urlsplit(ours)._replace(query="") == urlsplit(sdk_url)._replace(query="")


def test_the_model_walk_can_fail_on_a_misspelt_field_at_any_depth() -> None:
    update = ce.session_update(ce.EventIds(), {"turn_detection": {"type": "server_vad"}})
    check_session_update(update)  # the walk passes the real payload ...
    update["session"]["turn_detection"]["treshold"] = 0.5  # ... and fails on a typo inside it
    with pytest.raises(AssertionError, match="treshold: unknown to the SDK"):
        check_session_update(update)
