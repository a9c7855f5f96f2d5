"""The one exception family of voicelive, and the exit codes the CLI maps it to.

Every failure a user can meet ends as a :class:`VoiceLiveError` whose ``str()`` is one plain
sentence saying what went wrong and what to do. Library exceptions (websockets, PortAudio,
azure-identity, OS errors) are translated at the edge where they happen; code above the I/O
shells only ever sees this family. Messages must never contain a secret.

::

    VoiceLiveError                 exit 1   anything else that went wrong
    ├── ConfigError                exit 2   bad flag / variable value, missing endpoint
    ├── AuthError                  exit 3   no credential, 401/403, token fetch failed
    ├── ConnectError               exit 4   endpoint unreachable, 404, 429, other handshake failure
    ├── ConnectionLost             exit 5   socket closed or broke after the session started
    ├── ServerError                exit 6   the service rejected the session (error in setup)
    ├── ProtocolError              exit 7   the service sent something that is not the protocol
    └── AudioDeviceError           exit 8   no PortAudio, no device, device failed or vanished

``voicelive doctor`` exits 9 (:data:`EXIT_DOCTOR_FAILED`) when a check failed, 0 when none did
(warnings included).

Exit 0 is a normal quit (``q``, end of a headless run); exit 130 is Ctrl+C / SIGINT and 143 is
SIGTERM (the shell conventions), both still a clean shutdown.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_DOCTOR_FAILED = 9
"""``voicelive doctor``: at least one check failed."""


class VoiceLiveError(Exception):
    """Base of every error voicelive reports; ``str(err)`` is the user-facing sentence."""

    exit_code: int = 1


class ConfigError(VoiceLiveError):
    """A flag, environment variable or ``.env`` value is missing or out of range."""

    exit_code = 2


class AuthError(VoiceLiveError):
    """No usable credential, or the service refused the one we sent (401/403)."""

    exit_code = 3


class ConnectError(VoiceLiveError):
    """The WebSocket could not be opened: DNS, refused, timeout, 404, 429, other status.

    ``retryable``: the same request may succeed later (network trouble, 429, 5xx); a refusal
    of the request itself (400, 404, a redirect) is not. ``retry_after_s``: the service's
    ``Retry-After``, when it sent one.
    """

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after_s: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.status = status
        """The handshake's HTTP status, when the service answered with one."""


class ConnectionLost(VoiceLiveError):
    """The WebSocket closed or broke after the session had started.

    ``close_code``: the close frame's code, None when the connection broke without one.
    """

    exit_code = 5

    def __init__(self, message: str, *, close_code: int | None = None) -> None:
        super().__init__(message)
        self.close_code = close_code


class ServerError(VoiceLiveError):
    """The service answered the session setup with an ``error`` event."""

    exit_code = 6


class ProtocolError(VoiceLiveError):
    """The service sent something that is not the Voice Live protocol during setup."""

    exit_code = 7


class AudioDeviceError(VoiceLiveError):
    """PortAudio is missing, a device cannot be found or opened, or it stopped mid-session."""

    exit_code = 8


EXIT_CODES: dict[str, int] = {
    "ok": EXIT_OK,
    "error": VoiceLiveError.exit_code,
    "config": ConfigError.exit_code,
    "auth": AuthError.exit_code,
    "connect": ConnectError.exit_code,
    "connection-lost": ConnectionLost.exit_code,
    "server": ServerError.exit_code,
    "protocol": ProtocolError.exit_code,
    "audio": AudioDeviceError.exit_code,
    "doctor": EXIT_DOCTOR_FAILED,
    "interrupted": EXIT_INTERRUPTED,
    "terminated": EXIT_TERMINATED,
}
