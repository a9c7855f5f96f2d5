"""Frozen settings objects: the single source of configuration below the CLI, and of the
defaults (the option table shows these, :mod:`voicelive.config.options`).

:mod:`voicelive.config.resolve` builds one :class:`Settings` from the flags, the environment,
``.env`` and the config file; nothing below the CLI reads ``os.environ``. All objects are
immutable and safe to share between threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voicelive.tools.config import McpConfig

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
DIRECT = "none"
"""``--proxy none``: connect directly, whatever the environment says."""
TRUST_SOURCES = ("system", "python")
CLIENT_EC_REFERENCE_FEATURE = "client_ec_reference:true"
"""The handshake's ``features`` flag that a client-supplied echo reference needs (§1.2)."""


class Secret(str):
    """A string whose ``repr`` never shows its value (API keys, tokens); ``str()`` returns it,
    for the one place that must send it."""

    def __repr__(self) -> str:
        return "Secret('***')"


@dataclass(frozen=True)
class AgentSettings:
    """A Foundry Agent Service agent to talk to instead of a model (protocol.md §1.2).

    ``name`` and ``project`` go to the handshake as ``agent-name`` and ``agent-project-name``;
    ``version`` and ``conversation_id`` (a conversation to continue) only when set. Agent
    sessions use Entra ID only, and their ``session.update`` carries no ``instructions``.
    """

    name: str
    project: str
    version: str | None = None
    conversation_id: str | None = None


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect: ``endpoint`` as the user gave it (``https://``, ``wss://``, or
    ``ws://`` for loopback hosts only); ``api_key`` None means Entra ID; ``agent``: talk to
    this Foundry agent (the handshake then names it, not ``model``); ``reconnect``: reconnect
    by itself and replay the conversation, ``reconnect_attempts`` times per outage."""

    endpoint: str
    api_key: Secret | None = None
    model: str = DEFAULT_MODEL
    api_version: str = DEFAULT_API_VERSION
    token_scope: str = DEFAULT_TOKEN_SCOPE
    open_timeout_s: float = 15.0
    max_message_bytes: int = 16 * 1024 * 1024
    reconnect: bool = True
    reconnect_attempts: int = 8
    agent: AgentSettings | None = None
    features: tuple[str, ...] = ()
    """Preview feature flags for the handshake; :class:`Settings` keeps
    :data:`CLIENT_EC_REFERENCE_FEATURE` here exactly when ``session.echo_reference``."""
    # --- networks (proxy and trust; voicelive.connection.proxy / .tls)
    proxy: str | None = None
    """A proxy URL (``http://``, ``https://``, ``socks5://``...), :data:`DIRECT` for none, or
    None: the environment's and the OS's settings (``HTTPS_PROXY``, ``NO_PROXY``...)."""
    keepalive_s: float = 20.0
    """Ping interval and pong timeout: a link silent for up to twice this counts as dead."""
    trust: str = "system"
    """Certificates trusted: ``system`` (the OS store, through truststore) or ``python``
    (certifi's bundle); ``SSL_CERT_FILE``/``SSL_CERT_DIR`` override both when set."""


@dataclass(frozen=True)
class TurnDetectionSettings:
    """``turn_detection`` knobs; ``vad_type`` None means manual commit (push-to-talk).
    ``eou_threshold``: GA ``low|medium|high|default``; 2025-05-01-preview a number as text."""

    vad_type: str | None = "server_vad"
    threshold: float | None = None
    eagerness: str | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    remove_filler_words: bool | None = None
    eou_model: str | None = None
    eou_threshold: str | None = None
    eou_timeout_ms: int | None = None
    interrupt_response: bool = True
    auto_truncate: bool = False


@dataclass(frozen=True)
class SessionSettings:
    """What goes into ``session.update``; None means "leave the service default".

    ``echo_reference``: the client sends the echo reference, ``input_audio_echo_cancellation``
    becomes ``{"type": "server_echo_cancellation", "reference_source": "client", "channels":
    2}`` and the input is stereo, microphone left, what the speaker played right
    (2026-06-01-preview and later; needs ``echo_cancellation``). ``voice_endpoint_id``: the
    deployment of an ``azure-custom`` voice; ``voice_model``: the base model of an
    ``azure-personal`` voice, e.g. ``DragonLatestNeural``.
    """

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
    voice_endpoint_id: str | None = None
    voice_model: str | None = None


@dataclass(frozen=True)
class AudioSettings:
    """Devices and buffering. Devices are an index (as text) or a name substring; None = default.

    ``input_file``/``output_file`` replace the microphone/speaker with WAV files (headless
    runs). ``quiet_hold_ms``: near-silent microphone blocks go in batches of up to this much
    (:mod:`voicelive.audio.quiet_batcher`); 0 sends each block as read. ``output_block_ms`` 0
    lets PortAudio pick the smallest block (3-8 ms to sound, measured). ``output_latency_ms``
    None is PortAudio's "low" (about 8 ms here); 20 because, measured with both cores busy,
    "low" underflowed twice in 15 s and 20 ms never, still reaching the speaker 22 ms after the
    first delta. ``device_rate`` None: 24 kHz if the device takes it, else its own rate.
    """

    input_device: str | None = None
    output_device: str | None = None
    prebuffer_ms: int = 40
    chunk_ms: int = 20
    quiet_hold_ms: int = 200
    output_block_ms: int = 0
    output_latency_ms: int | None = 20
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


DEFAULT_TOOL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ToolsSettings:
    """``--mcp-config`` (read and checked by the resolver: the servers, ``${VAR}`` filled in),
    ``--approve`` patterns, ``--tool-timeout``. ``mcp`` is never None in a built Settings."""

    mcp: McpConfig | None = None
    approve: tuple[str, ...] | None = None
    call_timeout_s: float | None = None
    """None: :data:`DEFAULT_TOOL_TIMEOUT_S`."""


@dataclass(frozen=True)
class Settings:
    """Everything ``run_chat`` needs. ``simulate``: start the bundled simulator. ``greet``: the
    assistant speaks first (with ``greet_instructions`` when set). ``record``: a WAV file of
    the conversation; ``transcript``: its text, Markdown (``.md``) or JSON lines (``.jsonl``);
    ``resume``: such a ``.jsonl`` file, told to the first session as history.

    ``connection.features`` is kept in step with ``session.echo_reference`` here, so the
    handshake and the ``session.update`` always agree.
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
    resume: Path | None = None
    """A ``.jsonl`` transcript whose turns the first session is told (``--resume``)."""
    profile: str | None = None
    """The config file's profile the values were taken from, None for none."""
    tools: ToolsSettings | None = None
    """None without ``--mcp-config``: nothing of :mod:`voicelive.tools` is imported then."""

    def __post_init__(self) -> None:
        others = tuple(f for f in self.connection.features if f != CLIENT_EC_REFERENCE_FEATURE)
        features = (*others, CLIENT_EC_REFERENCE_FEATURE) if self.session.echo_reference else others
        if features != self.connection.features:
            # frozen: the one place that sets a field after construction
            object.__setattr__(self, "connection", replace(self.connection, features=features))


def uses_legacy_eou_fields(api_version: str) -> bool:
    """2025-05-01-preview spells EOU ``threshold``/``timeout`` (seconds); later ones do not."""
    return api_version == "2025-05-01-preview"
