"""Security by default: the bearer token every write needs, and the request body limit.

* :func:`require_token`, a dependency of every ``POST``: ``Authorization: Bearer <token>``,
  compared with :func:`hmac.compare_digest` (constant time); missing or wrong: 401; no token
  configured: 403 (writes are off).
* :class:`BodyLimit`, an ASGI middleware: a body above the limit is refused with 413 before the
  app reads it (by its ``Content-Length``, or while it streams in when it has none).
* CORS: :func:`~surgeguard.serve.api.create_app` adds no CORS header unless origins are listed
  (and :class:`~surgeguard.serve.api.ApiSettings` refuses ``*``).
"""

from __future__ import annotations

import hmac
import json

from fastapi import Request

from .errors import ApiError

__all__ = ["require_token", "BodyLimit"]


def require_token(request: Request) -> None:
    """Refuse a write without the configured bearer token."""
    state = request.app.state.surgeguard
    token = state.settings.token
    if not token:
        raise ApiError(403, "forbidden", "writes are off: this server has no API token; start it with one (the "
                                         "SURGEGUARD_API_TOKEN environment variable or the configuration)",
                       field="header.Authorization", fix="configure a token, then send Authorization: Bearer <token>")
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise ApiError(401, "unauthorized", "this request writes and needs the API token; send the header "
                                            "Authorization: Bearer <token>",
                       field="header.Authorization", fix="Authorization: Bearer <token>",
                       headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8")):
        raise ApiError(401, "unauthorized", "the bearer token is wrong; send the token the server was started with",
                       field="header.Authorization", fix="Authorization: Bearer <token>",
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class BodyLimit:
    """Refuse request bodies above ``max_bytes`` with 413 (JSON :class:`ErrorBody`)."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, int(max_bytes)

    async def _refuse(self, send, size: str) -> None:
        body = json.dumps({"error": "too_large", "message": f"the request body ({size}) is above the limit of "
                                                            f"{self.max_bytes} bytes; send a smaller body",
                           "field": "body", "fix": f"at most {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    n = int(value)
                except ValueError:
                    n = -1
                if n > self.max_bytes:
                    return await self._refuse(send, f"{n} bytes")
        seen = 0
        too_big = False

        async def limited():
            nonlocal seen, too_big
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_big = True
                    raise _TooLarge
            return message

        started = False

        async def tracking_send(message):
            nonlocal started
            if too_big:  # the app answered a body it could not read (FastAPI says 400): say why instead
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse(send, f"more than {self.max_bytes} bytes")
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send, f"more than {self.max_bytes} bytes")
        except Exception:
            if too_big and not started:
                await self._refuse(send, f"more than {self.max_bytes} bytes")
            else:
                raise


class _TooLarge(Exception):
    pass
