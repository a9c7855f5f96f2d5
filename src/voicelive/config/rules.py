"""The cross-option rules of the configuration: the converted values checked against each
other and given their final form (:mod:`voicelive.config.resolve` converts them first).

Two rules are data in the table, :class:`~voicelive.config.options.OptionSpec` ``vads`` and
``needs``: a turn-detection knob only for the VAD types that have it; an option only with the
one it needs (``--greet-instructions`` ``--greet``, the voice options ``--voice``, the agent's
``--agent`` and it ``--agent-project``, the EOU threshold and timeout ``--eou-model``, the tool
options ``--mcp-config``). The rest are written here: the EOU threshold a level (a number on
2025-05-01-preview); ``--auto-truncate`` needs 2025-10-01 or later; a voice needs a voice type,
inferred or given, and the id or model that type needs; ``--language`` a transcription model;
a device and a file for the same direction exclude each other; the endpoint is https/wss
(http/ws for loopback hosts only), the placeholder :data:`SIMULATOR_ENDPOINT` under
``--simulate``; a Foundry agent takes no ``--instructions``, ``--model`` or API key (Entra ID
only); ``--echo-reference`` needs echo cancellation and 2026-06-01-preview or later;
``--proxy`` is a proxy URL or none (``--simulate`` makes it none unless given); ``--record`` is
a ``.wav`` and ``--transcript`` a ``.md`` or ``.jsonl`` file in an existing directory.

The first rule broken refuses, the table's first, with the one sentence
:class:`~voicelive.config.resolve._Values` makes (:class:`~voicelive.errors.ConfigError`,
exit 2).
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from voicelive.config.options import OPTIONS, SPECS
from voicelive.config.settings import DIRECT, Secret, uses_legacy_eou_fields
from voicelive.connection.proxy import check_proxy_url
from voicelive.errors import ConfigError
from voicelive.protocol.session_payload import (
    VAD_TYPES,
    VOICE_TYPES,
    infer_voice_type,
    supports_auto_truncate,
    supports_echo_reference,
)

if TYPE_CHECKING:
    from voicelive.config.resolve import _Values

SIMULATOR_ENDPOINT = "simulator"
"""Placeholder endpoint under ``--simulate``; ``run_chat`` replaces it with the simulator's URL."""

