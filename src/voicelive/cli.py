"""The ``voicelive`` command line (Typer): ``chat``, ``doctor``, ``devices``, ``config``,
``simulate`` and ``--version``.

Thin by design: it declares the commands and calls the part that does the work. It is the only
place that prints errors and picks exit codes: a :class:`~voicelive.errors.VoiceLiveError`
becomes ``error: <message>`` on stderr and its ``exit_code`` (tracebacks only with ``--debug``);
Ctrl+C becomes 130; any other exception is a bug, reported as one line (exit 1) without its
message, which could hold anything.

``chat`` has one parameter per row of :data:`voicelive.config.options.OPTIONS` (Typer reads
them from the signature made here); :func:`voicelive.config.resolve.resolve_settings` layers
them over the environment, ``.env`` and the config file, and checks them. Heavy modules
(asyncio, audio, websockets, the simulator server, azure-identity) are imported inside the
commands, so ``--help`` stays fast and works without PortAudio; a test holds this.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from voicelive import __version__
from voicelive.cli_help import PanelledHelpCommand
from voicelive.config.layers import Sources, config_path
from voicelive.config.options import OPTIONS, OptionSpec, help_text
from voicelive.config.resolve import resolve_settings
from voicelive.config.rules import is_loopback
from voicelive.errors import EXIT_INTERRUPTED, ConfigError, VoiceLiveError
from voicelive.simulator.options import FAULTS

if TYPE_CHECKING:
    from voicelive.audio.device_choice import DeviceInfo

app = typer.Typer(
    name="voicelive",  # its help is _main's docstring
    no_args_is_help=True,
    add_completion=False,
    # Plain click help: wraps long variable names instead of cutting them off at 80 columns.
    rich_markup_mode=None,
    # Rich tracebacks can show local variables, and locals can hold the API key.
    pretty_exceptions_enable=False,
)


def _run(body: Callable[[], int], debug: Callable[[], bool]) -> None:
    """Run ``body`` and exit with its code, reporting failures as one line on stderr."""
    import traceback

    try:
        code = body()
    except VoiceLiveError as err:
        if debug():
            traceback.print_exc()
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(err.exit_code) from None
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except BrokenPipeError:  # `voicelive config | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except Exception as err:
        if debug():
            traceback.print_exc()
        typer.echo(
            f"error: internal error ({type(err).__name__}); run with --debug for the traceback.",
            err=True,
        )
        raise typer.Exit(1) from None
    raise typer.Exit(code)


def _warn(text: str) -> None:
    typer.echo(f"warning: {text}", err=True)


def _sources() -> Sources:
    """Where chat, doctor and config read options from besides the flags: the environment,
    ``.env`` in the current directory and the config file; warnings go to stderr."""
    return {
        "environ": os.environ,
        "dotenv_path": Path.cwd() / ".env",
        "config_path": config_path(os.environ),
        "warn": _warn,
    }


def _option(spec: OptionSpec) -> inspect.Parameter:
    """The Typer parameter of one table row: text or an on/off flag, None when not given (the
    values are converted and checked with the other layers', in one place)."""
    option = typer.Option(
        "/".join(spec.flags),
        help=help_text(spec),
        metavar=spec.metavar or None,
        show_default=False,
        rich_help_panel=spec.topic,  # drawn as plain panels by PanelledHelpCommand
    )
    kind = bool if spec.kind == "bool" else str
    annotation = Annotated[kind | None, option]  # type: ignore[valid-type]
    keyword = inspect.Parameter.KEYWORD_ONLY
    return inspect.Parameter(spec.dest, keyword, default=None, annotation=annotation)


def _table_options(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` with one option per table row in place of its ``**values``, after its own:
    Typer reads a command's options from its signature, so the signature is made here."""
    own = inspect.signature(command, eval_str=True).parameters.values()
    kept = [param for param in own if param.kind is not inspect.Parameter.VAR_KEYWORD]
    signature = inspect.Signature([*kept, *(_option(spec) for spec in OPTIONS)])
    command.__signature__ = signature  # type: ignore[attr-defined]
    return command


def _version(value: bool) -> None:
    if value:
        typer.echo(f"voicelive {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Voice chat with Azure AI Voice Live from the terminal.

    Start with `voicelive doctor` (is this side working?) and `voicelive chat --simulate`
    (offline), then set AZURE_VOICELIVE_ENDPOINT and AZURE_VOICELIVE_API_KEY (or `az login`)
    and run `voicelive doctor` and `voicelive chat`.
    """


@app.command(
    short_help="Talk with Voice Live (quit with q + Enter or Ctrl+C).", cls=PanelledHelpCommand
)
@_table_options
def chat(**values: Any) -> None:
    """Talk with Voice Live: speak, listen, interrupt; quit with q + Enter or Ctrl+C.

    Every option can also be set by its environment variable, in a .env file in the current
    directory or in the config file (`voicelive config path`), under its long name: flag >
    environment > .env > --profile's table > the file's top level > default. Values are
    checked before connecting.
    """
    show_traceback = values.get("debug") is True

    def body() -> int:
        nonlocal show_traceback
        settings = resolve_settings(values, **_sources())
        show_traceback = settings.log.debug
        from voicelive.chat_main import chat_main

        return chat_main(settings)

    _run(body, lambda: show_traceback)


def _doctor_body(values: dict[str, Any], as_json: bool) -> int:
    from voicelive.doctor.command import run_command

    connection_error = None
    try:
        settings = resolve_settings(values, **_sources())
    except ConfigError as err:
        # The sound can still be checked: the settings once more as --simulate would take them
        # (no endpoint needed); a bad audio value fails there too and ends the run.
        settings = resolve_settings({**values, "simulate": True}, **_sources())
        connection_error = str(err)
    return run_command(settings, connection_error, as_json)


@app.command(
    short_help="Check the microphone, the speaker, the network and the credential.",
    cls=PanelledHelpCommand,
)
@_table_options
def doctor(
    json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print a JSON list of {name, status, detail, fix}; never waits for a person "
            "(records the room instead of asking you to speak).",
        ),
    ] = False,
    **values: Any,
) -> None:
    """Check this side: Python and packages, PortAudio, the devices at the rates chat uses, the
    microphone's level, a Bluetooth headset in call mode, an echo path from the speaker, and the
    endpoint (DNS, TLS, credential, handshake). Each check is ok, warn or fail with a fix.

    Takes the same options, variables and config file as chat (--simulate checks against the
    bundled simulator). Exit 0 when nothing failed, 9 when a check failed.
    """
    _run(lambda: _doctor_body(values, json), lambda: values.get("debug") is True)


config_app = typer.Typer(
    help="Show the effective configuration and where each value came from.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
app.add_typer(config_app, name="config")


@config_app.callback(invoke_without_command=True)
def config(
    ctx: typer.Context,
    profile: Annotated[
        str | None, typer.Option(metavar="NAME", help="Show with this profile of the file.")
    ] = None,
) -> None:
    """Every option's effective value and where it came from (API key hidden), as `voicelive
    chat` would take it from this directory; `voicelive config path` prints the file's path."""
    if ctx.invoked_subcommand is not None:
        return

    def body() -> int:
        from voicelive.config.resolve import describe

        path = config_path(os.environ)
        rows = describe({"profile": profile}, **_sources())
        typer.echo(f"config file: {path}{'' if path.is_file() else ' (none)'}")
        width = max(len(flag) for flag, _, _ in rows)
        for flag, value, where in rows:
            typer.echo(f"  {flag:<{width}}  {value}  {where}")
        return 0

    _run(body, lambda: False)


@config_app.command("path")
def config_file_path() -> None:
    """Print the config file's path (VOICELIVE_CONFIG, else the user config directory's)."""
    typer.echo(str(config_path(os.environ)))


def format_devices(devices: list[DeviceInfo]) -> str:
    """Render the device list as two tables (inputs, outputs); ``*`` marks the defaults."""
    inputs = [(d, d.max_input_channels, d.is_default_input) for d in devices]
    outputs = [(d, d.max_output_channels, d.is_default_output) for d in devices]
    lines: list[str] = []
    for title, rows in (("Input devices", inputs), ("Output devices", outputs)):
        lines.append(f"{title}:")
        usable = [row for row in rows if row[1] > 0]
        if not usable:
            lines.append("    (none)")
        else:
            lines.append(f"    {'#':>3}  {'channels':>8}  {'rate':>6}  {'host API':<12}  name")
        for device, channels, is_default in usable:
            mark = "*" if is_default else " "
            lines.append(
                f"  {mark} {device.index:>3}  {channels:>8}  {device.default_samplerate:>6.0f}  "
                f"{device.hostapi:<12}  {device.name}"
            )
        lines.append("")
    lines.append(
        "* = default. Choose with --input-device / --output-device: an index or part of a name."
    )
    return "\n".join(lines)


_Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
"""``--debug`` of the commands that take no table options (Typer copies the Option)."""


@app.command(short_help="List audio input and output devices.")
def devices(debug: _Debug = False) -> None:
    """List audio input and output devices (index, channels, default rate, defaults)."""

    def body() -> int:
        from voicelive.audio.device_choice import list_devices
        from voicelive.logs import native_stderr_to_log

        with native_stderr_to_log():  # ALSA's probing chatter is not for the user
            devices = list_devices()
        typer.echo(format_devices(devices))
        return 0

    _run(body, lambda: debug)


@app.command(short_help="Serve the offline Voice Live simulator on loopback.")
def simulate(
    port: Annotated[
        int, typer.Option(min=0, max=65535, metavar="PORT", help="TCP port; 0 picks a free one.")
    ] = 8765,
    host: Annotated[
        str, typer.Option(metavar="HOST", help="Loopback address to listen on.")
    ] = "127.0.0.1",
    key: Annotated[
        str | None,
        typer.Option(
            metavar="KEY",
            help="Require this api-key from clients (default: accept any credential).",
        ),
    ] = None,
    record: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Record every frame to this JSONL file (audio elided)."),
    ] = None,
    speedup: Annotated[
        float,
        typer.Option(
            metavar="FACTOR", help="Replies stream this many times faster than real time."
        ),
    ] = 4.0,
    fault: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Inject a fault scenario (for testing error handling): "
            + ", ".join(sorted(FAULTS))
            + ".",
        ),
    ] = None,
    fault_after: Annotated[
        float, typer.Option(min=0.0, metavar="SECONDS", help="Seconds before a timed fault fires.")
    ] = 1.0,
    jitter_ms: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=5000.0,
            metavar="MS",
            help="Hold each reply delta back a further random 0..MS ms (a jittery network).",
        ),
    ] = 0.0,
    seed: Annotated[
        int | None, typer.Option(metavar="N", help="Seed the jitter, for reproducible runs.")
    ] = None,
    debug: _Debug = False,
) -> None:
    """Serve the offline Voice Live simulator on loopback (a parrot that speaks your words back)."""

    def body() -> int:
        import asyncio

        from voicelive.simulator import serve
        from voicelive.simulator.options import SimulatorOptions

        if not is_loopback(host.strip("[]")):
            raise ConfigError(
                f"--host must be a loopback address (127.0.0.1, ::1, localhost), got {host!r}: "
                "the simulator speaks unencrypted ws://."
            )
        if not speedup > 0:
            raise ConfigError(f"--speedup must be a number greater than 0, got {speedup:g}.")
        if fault is not None and fault not in FAULTS:
            known = ", ".join(sorted(FAULTS))
            raise ConfigError(f"--fault must be one of {known}, got {fault!r}.")
        options = SimulatorOptions(
            api_key=key,
            speedup=speedup,
            record_path=record,
            fault=fault,
            fault_after_s=fault_after,
            jitter_ms=jitter_ms,
            seed=seed,
        )
        if port:
            url = f"ws://{host}:{port}"
            typer.echo(f"voicelive simulator on {url} (Ctrl+C to stop)")
            typer.echo(f"connect with: voicelive chat --endpoint {url}")
        try:
            asyncio.run(serve(host, port, options))
        except OSError as err:
            raise VoiceLiveError(f"Cannot listen on {host}:{port}: {err.strerror}.") from None
        return 0

    _run(body, lambda: debug)


def main() -> None:
    """Console-script entry point (``voicelive``)."""
    app(prog_name="voicelive")


if __name__ == "__main__":  # pragma: no cover
    main()
