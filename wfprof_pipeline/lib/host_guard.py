"""An ASGI guard for the Dagster UI against DNS rebinding and cross-site requests.

The UI has no authentication; what keeps other sites out is that a browser only reaches it through a name it
was given. A rebound DNS name arrives with a forged `Host` (refused with 400 by starlette's
TrustedHostMiddleware); a page of another site posting to it, or opening its websocket, sends its own
`Origin` (refused with 403 here). Requests without an Origin (curl, scripts) are not a browser's cross-site
request and pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> list[str]:
    """The names the UI answers to: the bind address (unless a wildcard), loopback, and `extra` (a proxy's)."""
    names = [*LOCAL_NAMES, *(h.strip().lower() for h in extra if h.strip())]
    bind = bind_host.strip("[]").lower()
    if bind not in ("0.0.0.0", "::", ""):
        names.append(bind)
    return sorted(set(names))


class OriginGuard:
    """403 for a state-changing request or a websocket whose Origin names a host that is not allowed."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = {h.lower() for h in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            changing = scope["type"] == "websocket" or scope.get("method", "GET") not in _SAFE_METHODS
            origin = dict(scope.get("headers") or []).get(b"origin")
            if changing and origin is not None and not self._allowed(origin.decode("latin-1")):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await PlainTextResponse("Forbidden: cross-origin request", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _allowed(self, origin: str) -> bool:
        try:
            host = urlsplit(origin).hostname
        except ValueError:
            return False
        return host is not None and host.lower() in self.hosts


def guard(app: ASGIApp, hosts: Iterable[str]) -> ASGIApp:
    """`app` answering only requests addressed to `hosts` and not sent cross-site by a browser."""
    hosts = list(hosts)
    # IPv6 literals arrive in Host as "[::1]:3000"; starlette compares the part before the last ":".
    patterns = hosts + [f"[{h}]" for h in hosts if ":" in h]
    return TrustedHostMiddleware(OriginGuard(app, hosts), allowed_hosts=patterns)
