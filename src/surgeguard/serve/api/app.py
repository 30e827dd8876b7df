"""The app factory: :func:`create_app` joins the routers, the error handlers, the security
middleware and the dashboard's static files into one FastAPI app."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from ... import __version__
from .errors import ERROR_RESPONSES, install_error_handlers
from .routers import ask, export, read
from .security import BodyLimit
from .state import ApiState

__all__ = ["create_app", "DASHBOARD_DIR", "API_PREFIX"]

#: the dashboard's files (HTML, JS, CSS), shipped in the package
DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "dashboard"
API_PREFIX = "/api/v1"
#: the dashboard loads nothing from elsewhere (these machines are offline, and it should not)
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


_HARDENING = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
              (b"content-security-policy", _CSP.encode()), (b"x-frame-options", b"DENY")]
_CACHED_HEADERS = [(b"content-type", b"application/json")] + _HARDENING + [(b"cache-control", b"no-store")]


class _Headers:
    """Adds hardening headers to every response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def sending(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += _HARDENING
                if scope.get("path", "").startswith(API_PREFIX):
                    headers.append((b"cache-control", b"no-store"))
                message = dict(message, headers=headers)
            await send(message)
        await self.app(scope, receive, sending)


class _App(FastAPI):
    """FastAPI, with cached GET answers sent before the middleware stack and the routing (see
    :func:`~surgeguard.serve.api.routers.read.cached_body`), hardening headers included."""

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "GET":
            body = read.cached_body(self.state.surgeguard, scope)
            if body is not None:
                await send({"type": "http.response.start", "status": 200, "headers": _CACHED_HEADERS +
                            [(b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await super().__call__(scope, receive, send)


def create_app(state: ApiState) -> FastAPI:
    """The FastAPI app serving ``state``: the API under ``/api/v1`` (schema at
    ``/api/v1/openapi.json``) and the dashboard at ``/``. The controller in ``state`` (if any)
    starts with the app and stops with it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.start()
        try:
            yield
        finally:
            state.close()

    app = _App(title="surgeguard", version=__version__, lifespan=lifespan,
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None,
                  description="The traffic-engineering controller's store and questions: the network, link "
                              "utilisation, estimated and forecast matrices, decisions, alerts, critical-class "
                              "status; what-ifs and capacity plans as jobs. Rates in bit/s, times ISO 8601 UTC. "
                              "Every POST needs Authorization: Bearer <token>.",
                  responses=ERROR_RESPONSES)
    app.state.surgeguard = state
    install_error_handlers(app)
    app.include_router(read.router)
    app.include_router(ask.router)
    app.include_router(export.router)

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse("/dashboard/")

    app.mount("/dashboard", StaticFiles(directory=DASHBOARD_DIR, html=True), name="dashboard")
    if state.settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(state.settings.cors_origins), allow_credentials=False,
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodyLimit, max_bytes=state.settings.max_body_bytes)
    app.add_middleware(_Headers)
    return app
