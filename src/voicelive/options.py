"""The one table of ``voicelive chat`` options, and what is made from it.

A row is a flag, its environment variables (a second one is the name Microsoft's quickstart
uses), the default as the docs state it, what it means, and the kind of value with its range
or choices. From the table come the Typer parameters (:func:`parameters`: types, ``min``/``max``,
choices, ``--help`` text), the README table (:func:`options_markdown`) and ``.env.example``
(:func:`env_example`); tests keep those two files equal to what is generated. Precedence and the
cross-option rules are in :mod:`voicelive.config`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

import typer

from voicelive.protocol.session_payload import VAD_TYPES, VOICE_TYPES
from voicelive.settings import (
    DEFAULT_API_VERSION,
    DEFAULT_MODEL,
    DEFAULT_TOKEN_SCOPE,
    KNOWN_API_VERSIONS,
)

Kind = Literal["text", "int", "float", "choice", "bool"]

EAGERNESS: Final = ("low", "medium", "high", "auto")
EOU_MODELS: Final = ("semantic_detection_v1", "semantic_detection_v1_multilingual", "none")
NOISE_REDUCTION: Final = ("azure_deep_noise_suppression", "near_field", "far_field", "none")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_UNITS: Final = {"MS": " of milliseconds", "HZ": " of hertz"}


@dataclass(frozen=True)
class OptionSpec:
    """One row: ``dest`` is the Typer parameter name, ``envvars`` the variables (first
    preferred), ``default`` how the default reads in the docs, ``example`` what ``.env.example``
    shows, ``low``/``high`` the inclusive range of a number, ``choices`` the words accepted."""

    dest: str
    envvars: tuple[str, ...]
    default: str
    meaning: str
    group: str
    kind: Kind
    metavar: str
    low: float | None
    high: float | None
    choices: tuple[str, ...]
    negative: str | None
    example: str

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")

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
        unit = _UNITS.get(self.metavar, "") if self.kind == "int" else ""
        number = "a whole number" if self.kind == "int" else "a number"
        return f"{number}{unit} from {_number(self.low)} to {_number(self.high)}"


def _number(value: float | None) -> str:
    return f"{value or 0:.15g}"  # 1000000 rather than 1e+06


def _opt(
    dest: str,
    default: str,
    meaning: str,
    group: str,
    metavar: str = "TEXT",
    *,
    env: tuple[str, ...] = (),
    kind: Kind | None = None,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
    negative: str | None = None,
    example: str | None = None,
) -> OptionSpec:
    """A row. The variable is ``VOICELIVE_<DEST>`` unless ``env`` names them; the kind follows
    from ``choices`` or the range (``low`` an int: whole numbers); ``{range}`` in ``meaning``
    becomes "low to high"; a plain default ("40", "on") is also the example."""
    number: Kind = "float" if isinstance(low, float) else "int"
    kind = kind or ("choice" if choices else "text" if low is None else number)
    if kind == "bool":
        negative = negative or "--no-" + dest.replace("_", "-")
        metavar = ""
    if example is None:
        example = {"on": "true", "off": "false"}.get(default, default)
        example = "" if example.startswith("(") else example
    if low is not None:
        meaning = meaning.replace("{range}", f"{_number(low)} to {_number(high)}")
    envvars = env or ("VOICELIVE_" + dest.upper(),)
    return OptionSpec(
        dest, envvars, default, meaning, group, kind, metavar, low, high, choices, negative, example
    )


_C, _V, _T, _A, _L = "Connection", "Conversation", "Turn detection", "Audio", "Logging and mode"
_G = "Foundry agent"
_TL = "Tools"
_AZ = "AZURE_VOICELIVE_"

OPTIONS: Final[tuple[OptionSpec, ...]] = (
    # --- connection
    _opt("endpoint", "(none)",
         "Voice Live resource URL, https://<name>.services.ai.azure.com (wss:// also; ws:// and "
         "http:// only for loopback hosts).", _C, "URL",
         env=(_AZ + "ENDPOINT", "AZURE_VOICE_LIVE_ENDPOINT"),
         example="https://<your-resource>.services.ai.azure.com"),
    _opt("api_key", "(none: Entra ID)",
         "Resource API key; when absent, Entra ID is used (az login, managed identity, ...).",
         _C, "KEY", env=(_AZ + "API_KEY", "AZURE_VOICE_LIVE_API_KEY"), example="<your-api-key>"),
    _opt("model", DEFAULT_MODEL, "Model name, e.g. gpt-4o, gpt-realtime, gpt-4.1-mini.", _C,
         "NAME", env=("VOICELIVE_MODEL", "VOICE_LIVE_MODEL")),
    _opt("api_version", DEFAULT_API_VERSION, "Voice Live API version.", _C, "VERSION",
         env=(_AZ + "API_VERSION", "AZURE_VOICE_LIVE_API_VERSION"), choices=KNOWN_API_VERSIONS),
    _opt("token_scope", DEFAULT_TOKEN_SCOPE, "Entra ID token scope.", _C, "SCOPE",
         env=(_AZ + "TOKEN_SCOPE",)),
    _opt("reconnect", "on",
         "Reconnect automatically when the connection drops, with the conversation replayed.",
         _C, kind="bool"),
    _opt("reconnect_attempts", "8", "Reconnection attempts per outage before giving up, {range}.",
         _C, "N", low=1, high=100),
    _opt("replay_turns", "20",
         "Turns of the conversation replayed to a new connection, {range} (0: no replay).", _C,
         "N", low=0, high=1000),
    _opt("replay_chars", "8000", "Characters of the conversation replayed at most, {range}.", _C,
         "N", low=0, high=1_000_000),
    # --- Foundry agent
    _opt("agent", "(none: a model)",
         "Talk to this Foundry Agent Service agent instead of a model; needs --agent-project and "
         "Entra ID (az login), not an API key.", _G, "NAME", example="<your-agent-name>"),
    _opt("agent_project", "(none)", "Foundry project that holds the agent (with --agent).", _G,
         "NAME", example="<your-project-name>"),
    _opt("agent_version", "(the agent's latest)", "Agent version to use (with --agent).", _G,
         "VERSION"),
    _opt("conversation_id", "(a new conversation)",
         "Continue this agent conversation (with --agent).", _G, "ID"),
    # --- conversation
    _opt("instructions", "(service default)",
         "System instructions for the assistant (not with --agent: the agent has its own).", _V),
    _opt("greet", "off", "The assistant speaks first, before you say anything.", _V,
         kind="bool"),
    _opt("greet_instructions", "(none)",
         "What the assistant's first words should do, e.g. 'Welcome the user briefly' (needs "
         "--greet).", _V),
    _opt("voice", "(service default)",
         "Voice name, e.g. en-US-Ava:DragonHDLatestNeural or alloy.", _V, "NAME"),
    _opt("voice_type", "(inferred from --voice)",
         "azure-standard, azure-custom, azure-personal or openai.", _V, "TYPE",
         choices=VOICE_TYPES),
    _opt("voice_temperature", "(service default)", "Azure HD voice temperature, {range}.", _V,
         "FLOAT", low=0.0, high=1.0),
    _opt("voice_endpoint_id", "(none)",
         "Deployment id of an azure-custom voice (required for that type).", _V, "ID"),
    _opt("voice_model", "(none)",
         "Base model of an azure-personal voice, e.g. DragonLatestNeural (required for that "
         "type).", _V, "NAME"),
    _opt("modalities", "text,audio", "Response modalities: text,audio or text.", _V, "LIST"),
    _opt("transcription_model", "azure-speech (whisper-1 for gpt-realtime models)",
         "Model transcribing your speech, or none.", _V, "NAME", example="azure-speech"),
    _opt("language", "(auto)",
         "Transcription language hint: BCP-47 such as en-US, or a list such as en,fr.", _V,
         "LANG"),
    # --- turn detection
    _opt("vad", "server_vad",
         "Turn detection: server_vad, azure_semantic_vad, azure_semantic_vad_multilingual, "
         "semantic_vad, or none (no automatic turns).", _T, "TYPE", choices=(*VAD_TYPES, "none")),
    _opt("vad_threshold", "(service default, 0.5)",
         "Speech activation threshold, {range} (not semantic_vad).", _T, "FLOAT", low=0.0,
         high=1.0),
    _opt("vad_eagerness", "(service default, auto)",
         "How soon semantic_vad ends a turn: low, medium, high or auto (semantic_vad only).",
         _T, "LEVEL", choices=EAGERNESS),
    _opt("prefix_padding_ms", "(service default)",
         "Audio kept before detected speech, {range} ms.", _T, "MS", low=0, high=5000),
    _opt("silence_duration_ms", "(service default, 500)", "Silence that ends a turn, {range} ms.",
         _T, "MS", low=50, high=5000),
    _opt("remove_filler_words", "(service default, off)",
         "Ignore filler words (um, ah) as turn starts; azure semantic VADs only.", _T,
         kind="bool", negative="--keep-filler-words"),
    _opt("eou_model", "none",
         "End-of-utterance model: semantic_detection_v1, semantic_detection_v1_multilingual or "
         "none (server_vad and azure semantic VADs).", _T, "MODEL", choices=EOU_MODELS),
    _opt("eou_threshold", "(service default)",
         "End-of-utterance threshold: low, medium, high or default; on 2025-05-01-preview a "
         "number 0 to 1.", _T, "LEVEL"),
    _opt("eou_timeout_ms", "(service default, 1000)", "End-of-utterance timeout, {range} ms.", _T,
         "MS", low=1, high=60_000),
    _opt("interrupt", "on", "Let speech interrupt the assistant (barge-in).", _T, kind="bool"),
    _opt("auto_truncate", "off",
         "Let the service truncate interrupted replies instead of the client.", _T, kind="bool"),
    # --- audio
    _opt("noise_reduction", "azure_deep_noise_suppression",
         "azure_deep_noise_suppression, near_field, far_field (gpt-realtime models) or none.",
         _A, "TYPE", choices=NOISE_REDUCTION),
    _opt("echo_cancellation", "on", "Server-side echo cancellation (for open speakers).", _A,
         kind="bool"),
    _opt("echo_reference", "off",
         "Send what the speaker plays as the echo reference (stereo input) for server echo "
         "cancellation; API 2026-06-01-preview or later.", _A, kind="bool"),
    _opt("input_device", "(system default)",
         "Microphone: index or name substring (see voicelive devices).", _A, "DEVICE"),
    _opt("output_device", "(system default)",
         "Speaker: index or name substring (see voicelive devices).", _A, "DEVICE"),
    _opt("prebuffer_ms", "40", "Audio buffered before a reply starts playing, {range} ms.", _A,
         "MS", low=0, high=2000),
    _opt("chunk_ms", "20", "Microphone audio per message, {range} ms.", _A, "MS", low=10,
         high=100),
    _opt("quiet_hold_ms", "200",
         "Near-silent microphone audio (peaks below -36 dBFS) goes in batches of up to this "
         "much once there has been no louder sound for 2 s (less CPU); anything louder goes at "
         "once; {range} ms, 0 = never batch.",
         _A, "MS", low=0, high=1000),
    _opt("output_latency_ms", "20", "Speaker buffer PortAudio keeps, {range} ms: lower is "
         "snappier, higher survives a busy machine.", _A, "MS", low=1, high=1000),
    _opt("device_rate", "(24000 if the device takes it, else its own)",
         "Open the audio devices at this rate (Hz, {range}) and resample.", _A, "HZ", low=8000,
         high=192_000, example="48000"),
    _opt("input_file", "(microphone)",
         "Read the user's audio from this WAV file instead of the microphone.", _A, "WAV"),
    _opt("output_file", "(speaker)",
         "Write the assistant's audio to this WAV file instead of the speaker.", _A, "WAV"),
    # --- logging and mode
    _opt("log_file", "voicelive.log", "Debug log file (mode 0600, secrets redacted), or none.",
         _L, "PATH"),
    _opt("log_level", "DEBUG", "Log file level: DEBUG, INFO, WARNING, ERROR or CRITICAL.", _L,
         "LEVEL", choices=LOG_LEVELS),
    _opt("stats_json", "(none)",
         "Write per-turn latency and session statistics as JSON to this file at exit.", _L,
         "FILE"),
    _opt("record", "(none)", "Record the conversation's audio to this .wav file.", _L,
         "FILE.wav", example="conversation.wav"),
    _opt("transcript", "(none)",
         "Write the conversation's text to this file: Markdown (.md) or JSON lines (.jsonl).",
         _L, "FILE", example="conversation.md"),
    _opt("debug", "off", "Show tracebacks on errors.", _L, kind="bool"),
    _opt("simulate", "off", "Talk to the bundled offline simulator instead of Azure.", _L,
         kind="bool"),
    # --- tools
    _opt("mcp_config", "(none: no tools)",
         "MCP servers whose tools the assistant may call: an mcpServers JSON file as Claude "
         "Desktop, Cursor and VS Code use (README \"Tools\").", _TL, "FILE",
         example="examples/mcp/mcp.json"),
    _opt("approve", "(none: every call is asked)",
         "Tools that run without asking: comma-separated patterns on server.tool, as the "
         "prompt names them (codes.*, *.lookup_code).", _TL, "PATTERNS", example="codes.*"),
    _opt("tool_timeout", "30", "Seconds one tool call may take ({range}).", _TL, "S",
         low=1.0, high=600.0),
)  # fmt: skip

SPECS: Final[dict[str, OptionSpec]] = {spec.dest: spec for spec in OPTIONS}

_TYPES: Final[dict[str, Any]] = {"text": str, "int": int, "float": float, "bool": bool}


def help_text(spec: OptionSpec) -> str:
    """The ``--help`` line of ``spec``: meaning, variables and default."""
    return f"{spec.meaning} [env var: {', '.join(spec.envvars)}] [default: {spec.default}]"


def parameters() -> list[inspect.Parameter]:
    """The Typer parameters of ``voicelive chat``, one per row, all defaulting to None.

    None means "not given": :mod:`voicelive.config` then fills in the environment, ``.env`` or
    the settings' default. Typer converts each value to its kind and refuses numbers out of
    range and words not among the choices (any case; the value becomes the listed spelling).
    """
    params = []
    for spec in OPTIONS:
        kind = Literal.__getitem__(spec.choices) if spec.kind == "choice" else _TYPES[spec.kind]
        decls = f"{spec.flag}/{spec.negative}" if spec.negative else spec.flag
        option = typer.Option(
            decls,
            help=help_text(spec),
            metavar=spec.metavar or None,
            show_default=False,
            min=spec.low,
            max=spec.high,
            case_sensitive=False,
        )
        annotation = Annotated[kind | None, option]  # type: ignore[valid-type]
        params.append(
            inspect.Parameter(
                spec.dest, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation
            )
        )
    return params


def options_markdown() -> str:
    """A Markdown table ``flag | variable | default | meaning`` of every option, for the README."""
    lines = ["| flag | variable | default | meaning |", "|---|---|---|---|"]
    for spec in OPTIONS:
        flag = f"`{spec.flag}` / `{spec.negative}`" if spec.negative else f"`{spec.flag}`"
        variables = "<br>".join(f"`{name}`" for name in spec.envvars)
        meaning = spec.meaning.replace("<", "&lt;").replace(">", "&gt;")  # not HTML tags
        lines.append(f"| {flag} | {variables} | {spec.default} | {meaning} |")
    return "\n".join(lines) + "\n"


_ENV_HEADER = """\
# voicelive configuration: copy to .env in the directory you run voicelive from.
# Generated from src/voicelive/options.py (python -m voicelive.options > .env.example).
# Precedence: command-line flag > environment variable > .env > default.
# Every line is commented out, so the defaults apply until you uncomment one.
# Empty values count as unset. Booleans: 1/true/yes/on or 0/false/no/off.
# Never commit a real key: .env is in .gitignore.
"""


def env_example() -> str:
    """The text of ``.env.example``: every option, grouped, commented out, wrapped at 100."""
    import textwrap

    out = [_ENV_HEADER]
    group = ""
    for spec in OPTIONS:
        if spec.group != group:
            group = spec.group
            out.append(f"\n# ===== {group} =====\n")
        flag = f"{spec.flag} / {spec.negative}" if spec.negative else spec.flag
        comment = textwrap.wrap(
            f"{flag}: {spec.meaning} Default: {spec.default}.", 98, break_on_hyphens=False
        )
        if len(spec.envvars) > 1:
            comment.append(f"Also read as {', '.join(spec.envvars[1:])} (the quickstart's name).")
        out.append("\n" + "".join(f"# {line}\n" for line in comment))
        out.append(f"# {spec.variable}={spec.example}\n")
    return "".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(env_example(), end="")
