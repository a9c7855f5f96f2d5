"""One chat as a process runs it: the log opened, PortAudio warmed up, the event loop run.

Called by the CLI's ``chat`` once the settings are resolved. Imports the heavy modules
(asyncio, the audio stack, the orchestrator) only here, so ``--help`` never loads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voicelive.errors import ConfigError

if TYPE_CHECKING:
    from voicelive.config.settings import Settings


def chat_main(settings: Settings) -> int:
    """Run :func:`voicelive.chat.run_chat` to its end and return its exit code.

    The log is flushed and closed on every way out. Errors: :class:`ConfigError` (exit 2)
    when the log file cannot be opened; whatever ``run_chat`` raises (the CLI reports it).
    Main thread only (asyncio.run, and PortAudio's start-up moves fd 2).
    """
    from voicelive.logs import configure, native_stderr_to_log, shutdown

    try:
        try:
            configure(settings.log)
        except OSError as err:
            raise ConfigError(
                f"--log-file (VOICELIVE_LOG_FILE) cannot be opened: {err.strerror}; "
                "choose another path or none."
            ) from None
        with native_stderr_to_log():  # PortAudio's C-level chatter goes to the log
            warm_up = None
            audio = settings.audio
            if audio.input_file is None and audio.output_file is None:
                from voicelive.audio.portaudio import warm_up_portaudio

                warm_up = warm_up_portaudio()  # while the chat's modules load
            try:
                import asyncio

                from voicelive.chat import run_chat

                return asyncio.run(run_chat(settings))
            finally:
                if warm_up is not None:  # PortAudio's start-up moves fd 2: let it finish
                    warm_up.join(timeout=5)  # before the stderr capture is undone
    finally:
        shutdown()
