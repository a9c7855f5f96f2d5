"""``run_doctor``: every check in order, each reported as soon as it is known.

Order: the software (``python``, ``packages``, ``portaudio``), the sound (``devices``,
``microphone-level``, ``headset``, ``echo``), then the way to the service (``endpoint``,
``tls``, ``credential``, ``handshake``). A check whose prerequisite failed is reported as
``not checked`` (a fail). With ``--simulate`` the bundled simulator is started first, as
``chat`` does, and the network checks go to it. Blocking checks run on worker threads, so the
simulator keeps answering on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable

from voicelive.config.settings import Secret, Settings
from voicelive.doctor import audio_checks, local_checks, network_checks
from voicelive.doctor.check import Check, not_checked, ok

log = logging.getLogger(__name__)

AUDIO_CHECKS = ("devices", "microphone-level", "headset", "echo")
NETWORK_CHECKS = ("endpoint", "tls", "credential", "handshake")


@dataclasses.dataclass
class Hooks:
    """How the runner talks to its caller (the CLI's renderer); all called on the loop's thread
    except ``on_level``, called from the recording thread.

    ``report(check)`` hears each result; ``before_level()`` runs before the microphone is
    recorded (the prompt to speak); ``on_level(seconds, dBFS)`` is the live level."""

    report: Callable[[Check], None]
    spoken: bool = False
    """Ask for speech (a person is there) rather than record the room (``--json``)."""
    before_level: Callable[[], None] = lambda: None
    on_level: Callable[[float, float], None] | None = None


@contextlib.asynccontextmanager
async def _endpoint(settings: Settings) -> AsyncIterator[Settings]:
    """The bundled simulator under ``--simulate`` (settings pointed at it), else as they are."""
    if not settings.simulate:
        yield settings
        return
    from voicelive.simulator import Simulator

    simulator = Simulator()
    await simulator.start()
    try:
        connection = dataclasses.replace(
            settings.connection, endpoint=simulator.endpoint, api_key=Secret("simulator")
        )
        yield dataclasses.replace(settings, connection=connection)
    finally:
        await simulator.close()


async def _audio(settings: Settings, hooks: Hooks, out: list[Check]) -> None:
    def add(check: Check) -> None:
        out.append(check)
        hooks.report(check)

    portaudio_check = await asyncio.to_thread(local_checks.check_portaudio)
    add(portaudio_check)
    if portaudio_check.status == "fail":
        for name in AUDIO_CHECKS:
            add(not_checked(name, "PortAudio is missing"))
        return
    devices, ends = await asyncio.to_thread(audio_checks.check_devices, settings.audio)
    add(devices)
    if devices.status == "fail":
        for name in AUDIO_CHECKS[1:]:
            add(not_checked(name, "the devices cannot be opened"))
        return
    if ends is None:  # WAV files instead of the devices
        for name in AUDIO_CHECKS[1:]:
            add(ok(name, "not used: WAV files replace the devices"))
        return
    hooks.before_level()
    add(await asyncio.to_thread(audio_checks.check_level, ends.input, hooks.spoken, hooks.on_level))
    add(audio_checks.check_headset(ends.input))
    add(await asyncio.to_thread(audio_checks.check_echo, ends))


async def _network(
    settings: Settings, connection_error: str | None, hooks: Hooks, out: list[Check]
) -> None:
    def add(check: Check) -> None:
        out.append(check)
        hooks.report(check)

    if connection_error is not None:
        add(Check("endpoint", "fail", "the connection settings are not usable", connection_error))
        for name in NETWORK_CHECKS[1:]:
            add(not_checked(name, "no usable endpoint"))
        return
    from voicelive.auth import make_auth
    from voicelive.connection.client import build_url

    async with _endpoint(settings) as settings:
        conn = settings.connection
        url = build_url(conn.endpoint, conn.api_version, conn.model, agent=conn.agent)
        endpoint = await network_checks.check_endpoint(url)
        add(endpoint)
        if endpoint.status == "fail":
            for name in NETWORK_CHECKS[1:]:
                add(not_checked(name, "the endpoint does not resolve"))
            return
        add(await network_checks.check_tls(url, conn.proxy, conn.trust))
        auth = make_auth(conn.api_key, conn.token_scope)
        try:
            credential = await network_checks.check_credential(settings, auth)
            add(credential)
            if credential.status == "fail":
                add(not_checked("handshake", "no credential"))
                return
            add(await network_checks.check_handshake(settings, auth))
        finally:
            await auth.close()


async def run_doctor(
    settings: Settings, hooks: Hooks, connection_error: str | None = None
) -> list[Check]:
    """Run every check; returns the results in order (each was also passed to ``hooks.report``).

    ``connection_error``: why the connection settings could not be resolved (then the network
    checks are not run and ``endpoint`` fails with it). Raises nothing a check can meet: each
    failure is a ``fail`` result.
    """
    out: list[Check] = []
    for check in (local_checks.check_python(), local_checks.check_packages()):
        out.append(check)
        hooks.report(check)
    await _audio(settings, hooks, out)
    await _network(settings, connection_error, hooks, out)
    return out
