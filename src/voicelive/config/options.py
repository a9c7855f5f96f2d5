"""The one table of ``voicelive chat`` options, and what is made from it.

A row is a flag, the :class:`~voicelive.config.settings.Settings` field it sets, its environment
variables (a second one is the name Microsoft's quickstart uses), what it means, and the kind of
value with its range or choices. The default is the field's own (shown as ``40``, ``on``...)
unless the row says in words what happens when the option is unset ("(service default)").
From the table come ``--help`` (:func:`help_text`), the README table (:func:`options_markdown`)
and ``.env.example`` (:func:`env_example`); tests keep those files equal to what is generated.
Adding an option is a row here plus its field in ``settings.py`` (a new settings class: its
:data:`SECTIONS` entry too); then ``python -m voicelive.config.options > .env.example`` and
``python -m voicelive.config.options readme`` (the table to paste into the README).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final, Literal

from voicelive.config import settings as s
from voicelive.protocol.session_payload import (
    AZURE_SEMANTIC_VADS,
    EOU_VADS,
    THRESHOLD_VADS,
    VAD_TYPES,
    VOICE_TYPES,
)

Kind = Literal["text", "path", "int", "float", "choice", "bool"]

EAGERNESS: Final = ("low", "medium", "high", "auto")
EOU_MODELS: Final = ("semantic_detection_v1", "semantic_detection_v1_multilingual", "none")
NOISE_REDUCTION: Final = ("azure_deep_noise_suppression", "near_field", "far_field", "none")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_UNITS: Final = {"MS": " of milliseconds", "HZ": " of hertz"}
_ANY_VAD: Final = frozenset(VAD_TYPES)

SECTIONS: Final[dict[str, tuple[type, str]]] = {
    "": (s.Settings, ""),
    "conn": (s.ConnectionSettings, "connection"),
    "agent": (s.AgentSettings, "conn.agent"),
    "session": (s.SessionSettings, "session"),
    "td": (s.TurnDetectionSettings, "session.turn_detection"),
    "audio": (s.AudioSettings, "audio"),
    "log": (s.LogSettings, "log"),
    "replay": (s.ReplaySettings, "replay"),
    "tools": (s.ToolsSettings, "tools"),
}
"""A row's section: the settings class that holds its field, and where that class sits (its
parent section and attribute)."""


@dataclass(frozen=True)
class OptionSpec:
    """One row: ``dest`` the option's name, ``section``/``field`` the settings field it sets,
    ``envvars`` the variables (first preferred), ``default`` how the default reads in the docs,
    ``example`` what ``.env.example`` shows, ``low``/``high`` a number's inclusive range.
    ``vads`` and ``needs`` are rules as data, applied by :mod:`voicelive.config.rules`."""

    dest: str
    section: str
    field: str
    envvars: tuple[str, ...]
    default: str
    meaning: str
    topic: str
    """The ``--help`` panel and the ``.env.example`` section (:data:`TOPICS`)."""
    kind: Kind
    metavar: str
    low: float | None
    high: float | None
    choices: tuple[str, ...]
    negative: str | None
    example: str
    vads: frozenset[str] | None = None
    """The ``--vad`` types the option applies to (None: every one, and none)."""
    needs: str = ""
    """The option (its dest) that must be set, and on, for this one to be given."""

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")

    @property
    def flags(self) -> tuple[str, ...]:
        """The flag, and its ``--no-…`` form for an on/off option."""
        return (self.flag, self.negative) if self.negative else (self.flag,)

    @property
    def variable(self) -> str:
        """The preferred environment variable."""
        return self.envvars[0]

    def expected(self) -> str:
        """What a value must be, for messages: ``a whole number of milliseconds from 0 to 5000``."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false (1/0, yes/no, on/off)"
        if self.kind in ("text", "path"):
            return "text"
        unit = _UNITS.get(self.metavar, "") if self.kind == "int" else ""
        number = "a whole number" if self.kind == "int" else "a number"
        return f"{number}{unit} from {_number(self.low)} to {_number(self.high)}"


def field_default(section: str, name: str) -> object:
    """The default of a settings field (None for a required one)."""
    cls = SECTIONS[section][0]
    found = next(f for f in dataclasses.fields(cls) if f.name == name)
    if found.default_factory is not dataclasses.MISSING:
        return found.default_factory()
    return None if found.default is dataclasses.MISSING else found.default


