"""The API's settings: where it listens, the bearer token for writes, the body-size limit, CORS.

Secure by default: bound to ``127.0.0.1``; every write (``POST``) needs ``Authorization: Bearer
<token>``, compared in constant time; request bodies above :data:`MAX_BODY_BYTES` are refused
(413); no CORS header at all unless origins are listed, and the wildcard ``*`` is refused.

>>> ApiSettings(token="s3cret-token").token_set
True
>>> ApiSettings(cors_origins=("*",))
Traceback (most recent call last):
...
surgeguard.exceptions.ValidationError: API setting cors_origins: the wildcard '*' is refused (any web page could read the API from a browser); list the dashboard origins that may call it, e.g. http://127.0.0.1:8000
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ...exceptions import ValidationError

__all__ = ["ApiSettings", "TOKEN_ENV", "MAX_BODY_BYTES", "DEFAULT_HOST", "DEFAULT_PORT", "new_token", "token_from_env"]

#: the environment variable holding the bearer token that every write needs
TOKEN_ENV = "SURGEGUARD_API_TOKEN"
#: the largest request body accepted (bytes); a what-if or plan request is a few hundred bytes
MAX_BODY_BYTES = 64 * 1024
#: loopback only unless configured otherwise
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def new_token() -> str:
    """A fresh random token (URL-safe, 192 bits)."""
    return secrets.token_urlsafe(24)


def token_from_env() -> str:
    """The token in :data:`TOKEN_ENV` ('' when unset)."""
    return os.environ.get(TOKEN_ENV, "").strip()


@dataclass(frozen=True)
class ApiSettings:
    """Settings of :func:`~surgeguard.serve.api.create_app`.

    Attributes
    ----------
    token : the bearer token every write must carry; '' refuses every write (403).
    max_body_bytes : request bodies above this many bytes are refused (413).
    cors_origins : origins (``scheme://host[:port]``) allowed to call the API from a browser page
        served elsewhere; empty (default): no CORS headers, so browsers keep other sites out.
    poll_seconds : how often the dashboard asks for a new interval.
    max_jobs : jobs (what-ifs, plans) queued or running at once; more are refused (429).
    keep_jobs : finished jobs kept for reading (the oldest are forgotten first).
    """

    token: str = ""
    max_body_bytes: int = MAX_BODY_BYTES
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    poll_seconds: float = 2.0
    max_jobs: int = 8
    keep_jobs: int = 64

    def __post_init__(self):
        if not isinstance(self.token, str):
            raise ValidationError(f"API setting token must be a string, got {type(self.token).__name__}")
        object.__setattr__(self, "token", self.token.strip())
        if self.token and len(self.token) < 8:
            raise ValidationError("API setting token is shorter than 8 characters; use a long random token "
                                  f"(e.g. from python -c 'import secrets; print(secrets.token_urlsafe(24))')")
        if isinstance(self.max_body_bytes, bool) or not isinstance(self.max_body_bytes, int) \
                or not 1024 <= self.max_body_bytes <= 64 * 2 ** 20:
            raise ValidationError(f"API setting max_body_bytes = {self.max_body_bytes!r} must be an int in "
                                  "[1024, 67108864] bytes")
        origins = (self.cors_origins,) if isinstance(self.cors_origins, str) else tuple(self.cors_origins)
        for o in origins:
            if o.strip() == "*":
                raise ValidationError("API setting cors_origins: the wildcard '*' is refused (any web page could "
                                      "read the API from a browser); list the dashboard origins that may call it, "
                                      "e.g. http://127.0.0.1:8000")
            parts = urlsplit(o.strip())
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") \
                    or "*" in o:
                raise ValidationError(f"API setting cors_origins: {o!r} is not an origin; give scheme://host[:port], "
                                      "e.g. http://127.0.0.1:8000")
        object.__setattr__(self, "cors_origins", tuple(o.strip().rstrip("/") for o in origins))
        if not (isinstance(self.poll_seconds, (int, float)) and 0.1 <= self.poll_seconds <= 3600):
            raise ValidationError(f"API setting poll_seconds = {self.poll_seconds!r} must be in [0.1, 3600] seconds")
        for name in ("max_jobs", "keep_jobs"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 10_000:
                raise ValidationError(f"API setting {name} = {v!r} must be an int in [1, 10000]")

    @property
    def token_set(self) -> bool:
        return bool(self.token)
