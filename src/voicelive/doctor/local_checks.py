"""The checks of this machine's software: ``python``, ``packages``, ``portaudio``.

Blocking (``portaudio`` starts PortAudio, which enumerates the devices): run them off the
event loop. Each returns a :class:`~voicelive.doctor.check.Check` and raises nothing.
"""

from __future__ import annotations

import logging
import platform
import sys
from importlib import metadata

from voicelive import __version__
from voicelive.doctor.check import Check, fail, ok, warn
from voicelive.errors import AudioDeviceError

log = logging.getLogger(__name__)

MIN_PYTHON = (3, 11)
KEY_PACKAGES = ("websockets", "sounddevice", "numpy", "soxr", "azure-identity", "typer", "mcp")
"""The distributions voicelive cannot run without (pyproject's dependencies)."""


def check_python() -> Check:
    version = platform.python_version()
    detail = f"Python {version} ({sys.platform}), voicelive {__version__}"
    if sys.version_info[:2] < MIN_PYTHON:
        return fail("python", detail, "install Python 3.11 or later and reinstall voicelive")
    return ok("python", detail)


def check_packages() -> Check:
    found, missing = [], []
    for name in KEY_PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        return fail(
            "packages",
            f"missing: {', '.join(missing)}",
            "reinstall voicelive (pip install --force-reinstall voicelive) so its dependencies "
            "come with it",
        )
    return ok("packages", ", ".join(found))


def check_portaudio() -> Check:
    from voicelive.audio import portaudio

    try:
        sd = portaudio.sounddevice()
    except AudioDeviceError as err:
        return fail("portaudio", "the PortAudio library was not found", str(err))
    version = str(sd.get_portaudio_version()[1]).split(",")[0]  # without the long revision
    try:
        apis = sorted({str(api["name"]) for api in sd.query_hostapis()})
    except sd.PortAudioError as exc:  # initialised, yet it cannot list: odd but not fatal here
        log.info("host API listing failed: %s", exc)
        apis = []
    if not apis:
        return warn("portaudio", f"{version}, with no host API", "reinstall PortAudio")
    return ok("portaudio", f"{version}; host APIs: {', '.join(apis)}")