def shown(value: object) -> str:
    """A default as the docs show it: ``on``/``off``, ``none``, ``text,audio``, ``40``."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(value)
    return "none" if value is None else str(value)


def _number(value: float | None) -> str:
    return f"{value or 0:.15g}"  # 1000000 rather than 1e+06


def _opt(
    dest: str,
    to: str,
    meaning: str,
    topic: str,
    metavar: str = "TEXT",
    *,
    default: str | None = None,
    env: tuple[str, ...] = (),
    kind: Kind | None = None,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
    negative: str | None = None,
    example: str | None = None,
    vads: frozenset[str] | None = None,
    needs: str = "",
) -> OptionSpec:
    """A row. ``to`` is ``section`` or ``section.field`` (the field defaults to ``dest``). The
    variable is ``VOICELIVE_<DEST>`` unless ``env`` names them; the kind follows from
    ``choices`` or the range (``low`` an int: whole numbers); ``{range}`` in ``meaning`` becomes
    "low to high"; a concrete default ("40", "on") is also the example."""
    section, _, name = to.partition(".")
    number: Kind = "float" if isinstance(low, float) else "int"
    kind = kind or ("choice" if choices else "text" if low is None else number)
    if kind == "bool":
        negative = negative or "--no-" + dest.replace("_", "-")
        metavar = ""
    default = default or shown(field_default(section, name or dest))
    if example is None:
        example = {"on": "true", "off": "false"}.get(default, default)
        example = "" if example.startswith("(") else example
    if low is not None:
        meaning = meaning.replace("{range}", f"{_number(low)} to {_number(high)}")
    envvars = env or ("VOICELIVE_" + dest.upper(),)
    return OptionSpec(dest, section, name or dest, envvars, default, meaning, topic, kind,
                      metavar, low, high, choices, negative, example, vads, needs)  # fmt: skip


TOPICS: Final = (
    "Connection and credentials",
    "Voice and instructions",
    "Turn detection",
    "Audio devices",
    "Files and logging",
    "Resilience",
    "Tools",
)
"""The panels of ``voicelive chat --help`` and the sections of ``.env.example``, the most used
first; a row's topic outside these gets a panel and a section of its own after them."""
_C, _V, _T, _A, _F, _R, _TL = TOPICS  # the rows' topics, by initial


def topic_rank(topic: str) -> int:
    """Where ``topic``'s panel and section come: :data:`TOPICS` order, any other after them."""
    return TOPICS.index(topic) if topic in TOPICS else len(TOPICS)


_AZ = "AZURE_VOICELIVE_"
_NONE, _SERVICE = "(none)", "(service default)"

