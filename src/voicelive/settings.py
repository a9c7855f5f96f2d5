"""Frozen settings objects: the single source of configuration below the CLI.

The CLI resolves every value (flag > environment > ``.env`` in the working directory > default),
validates it and builds one :class:`Settings`. Nothing below the CLI reads ``os.environ``.
All objects are immutable and safe to share between threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voicelive.tools.config import McpConfig

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
CLIENT_EC_REFERENCE_FEATURE = "client_ec_reference:true"
"""The handshake's ``features`` flag that a client-supplied echo reference needs (§1.2)."""


class Secret(str):
    """A string whose ``repr`` never shows its value (API keys, tokens).

    ``str(secret)`` still returns the value, for the one place that must send it.
    """

    def __repr__(self) -> str:
        return "Secret('***')"


@dataclass(frozen=True)
class AgentSettings:
    """A Foundry Agent Service agent to talk to instead of a model (protocol.md §1.2).

    ``name`` and ``project`` go to the handshake as ``agent-name`` and ``agent-project-name``;
    ``version`` (``agent-version``) and ``conversation_id`` (``conversation-id``, a conversation
    to continue) only when set. Agent sessions authenticate with Entra ID only, and their
    ``session.update`` carries no ``instructions`` (the agent has its own).
    """

    name: str
    project: str
    version: str | None = None
    conversation_id: str | None = None


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect.

    ``endpoint`` is the resource URL as the user gave it (``https://…``, ``wss://…``, or
    ``ws://`` for loopback hosts only). ``api_key`` is None when Entra ID is used.
    ``agent``: talk to this Foundry agent; the handshake then names the agent, not ``model``.
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
    agent: AgentSettings | None = None
    features: tuple[str, ...] = ()
    """Preview feature flags for the handshake's ``features`` query parameter. :class:`Settings`
    keeps :data:`CLIENT_EC_REFERENCE_FEATURE` here exactly when ``session.echo_reference``."""


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
    echo_reference: bool = False
    """Send the echo reference from the client: ``input_audio_echo_cancellation`` becomes
    ``{"type": "server_echo_cancellation", "reference_source": "client", "channels": 2}`` and
    the input audio is stereo, microphone left, what the speaker played right (2026-06-01-preview
    and later; needs ``echo_cancellation``)."""
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
    quiet_hold_ms: int = 200
    """While the microphone is near silence and no one has spoken for a while, its blocks go
    to the service in batches of up to this much audio (:mod:`voicelive.audio.quiet_batcher`);
    0 sends every block as it is read. Saves most of the CPU of listening."""
    output_block_ms: int = 0
    """0 lets PortAudio pick the smallest block ("low" latency): 3-8 ms to sound when measured."""
    output_latency_ms: int | None = 20
    """Suggested output latency for PortAudio; None = its "low" setting (about 8 ms here).

    20 ms: measured here, "low" underflowed twice in 15 s with both cores busy, 20 ms never,
    and it still reaches the speaker 22 ms after the first delta."""
    device_rate: int | None = None
    """Open the devices at this rate and resample; None = 24 kHz if accepted, else native."""
    max_buffer_ms: int = 15 * 60_000
    """The playback memory's bound: a whole reply is held however fast it arrives (a long
    story read out by a fast service); 15 min (43 MB) only stops a broken service."""
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
class ToolsSettings:
    """``--mcp-config`` (already read and checked), ``--approve`` patterns, ``--tool-timeout``."""

    mcp: McpConfig
    approve: tuple[str, ...] = ()
    call_timeout_s: float = 30.0


@dataclass(frozen=True)
class Settings:
    """Everything ``run_chat`` needs. ``simulate`` means: start the bundled simulator.

    ``greet``: the assistant speaks first, with ``greet_instructions`` when set. ``record``: a
    WAV file of the conversation; ``transcript``: the conversation's text, as Markdown
    (``.md``) or JSON lines (``.jsonl``), by the file's suffix.

    ``connection.features`` is kept in step with ``session.echo_reference`` here (the flag is
    added or removed), so the handshake and the ``session.update`` always agree.
    """

    connection: ConnectionSettings
    session: SessionSettings = field(default_factory=SessionSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    log: LogSettings = field(default_factory=LogSettings)
    replay: ReplaySettings = field(default_factory=ReplaySettings)
    stats_json: Path | None = None
    simulate: bool = False
    greet: bool = False
    greet_instructions: str | None = None
    record: Path | None = None
    transcript: Path | None = None
    tools: ToolsSettings | None = None
    """None without ``--mcp-config``: nothing of :mod:`voicelive.tools` is imported then."""

    def __post_init__(self) -> None:
        others = tuple(f for f in self.connection.features if f != CLIENT_EC_REFERENCE_FEATURE)
        features = (*others, CLIENT_EC_REFERENCE_FEATURE) if self.session.echo_reference else others
        if features != self.connection.features:
            # frozen: the one place that sets a field after construction
            object.__setattr__(self, "connection", replace(self.connection, features=features))


def is_preview(api_version: str) -> bool:
    """True for preview API versions (``…-preview``)."""
    return api_version.endswith("-preview")


def uses_legacy_eou_fields(api_version: str) -> bool:
    """2025-05-01-preview spells EOU ``threshold``/``timeout`` (seconds); later ones do not."""
    return api_version == "2025-05-01-preview"
