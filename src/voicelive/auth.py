"""Credentials that produce handshake headers, fresh on every connect.

Two kinds, one small protocol: :class:`ApiKeyAuth` sends ``api-key``; :class:`EntraAuth` fetches
a Microsoft Entra token from ``azure.identity.aio.DefaultAzureCredential`` on every
``headers()`` call (azure-identity caches it and renews it near expiry) and sends
``Authorization: Bearer``. ``close()`` releases the credential's HTTP sessions; call it on
every exit path. Errors come out as :class:`~voicelive.errors.AuthError` without the secret.

The token requests take the WebSocket's network path: the same proxy (``--proxy``: a URL, none,
or the environment's, :func:`~voicelive.connection.proxy.azure_transport_options`) and the
same trusted roots (``--trust``, :func:`~voicelive.connection.tls.client_context`), through one
aiohttp session this module owns.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from voicelive.config.settings import Secret
from voicelive.errors import AuthError

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

log = logging.getLogger(__name__)


class Auth(Protocol):
    """Produces the credential headers for one WebSocket handshake."""

    description: str

    async def headers(self) -> dict[str, str]:
        """Headers for the next handshake. Raises AuthError. Cancel-safe."""
        ...

    async def close(self) -> None:
        """Release resources. Idempotent."""
        ...


class ApiKeyAuth:
    """``api-key: <key>``."""

    description = "API key"

    def __init__(self, key: Secret) -> None:
        if not key.strip():
            raise AuthError("The API key is empty: set AZURE_VOICELIVE_API_KEY or --api-key.")
        self._key = key

    async def headers(self) -> dict[str, str]:
        return {"api-key": str(self._key)}

    async def close(self) -> None:
        return None


class EntraAuth:
    """``Authorization: Bearer <token>`` from azure-identity, for ``scope``.

    ``credential`` defaults to ``DefaultAzureCredential()`` (environment, managed identity,
    Azure CLI, …); tests pass any ``AsyncTokenCredential``.
    """

    description = "Microsoft Entra ID"

    def __init__(
        self,
        scope: str,
        credential: AsyncTokenCredential | None = None,
        *,
        proxy: str | None = None,
        trust: str = "system",
    ) -> None:
        self._scope = scope
        self._credential = credential
        self._proxy = proxy
        self._trust = trust
        self._session: Any = None
        self._closed = False

    def credential_options(self) -> dict[str, Any]:
        """Keyword arguments for an azure-identity async credential: the proxy, and a
        transport whose aiohttp session trusts the roots of ``trust``. Needs a running loop;
        the session is closed by :meth:`close`."""
        import aiohttp
        from azure.core.pipeline.transport import AioHttpTransport

        from voicelive.connection.proxy import azure_transport_options
        from voicelive.connection.tls import client_context

        options = azure_transport_options(self._proxy)
        context, _ = client_context(self._trust)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context),
            trust_env=options.get("use_env_settings", True),  # HTTPS_PROXY, NO_PROXY
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,  # as azure-core's own session
        )
        transport = AioHttpTransport(session=self._session, session_owner=False, **options)
        return {**options, "transport": transport}

    async def headers(self) -> dict[str, str]:
        from azure.core.exceptions import ClientAuthenticationError

        if self._credential is None:
            from azure.identity.aio import DefaultAzureCredential

            self._credential = DefaultAzureCredential(**self.credential_options())
        try:
            token = await self._credential.get_token(self._scope)
        except ClientAuthenticationError as exc:
            log.debug("Entra token request failed: %s", exc)
            raise AuthError(
                "Could not get a Microsoft Entra token: run `az login` (or set up another "
                "azure-identity credential), or, for a model (not an --agent), use an API key "
                "with --api-key / AZURE_VOICELIVE_API_KEY."
            ) from None
        log.debug(
            "Entra token obtained for scope %s (expires_on=%s)", self._scope, token.expires_on
        )
        return {"Authorization": f"Bearer {token.token}"}

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._credential is not None:
            await self._credential.close()
        if self._session is not None:
            await self._session.close()


def make_auth(
    api_key: Secret | None, scope: str, *, proxy: str | None = None, trust: str = "system"
) -> Auth:
    """API key when given, else Entra ID (the documented lookup order ends with Entra), whose
    token requests go through ``proxy`` and trust ``trust`` as the WebSocket does."""
    if api_key is not None:
        return ApiKeyAuth(api_key)
    return EntraAuth(scope, proxy=proxy, trust=trust)