EOU_LEVELS = ("low", "medium", "high", "default")
TRANSCRIPT_SUFFIXES = (".md", ".jsonl")
_NO_SPACES = {
    "model": "a model name without spaces, such as gpt-4o",
    "transcription_model": "a model name such as azure-speech or whisper-1, or none",
    "agent": "an agent name without spaces",
    "agent_project": "a project name without spaces",
    "agent_version": "a version without spaces",
    "conversation_id": "a conversation id without spaces",
}
_NEEDED_FOR = {
    "agent": ", the agent to talk to",
    "agent_project": ", the Foundry project that holds it",
}
"""What the needed option is for, where its name alone does not say."""
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*(,[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*)*$")


def check(v: _Values) -> None:
    """Check the values against each other and give them their final form; ConfigError."""
    api_version = v.effective("api_version")
    _text_shapes(v)
    _the_tables_rules(v)
    _connection(v)
    _session(v, api_version)
    _turn_detection(v, api_version)
    _files(v)
    _tools(v, api_version)


def _the_tables_rules(v: _Values) -> None:
    """The rules the table holds as data: ``vads`` (a turn-detection knob given for a ``--vad``
    that has none such) and ``needs`` (an option given without the one it needs)."""
    vad = v.effective("vad")
    for spec in OPTIONS:
        if spec.vads is not None and v.given(spec.dest) and vad not in spec.vads:
            *most, last = [name for name in VAD_TYPES if name in spec.vads]
            listed = f"{', '.join(most)} or {last}" if most else last
            v.refuse(spec.dest, f"applies only to --vad {listed}, but --vad is {vad}")
    for dest in ("vad", "eou_model", "noise_reduction"):  # the word none: no VAD, model, filter
        if v[dest] == "none":
            v.values[dest] = None
    for spec in OPTIONS:  # after the word none is None: --eou-model none has no threshold
        if spec.needs and v.given(spec.dest) and not v[spec.needs]:
            needed = SPECS[spec.needs]
            why = _NEEDED_FOR.get(spec.needs, "")
            v.refuse(spec.dest, f"needs {needed.flag} ({needed.variable}){why}")


def _text_shapes(v: _Values) -> None:
    """Text options whose value alone is wrong (before any rule between options)."""
    api_key = v["api_key"]
    if api_key is not None:
        if any(ch.isspace() or not ch.isprintable() for ch in api_key):
            v.fail("api_key", "a key without spaces or control characters")
        v.values["api_key"] = Secret(api_key)
    scope = v["token_scope"]
    if scope is not None and (not scope.startswith("https://") or " " in scope):
        v.fail("token_scope", "an https:// scope such as https://ai.azure.com/.default")
    for dest, expected in _NO_SPACES.items():
        if any(ch.isspace() for ch in v[dest] or ""):
            v.fail(dest, expected)


def _connection(v: _Values) -> None:
    v.values["endpoint"] = SIMULATOR_ENDPOINT if v["simulate"] else _endpoint(v)
    proxy = v["proxy"]
    if v["simulate"] and proxy is None:  # the bundled simulator is on this machine's loopback,
        v.values["proxy"] = DIRECT  # which no proxy from the environment could reach
    elif proxy is not None and proxy.strip().lower() == DIRECT:
        v.values["proxy"] = DIRECT
    elif proxy is not None and (why := check_proxy_url(proxy)) is not None:
        v.fail("proxy", why)
    if not v.given("agent"):
        return
    if v.given("api_key"):
        v.refuse(
            "api_key",
            "cannot be used with --agent: agent sessions accept only Microsoft Entra ID, so "
            "remove the key and use `az login` (Entra ID) instead",
        )
    if v.given("model"):
        v.refuse("model", "does not apply with --agent: the agent's own model answers")
    if v.given("instructions"):
        v.refuse(
            "instructions",
            "cannot be combined with --agent: the agent has its own instructions (edit them on "
            "the agent in Foundry)",
        )


def _endpoint(v: _Values) -> str:
    endpoint: str | None = v["endpoint"]
    if endpoint is None:
        raise ConfigError(
            "No Voice Live endpoint is configured: set AZURE_VOICELIVE_ENDPOINT (or --endpoint) "
            "to https://<your-resource>.services.ai.azure.com, plus AZURE_VOICELIVE_API_KEY or "
            "`az login` for Entra ID, in the environment, in .env or in the config file "
            "(`voicelive config path`); or try the offline simulator with `voicelive chat "
            "--simulate`."
        )
    try:
        parts = urlsplit(endpoint)
        scheme, host, _ = parts.scheme.lower(), parts.hostname, parts.port  # port: ValueError
    except ValueError:
        scheme, host = "", None
    if scheme not in ("https", "wss", "http", "ws") or not host:
        v.fail("endpoint", "an https:// or wss:// URL such as https://<name>.services.ai.azure.com")
    if parts.username is not None or parts.password is not None:
        v.refuse("endpoint", "must not contain a user name or password; use --api-key")
    if scheme in ("http", "ws") and not is_loopback(host):
        v.refuse(
            "endpoint",
            f"uses unencrypted {parts.scheme}:// for {host}, which is allowed only for loopback "
            "hosts (127.0.0.0/8, ::1, localhost) because credentials are never sent in clear; "
            "use https:// or wss://",
        )
    return endpoint


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (``host`` without brackets)."""
    try:
        return host.lower() == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _session(v: _Values, api_version: str) -> None:
    voice = v["voice"]
    voice_type = v["voice_type"] or (voice and infer_voice_type(voice))
    if voice is not None and voice_type is None:
        v.fail(
            "voice",
            "an Azure voice name such as en-US-AvaNeural or an OpenAI voice such as alloy "
            f"(for other voices set --voice-type to one of {', '.join(VOICE_TYPES)})",
        )
    if voice is not None:
        v.values["voice_type"] = voice_type
    if v.given("voice_temperature") and voice_type == "openai":
        v.refuse("voice_temperature", "applies only to Azure voices, not to openai voices")
    for dest, owner in (("voice_endpoint_id", "azure-custom"), ("voice_model", "azure-personal")):
        if v.given(dest) and voice_type != owner:
            v.refuse(dest, f"applies only to --voice-type {owner}")
        if not v.given(dest) and voice_type == owner:
            v.fail(dest, f"set for an {owner} voice")
    if v.given("modalities"):
        words = {word.strip().lower() for word in v["modalities"].split(",") if word.strip()}
        if words not in ({"text", "audio"}, {"text"}):
            v.fail("modalities", "text,audio or text")
        v.values["modalities"] = ("text", "audio") if "audio" in words else ("text",)
    # gpt-realtime models transcribe with OpenAI models; the others with azure-speech.
    realtime = v.effective("model").startswith("gpt-realtime")
    transcription = v["transcription_model"] or ("whisper-1" if realtime else "azure-speech")
    v.values["transcription_model"] = None if transcription.lower() == "none" else transcription
    if v.given("language"):
        if not _LANGUAGE.match(v["language"]):
            v.fail("language", "a language tag such as en-US, or a list such as en,fr")
        if v["transcription_model"] is None:
            v.refuse("language", "needs a transcription model, but --transcription-model is none")
    if v["echo_reference"]:
        if v["echo_cancellation"] is False:
            v.refuse(
                "echo_reference",
                "is the reference for server echo cancellation, which --no-echo-cancellation "
                f"({v.set_by('echo_cancellation')}) turns off",
            )
        if not supports_echo_reference(api_version):
            v.refuse(
                "echo_reference",
                f"needs --api-version 2026-06-01-preview or later, not {api_version}",
            )


def _turn_detection(v: _Values, api_version: str) -> None:
    if v["auto_truncate"] and not supports_auto_truncate(api_version):
        v.refuse("auto_truncate", f"needs --api-version 2025-10-01 or later, not {api_version}")
    threshold = v["eou_threshold"]
    if threshold is not None and not uses_legacy_eou_fields(api_version):
        if threshold.lower() not in EOU_LEVELS:
            v.fail("eou_threshold", "one of " + ", ".join(EOU_LEVELS))
        v.values["eou_threshold"] = threshold.lower()
    elif threshold is not None:  # 2025-05-01-preview: a number from 0 to 1, kept as text
        try:
            number = float(threshold)
        except ValueError:
            number = float("nan")
        if not 0 <= number <= 1:  # also refuses nan and inf
            v.fail("eou_threshold", "a number from 0 to 1")
        v.values["eou_threshold"] = f"{number:g}"


def _files(v: _Values) -> None:
    """Audio files, the log, the statistics, the recording and the transcript."""
    input_file = v["input_file"]
    if input_file is not None and not input_file.is_file():
        v.fail("input_file", "an existing WAV file")
    resume = v["resume"]
    if resume is not None and (resume.suffix.lower() != ".jsonl" or not resume.is_file()):
        v.fail("resume", "an existing .jsonl transcript (written with --transcript FILE.jsonl)")
    for dest in ("output_file", "stats_json"):
        if v.given(dest) and (v[dest].is_dir() or not v[dest].parent.is_dir()):
            v.fail(dest, "a file path in an existing directory")
    for file, device in (("input_file", "input_device"), ("output_file", "output_device")):
        if v.given(file) and v.given(device):
            v.refuse(device, f"cannot be combined with --{file.replace('_', '-')}")
    for dest, suffixes in (("record", (".wav",)), ("transcript", TRANSCRIPT_SUFFIXES)):
        path = v[dest]
        if path is None:
            continue
        if path.suffix.lower() not in suffixes or path.is_dir() or not path.parent.is_dir():
            v.fail(dest, f"a {' or '.join(suffixes)} file path in an existing directory")
        for other in ("input_file", "output_file"):  # would be overwritten or written twice
            if v[other] is not None and v[other].resolve() == path.resolve():
                v.refuse(dest, f"is the same file as --{other.replace('_', '-')}")
    if v.given("log_file"):
        log_file = v["log_file"]
        v.values["log_file"] = None if log_file.lower() == "none" else Path(log_file).expanduser()
        if v["log_file"] is not None and v["log_file"].is_dir():
            v.fail("log_file", "a file path (not a directory) or none")


def _tools(v: _Values, api_version: str) -> None:
    """``--mcp-config`` read and checked here (``${VAR}`` comes from the environment); the
    tools modules are imported only when it is given."""
    if not v.given("mcp_config"):
        return
    from voicelive.tools.catalog import service_mcp_refusal
    from voicelive.tools.config import load_mcp_config

    mcp = load_mcp_config(v["mcp_config"], os.environ)
    refusal = service_mcp_refusal(api_version, mcp.service)
    if refusal is not None:
        raise ConfigError(refusal)
    v.values["mcp_config"] = mcp
    patterns = (v["approve"] or "").split(",")
    v.values["approve"] = tuple(p.strip() for p in patterns if p.strip())