OPTIONS: Final[tuple[OptionSpec, ...]] = (
    # --- connection
    _opt("endpoint", "conn",
         "Voice Live resource URL, https://<name>.services.ai.azure.com (wss:// also; ws:// and "
         "http:// only for loopback hosts).", _C, "URL", default=_NONE,
         env=(_AZ + "ENDPOINT", "AZURE_VOICE_LIVE_ENDPOINT"),
         example="https://<your-resource>.services.ai.azure.com"),
    _opt("api_key", "conn",
         "Resource API key; when absent, Entra ID is used (az login, managed identity, ...).",
         _C, "KEY", default="(none: Entra ID)", env=(_AZ + "API_KEY", "AZURE_VOICE_LIVE_API_KEY"),
         example="<your-api-key>"),
    _opt("model", "conn", "Model name, e.g. gpt-4o, gpt-realtime, gpt-4.1-mini.", _C, "NAME",
         env=("VOICELIVE_MODEL", "VOICE_LIVE_MODEL")),
    _opt("api_version", "conn", "Voice Live API version.", _C, "VERSION",
         env=(_AZ + "API_VERSION", "AZURE_VOICE_LIVE_API_VERSION"), choices=s.KNOWN_API_VERSIONS),
    _opt("token_scope", "conn", "Entra ID token scope.", _C, "SCOPE", env=(_AZ + "TOKEN_SCOPE",)),
    _opt("profile", "",
         "Use this [profile.NAME] table of the config file over its top-level keys.", _C, "NAME",
         default="(none: the top level only)", example="work"),
    _opt("reconnect", "conn",
         "Reconnect automatically when the connection drops, with the conversation replayed.",
         _R, kind="bool"),
    _opt("reconnect_attempts", "conn",
         "Reconnection attempts per outage before giving up, {range}.", _R, "N", low=1, high=100),
    _opt("replay_turns", "replay.turns",
         "Turns of the conversation replayed to a new connection, {range} (0: no replay).", _R,
         "N", low=0, high=1000),
    _opt("replay_chars", "replay.chars",
         "Characters of the conversation replayed at most, {range}.", _R, "N", low=0,
         high=1_000_000),
    # --- networks (proxy, trust, timeout)
    _opt("proxy", "conn",
         "Proxy for the Voice Live and Entra ID connections: http://host:port, "
         "http://user:pass@host:port (Basic credentials only; for NTLM or Kerberos run a local "
         "relay such as cntlm or px), https://, socks5:// or socks5h:// (pip install "
         "'voicelive[socks]'), or none to connect directly.", _C, "URL|none",
         default="(the environment: HTTPS_PROXY, NO_PROXY, the OS settings)",
         example="http://proxy.example.com:8080"),
    _opt("trust", "conn",
         "Certificates to trust: system (the OS store: Windows, macOS keychain, Linux CA "
         "bundle) or python (certifi's bundle); SSL_CERT_FILE / SSL_CERT_DIR, when set, "
         "replace both.", _C, "SOURCE", choices=s.TRUST_SOURCES),
    _opt("connect_timeout", "conn.open_timeout_s",
         "Seconds allowed to connect (proxy, TLS and WebSocket handshakes), {range}; the TLS "
         "handshake gets two thirds of it.", _C, "SECONDS", low=1.0, high=300.0),
    # --- Foundry agent
    _opt("agent", "agent.name",
         "Talk to this Foundry Agent Service agent instead of a model; needs --agent-project and "
         "Entra ID (az login), not an API key.", _C, "NAME", default="(none: a model)",
         example="<your-agent-name>", needs="agent_project"),
    _opt("agent_project", "agent.project", "Foundry project that holds the agent (with --agent).",
         _C, "NAME", default=_NONE, example="<your-project-name>", needs="agent"),
    _opt("agent_version", "agent.version", "Agent version to use (with --agent).", _C,
         "VERSION", default="(the agent's latest)", needs="agent"),
    _opt("conversation_id", "agent", "Continue this agent conversation (with --agent).", _C,
         "ID", default="(a new conversation)", needs="agent"),
    # --- conversation
    _opt("instructions", "session",
         "System instructions for the assistant (not with --agent: the agent has its own).", _V,
         default=_SERVICE),
    _opt("greet", "", "The assistant speaks first, before you say anything.", _V, kind="bool"),
    _opt("greet_instructions", "",
         "What the assistant's first words should do, e.g. 'Welcome the user briefly' (needs "
         "--greet).", _V, default=_NONE, needs="greet"),
    _opt("voice", "session", "Voice name, e.g. en-US-Ava:DragonHDLatestNeural or alloy.", _V,
         "NAME", default=_SERVICE),
    _opt("voice_type", "session", "azure-standard, azure-custom, azure-personal or openai.", _V,
         "TYPE", default="(inferred from --voice)", choices=VOICE_TYPES, needs="voice"),
    _opt("voice_temperature", "session", "Azure HD voice temperature, {range}.", _V, "FLOAT",
         default=_SERVICE, low=0.0, high=1.0, needs="voice"),
    _opt("voice_endpoint_id", "session",
         "Deployment id of an azure-custom voice (required for that type).", _V, "ID",
         default=_NONE, needs="voice"),
    _opt("voice_model", "session",
         "Base model of an azure-personal voice, e.g. DragonLatestNeural (required for that "
         "type).", _V, "NAME", default=_NONE, needs="voice"),
    _opt("modalities", "session", "Response modalities: text,audio or text.", _V, "LIST"),
    _opt("transcription_model", "session", "Model transcribing your speech, or none.", _V,
         "NAME", default="azure-speech (whisper-1 for gpt-realtime models)",
         example="azure-speech"),
    _opt("language", "session",
         "Transcription language hint: BCP-47 such as en-US, or a list such as en,fr.", _V,
         "LANG", default="(auto)"),
    # --- turn detection
    _opt("vad", "td.vad_type",
         "Turn detection: server_vad, azure_semantic_vad, azure_semantic_vad_multilingual, "
         "semantic_vad, or none (no automatic turns).", _T, "TYPE", choices=(*VAD_TYPES, "none")),
    _opt("vad_threshold", "td.threshold",
         "Speech activation threshold, {range} (not semantic_vad).", _T, "FLOAT",
         default="(service default, 0.5)", low=0.0, high=1.0, vads=THRESHOLD_VADS),
    _opt("vad_eagerness", "td.eagerness",
         "How soon semantic_vad ends a turn: low, medium, high or auto (semantic_vad only).",
         _T, "LEVEL", default="(service default, auto)", choices=EAGERNESS,
         vads=frozenset({"semantic_vad"})),
    _opt("prefix_padding_ms", "td", "Audio kept before detected speech, {range} ms.", _T, "MS",
         default=_SERVICE, low=0, high=5000, vads=THRESHOLD_VADS),
    _opt("silence_duration_ms", "td", "Silence that ends a turn, {range} ms.", _T, "MS",
         default="(service default, 500)", low=50, high=5000, vads=THRESHOLD_VADS),
    _opt("remove_filler_words", "td",
         "Ignore filler words (um, ah) as turn starts; azure semantic VADs only.", _T,
         default="(service default, off)", kind="bool", negative="--keep-filler-words",
         vads=AZURE_SEMANTIC_VADS),
    _opt("eou_model", "td",
         "End-of-utterance model: semantic_detection_v1, semantic_detection_v1_multilingual or "
         "none (server_vad and azure semantic VADs).", _T, "MODEL", choices=EOU_MODELS,
         vads=EOU_VADS),
    _opt("eou_threshold", "td",
         "End-of-utterance threshold: low, medium, high or default; on 2025-05-01-preview a "
         "number 0 to 1.", _T, "LEVEL", default=_SERVICE, vads=EOU_VADS, needs="eou_model"),
    _opt("eou_timeout_ms", "td", "End-of-utterance timeout, {range} ms.", _T, "MS",
         default="(service default, 1000)", low=1, high=60_000, vads=EOU_VADS, needs="eou_model"),
    _opt("interrupt", "td.interrupt_response", "Let speech interrupt the assistant (barge-in).",
         _T, kind="bool", vads=_ANY_VAD),
    _opt("auto_truncate", "td",
         "Let the service truncate interrupted replies instead of the client.", _T, kind="bool",
         vads=_ANY_VAD),
    # --- audio
    _opt("noise_reduction", "session",
         "azure_deep_noise_suppression, near_field, far_field (gpt-realtime models) or none.",
         _A, "TYPE", choices=NOISE_REDUCTION),
    _opt("echo_cancellation", "session", "Server-side echo cancellation (for open speakers).",
         _A, kind="bool"),
    _opt("echo_reference", "session",
         "Send what the speaker plays as the echo reference (stereo input) for server echo "
         "cancellation; API 2026-06-01-preview or later.", _A, kind="bool"),
    _opt("input_device", "audio", "Microphone: index or name substring (see voicelive devices).",
         _A, "DEVICE", default="(system default)"),
    _opt("output_device", "audio", "Speaker: index or name substring (see voicelive devices).",
         _A, "DEVICE", default="(system default)"),
    _opt("prebuffer_ms", "audio", "Audio buffered before a reply starts playing, {range} ms.", _A,
         "MS", low=0, high=2000),
    _opt("chunk_ms", "audio", "Microphone audio per message, {range} ms.", _A, "MS", low=10,
         high=100),
    _opt("quiet_hold_ms", "audio",
         "Microphone audio that is certainly not speech (peaks below -36 dBFS, RMS below -48 "
         "dBFS, not rising over the room's level) goes in batches of up to this much once "
         "there has been no sound for 2 s and nothing is playing (less CPU); anything else "
         "goes at once; {range} ms, 0 = never batch.", _A, "MS", low=0, high=1000),
    _opt("output_latency_ms", "audio", "Speaker buffer PortAudio keeps, {range} ms: lower is "
         "snappier, higher survives a busy machine.", _A, "MS", low=1, high=1000),
    _opt("device_rate", "audio",
         "Open the audio devices at this rate (Hz, {range}) and resample.", _A, "HZ",
         default="(24000 if the device takes it, else its own)", low=8000, high=192_000,
         example="48000"),
    _opt("input_file", "audio",
         "Read the user's audio from this WAV file instead of the microphone.", _F, "WAV",
         default="(microphone)", kind="path"),
    _opt("output_file", "audio",
         "Write the assistant's audio to this WAV file instead of the speaker.", _F, "WAV",
         default="(speaker)", kind="path"),
    # --- logging and mode
    _opt("log_file", "log", "Debug log file (mode 0600, secrets redacted), or none.", _F, "PATH"),
    _opt("log_level", "log", "Log file level: DEBUG, INFO, WARNING, ERROR or CRITICAL.", _F,
         "LEVEL", choices=LOG_LEVELS),
    _opt("stats_json", "",
         "Write per-turn latency and session statistics as JSON to this file at exit.", _F,
         "FILE", default=_NONE, kind="path"),
    _opt("record", "", "Record the conversation's audio to this .wav file.", _F, "FILE.wav",
         default=_NONE, kind="path", example="conversation.wav"),
    _opt("transcript", "",
         "Write the conversation's text to this file: Markdown (.md) or JSON lines (.jsonl).",
         _F, "FILE", default=_NONE, kind="path", example="conversation.md"),
    _opt("resume", "",
         "Start with the conversation in this --transcript .jsonl file as history (the same "
         "bounded replay a reconnect sends).", _F, "FILE.jsonl", default=_NONE, kind="path",
         example="<an earlier --transcript>.jsonl"),
    _opt("debug", "log", "Show tracebacks on errors.", _F, kind="bool"),
    _opt("simulate", "", "Talk to the bundled offline simulator instead of Azure.", _C,
         kind="bool"),
    # --- tools
    _opt("mcp_config", "tools.mcp",
         "MCP servers whose tools the assistant may call: an mcpServers JSON file as Claude "
         "Desktop, Cursor and VS Code use (README \"Tools\").", _TL, "FILE",
         default="(none: no tools)", kind="path", example="examples/mcp/mcp.json"),
    _opt("approve", "tools",
         "Tools that run without asking: comma-separated patterns on server.tool, as the "
         "prompt names them (codes.*, *.lookup_code).", _TL, "PATTERNS",
         default="(none: every call is asked)", example="codes.*", needs="mcp_config"),
    _opt("tool_timeout", "tools.call_timeout_s", "Seconds one tool call may take ({range}).",
         _TL, "S", default=f"({s.DEFAULT_TOOL_TIMEOUT_S:g})", low=1.0, high=600.0,
         example=f"{s.DEFAULT_TOOL_TIMEOUT_S:g}", needs="mcp_config"),
)  # fmt: skip

