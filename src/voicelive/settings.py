"""Frozen settings objects: the single source of configuration below the CLI.

The CLI resolves every value (flag > environment > ``.env`` in the working directory > default),
validates it and builds one :class:`Settings`. Nothing below the CLI reads ``os.environ``.
All objects are immutable and safe to share between threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

GA_API_VERSIONS = ("2025-10-01", "2026-04-10", "2026-07-15")
PREVIEW_API_VERSIONS = ("2025-05-01-preview", "2026-01-01-preview", "2026-06-01-preview")
KNOWN_API_VERSIONS = (
    "2025-05-01-preview",
    "2025-10-01",
    "2026-01-01-preview",
    "2026-04-10",
    "2026-06-01-preview",
    "2026-07-15",
)
DEFAULT_API_VERSION = "2026-07-15"
DEFAULT_MODEL = "gpt-4o"
DEFAULT_TOKEN_SCOPE = "https://ai.azure.com/.default"


class Secret(str):
    """A string whose ``repr`` never shows its value (API keys, tokens).

    ``str(secret)`` still returns the value, for the one place that must send it.
    """

    def __repr__(self) -> str:
        return "Secret('***')"


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect.

    ``endpoint`` is the resource URL as the user gave it (``https://…``, ``wss://…``, or
    ``ws://`` for loopback hosts only). ``api_key`` is None when Entra ID is used.
    """

    endpoint: str
    api_key: Secret | None = None
    model: str = DEFAULT_MODEL
    api_version: str = DEFAULT_API_VERSION
    token_scope: str = DEFAULT_TOKEN_SCOPE
    open_timeout_s: float = 15.0
    max_message_bytes: int = 16 * 1024 * 1024
    reconnect: bool = True
    """Reconnect by itself when the connection drops, and replay the conversation."""
    reconnect_attempts: int = 8
    """Attempts per outage before giving up."""


@dataclass(frozen=True)
class TurnDetectionSettings:
    """``turn_detection`` knobs; ``vad_type`` None means manual commit (push-to-talk)."""

    vad_type: str | None = "server_vad"
    threshold: float | None = None
    eagerness: str | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    remove_filler_words: bool | None = None
    eou_model: str | None = None
    eou_threshold: str | None = None
    """GA: ``low|medium|high|default``; 2025-05-01-preview: a float 0-1 as text."""
    eou_timeout_ms: int | None = None
    interrupt_response: bool = True
    auto_truncate: bool = False


@dataclass(frozen=True)
class SessionSettings:
    """What goes into ``session.update``; None means "leave the service default"."""

    instructions: str | None = None
    voice: str | None = None
    voice_type: str | None = None
    voice_temperature: float | None = None
    modalities: tuple[str, ...] = ("text", "audio")
    transcription_model: str | None = "azure-speech"
    language: str | None = None
    turn_detection: TurnDetectionSettings = field(default_factory=TurnDetectionSettings)
    noise_reduction: str | None = "azure_deep_noise_suppression"
    echo_cancellation: bool = True
    voice_endpoint_id: str | None = None
    """Deployment id of an ``azure-custom`` voice (required by the service for that type)."""
    voice_model: str | None = None
    """Base model of an ``azure-personal`` voice, e.g. ``DragonLatestNeural``."""


@dataclass(frozen=True)
class AudioSettings:
    """Devices and buffering. Devices are an index (as text) or a name substring; None = default.

    ``input_file``/``output_file`` replace the microphone/speaker with WAV files (headless runs).
    """

    input_device: str | None = None
    output_device: str | None = None
    prebuffer_ms: int = 40
    chunk_ms: int = 20
    output_block_ms: int = 0
    """0 lets PortAudio pick the smallest block ("low" latency): 3-8 ms to sound when measured."""
    output_latency_ms: int | None = 20
    """Suggested output latency for PortAudio; None = its "low" setting (about 8 ms here).

    20 ms: measured here, "low" underflowed twice in 15 s with both cores busy, 20 ms never,
    and it still reaches the speaker 22 ms after the first delta."""
    device_rate: int | None = None
    """Open the devices at this rate and resample; None = 24 kHz if accepted, else native."""
    max_buffer_ms: int = 60_000
    input_file: Path | None = None
    output_file: Path | None = None


@dataclass(frozen=True)
class LogSettings:
    """Where the DEBUG log goes; ``debug`` shows tracebacks on errors."""

    log_file: Path | None = Path("voicelive.log")
    log_level: str = "DEBUG"
    debug: bool = False


@dataclass(frozen=True)
class ReplaySettings:
    """How much of the conversation a new session is told: ``turns`` 0 means none."""

    turns: int = 20
    chars: int = 8000


@dataclass(frozen=True)
class Settings:
    """Everything ``run_chat`` needs. ``simulate`` means: start the bundled simulator."""

    connection: ConnectionSettings
    session: SessionSettings = field(default_factory=SessionSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    log: LogSettings = field(default_factory=LogSettings)
    replay: ReplaySettings = field(default_factory=ReplaySettings)
    stats_json: Path | None = None
    simulate: bool = False


def is_preview(api_version: str) -> bool:
    """True for preview API versions (``…-preview``)."""
    return api_version.endswith("-preview")


def uses_legacy_eou_fields(api_version: str) -> bool:
    """2025-05-01-preview spells EOU ``threshold``/``timeout`` (seconds); later ones do not."""
    return api_version == "2025-05-01-preview"
