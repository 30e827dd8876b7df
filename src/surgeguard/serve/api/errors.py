"""Errors as JSON: every refusal names the input at fault and the fix (:class:`ErrorBody`).

* request validation (FastAPI/Pydantic): 422, ``field`` = where (``query.limit``,
  ``body.failure.links.0``), the message and the fix from the first error;
* library errors (:class:`~surgeguard.ValidationError` and kin): 422, their one-line message;
  :class:`~surgeguard.serve.api.state.NotFound`: 404; ``Unavailable``: 409;
* :class:`ApiError`: its own status (401, 403, 413, 429);
* anything else is a bug: 500 with a one-line message (never for bad input).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...exceptions import SurgeguardError
from ...io.common import one_line

__all__ = ["ApiError", "install_error_handlers", "ERROR_RESPONSES"]

log = logging.getLogger("surgeguard.api")

_FIXES = {
    "int_parsing": "an integer", "int_type": "an integer", "float_parsing": "a number", "float_type": "a number",
    "bool_parsing": "true or false", "datetime_parsing": "an ISO 8601 UTC time such as 2020-03-20T10:05:00Z",
    "datetime_from_date_parsing": "an ISO 8601 UTC time such as 2020-03-20T10:05:00Z",
    "datetime_type": "an ISO 8601 UTC time such as 2020-03-20T10:05:00Z", "missing": "the field (it is required)",
    "extra_forbidden": "only the documented fields (see /api/v1/openapi.json)", "json_invalid": "valid JSON",
    "model_attributes_type": "a JSON object", "dict_type": "a JSON object", "list_type": "a JSON list",
    "string_type": "a string", "literal_error": "one of the allowed values",
}


class ApiError(Exception):
    """A refusal with its HTTP status and :class:`ErrorBody` fields."""

    def __init__(self, status: int, error: str, message: str, *, field: str | None = None, fix: str | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.error, self.message, self.field, self.fix = status, error, message, field, fix
        self.headers = headers


def _body(error: str, message: str, field=None, fix=None) -> dict:
    return {"error": error, "message": message, "field": field, "fix": fix}


def _where(loc) -> str:
    return ".".join(str(x) for x in loc)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {"loc": ("request",), "msg": "invalid request", "type": ""}
        field = _where(first.get("loc", ()))
        kind = str(first.get("type", ""))
        if kind == "json_invalid":
            at = first.get("loc", ("body", 0))[-1]
            msg = (f"body is not valid JSON ({one_line(first.get('ctx', {}).get('error', 'decode error'))} at "
                   f"character {at}); send a JSON object as documented in /api/v1/openapi.json")
            return JSONResponse(status_code=422, content=_body("invalid_input", msg, "body", "valid JSON"))
        fix = _FIXES.get(kind)
        ctx = first.get("ctx") or {}
        if kind == "literal_error" and "expected" in ctx:
            fix = f"one of {ctx['expected']}"
        elif kind.startswith(("greater", "less")) and ctx:
            fix = "a value " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in ctx.items() if k != "error")
        elif kind.startswith(("too_long", "too_short", "string_too")) and ctx:
            fix = "a value with " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in ctx.items() if k != "error")
        given = first.get("input")
        shown = "" if kind == "missing" or given is None else f" (got {str(given)[:80]!r})"
        more = f"; {len(errors) - 1} more error(s)" if len(errors) > 1 else ""
        msg = f"{field}: {one_line(first.get('msg', 'invalid'))}{shown}; send {fix or 'a valid value'}{more}"
        return JSONResponse(status_code=422, content=_body("invalid_input", msg, field, fix))

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError):
        return JSONResponse(status_code=exc.status, content=_body(exc.error, exc.message, exc.field, exc.fix),
                            headers=exc.headers)

    @app.exception_handler(SurgeguardError)
    async def _library(request: Request, exc: SurgeguardError):
        name = type(exc).__name__
        status, error = {"NotFound": (404, "not_found"), "Unavailable": (409, "unavailable"),
                         "JobsFull": (429, "busy")}.get(name, (422, "invalid_input"))
        msg = one_line(exc)
        field = msg.split(" ", 1)[0] if msg.startswith(("query.", "body.", "path.")) else None
        return JSONResponse(status_code=status, content=_body(error, msg, field))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            msg = f"no such path {request.url.path!r}; the API lives under /api/v1 (see /api/v1/openapi.json)"
            return JSONResponse(status_code=404, content=_body("not_found", msg, "path"))
        if exc.status_code == 405:
            msg = f"method {request.method} is not allowed on {request.url.path!r} (see /api/v1/openapi.json)"
            return JSONResponse(status_code=405, content=_body("method_not_allowed", msg, "method"),
                                headers=exc.headers)
        return JSONResponse(status_code=exc.status_code, content=_body("http", one_line(exc.detail)),
                            headers=exc.headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        msg = (f"internal error ({type(exc).__name__}: {one_line(exc)}); this is a bug, not your input: "
               "report it with the request")
        return JSONResponse(status_code=500, content=_body("internal", msg))


#: the error responses documented on every route
ERROR_RESPONSES = {422: {"description": "invalid input: the message names the field and the fix"}}