SPECS: Final[dict[str, OptionSpec]] = {spec.dest: spec for spec in OPTIONS}


def help_text(spec: OptionSpec) -> str:
    """The ``--help`` line of ``spec``: meaning, variables and default."""
    return f"{spec.meaning} [env var: {', '.join(spec.envvars)}] [default: {spec.default}]"


def options_markdown() -> str:
    """A Markdown table ``flag | variable | default | meaning`` of every option, for the README."""
    lines = ["| flag | variable | default | meaning |", "|---|---|---|---|"]
    for spec in OPTIONS:
        flag = " / ".join(f"`{name}`" for name in spec.flags)
        variables = "<br>".join(f"`{name}`" for name in spec.envvars)
        meaning = spec.meaning.replace("<", "&lt;").replace(">", "&gt;")  # not HTML tags
        lines.append(f"| {flag} | {variables} | {spec.default} | {meaning} |")
    return "\n".join(lines) + "\n"


_ENV_HEADER = """\
# voicelive configuration: copy to .env in the directory you run voicelive from.
# Generated from src/voicelive/config/options.py: python -m voicelive.config.options > .env.example
# Precedence: command-line flag > environment variable > .env > --profile's table in the config
# file > the config file's top level > default.
# Every line is commented out, so the defaults apply until you uncomment one.
# Empty values count as unset. Booleans: 1/true/yes/on or 0/false/no/off.
# Never commit a real key: .env is in .gitignore.
"""


def env_example() -> str:
    """The text of ``.env.example``: every option by topic, commented out, wrapped at 100."""
    import textwrap

    out = [_ENV_HEADER]
    topic = ""
    for spec in sorted(OPTIONS, key=lambda spec: topic_rank(spec.topic)):  # stable: table order
        if spec.topic != topic:
            topic = spec.topic
            out.append(f"\n# ===== {topic} =====\n")
        flag = " / ".join(spec.flags)
        text = f"{flag}: {spec.meaning} Default: {spec.default}."
        comment = textwrap.wrap(text, 98, break_on_hyphens=False)
        if len(spec.envvars) > 1:
            comment.append(f"Also read as {', '.join(spec.envvars[1:])} (the quickstart's name).")
        out.append("\n" + "".join(f"# {line}\n" for line in comment))
        out.append(f"# {spec.variable}={spec.example}\n")
    return "".join(out)


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(options_markdown() if sys.argv[1:] == ["readme"] else env_example(), end="")
