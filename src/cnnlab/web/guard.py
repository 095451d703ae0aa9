"""What keeps the web lab local and its files private: the token, the body limit, the origin check.

- With a token (required by ``cnnlab serve`` for any host but the loopback), every request but the
  static page assets must carry it: ``?token=`` (the address ``cnnlab serve`` prints; the answer
  then sets it as a same-site cookie, so the page's own requests carry it), the cookie, an
  ``X-Cnnlab-Token`` header or ``Authorization: Bearer``. Without it: 401.
- A request body larger than the upload limit (by its Content-Length) is refused with 413 before
  it is read.
- A request that changes something (not GET/HEAD) from a page of another origin is refused with
  403, so a web site open in the same browser cannot start runs on the lab (CSRF).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers, QueryParams
from starlette.responses import JSONResponse

TOKEN_COOKIE = "cnnlab_token"
TOKEN_HEADER = "x-cnnlab-token"
PUBLIC_PREFIXES = ("/static/",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Guard:
    """ASGI middleware (plain ASGI, so server-sent event streams pass through untouched)."""

    def __init__(self, app: Callable, token: str | None, max_body: int):
        self.app = app
        self.token = token
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        query = QueryParams(scope.get("query_string", b""))
        refusal = self._refusal(scope, headers, query)
        if refusal is not None:
            status, message = refusal
            await JSONResponse({"detail": message}, status_code=status)(scope, receive, send)
            return
        if self.token and query.get("token") == self.token:
            send = _with_cookie(send, self.token)
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, headers: Headers, query: QueryParams) -> tuple[int, str] | None:
        path = scope.get("path", "")
        if self.token and not path.startswith(PUBLIC_PREFIXES) and not self._has_token(headers, query):
            return 401, (
                "this lab needs its token: open the address `cnnlab serve` printed (it ends in "
                "?token=...), or send the X-Cnnlab-Token header"
            )
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            return 413, f"the request is larger than {self.max_body // 2**20} MB"
        if scope.get("method", "GET") not in SAFE_METHODS and not _same_origin(headers):
            return 403, "requests that change something must come from the lab's own page"
        return None

    def _has_token(self, headers: Headers, query: QueryParams) -> bool:
        authorization = headers.get("authorization", "")
        bearer = authorization[7:] if authorization.lower().startswith("bearer ") else ""
        for given in (query.get("token"), headers.get(TOKEN_HEADER), bearer, _cookie(headers)):
            if given and secrets.compare_digest(given.encode(), self.token.encode()):
                return True
        return False


def _cookie(headers: Headers) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == TOKEN_COOKIE:
            return value
    return None


def _same_origin(headers: Headers) -> bool:
    """No Origin header (a script, curl) or one whose host is the Host this request was sent to."""
    origin = headers.get("origin")
    if not origin:
        return True
    return urlsplit(origin).netloc == headers.get("host", "")


def _with_cookie(send: Send, token: str) -> Send:
    cookie = f"{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict".encode()

    async def send_with_cookie(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
        await send(message)

    return send_with_cookie
