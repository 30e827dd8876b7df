"""The REST API and the live dashboard over the controller's store (FastAPI).

* :func:`create_app` (:mod:`.app`): the app; :class:`ApiState` (:mod:`.state`): what it serves
  from (network, store, the controller when it runs in this process, jobs);
  :class:`ApiSettings` (:mod:`.settings`): token, body limit, CORS origins.
* :mod:`.routers`: ``read`` (network, utilisation, matrices, decisions, alerts, charts, classes,
  health) and ``ask`` (what-if, capacity plan and run-out as jobs), all under ``/api/v1``.
* :mod:`.models`: the typed requests and answers (the OpenAPI schema); :mod:`.errors`: every
  refusal as JSON naming the field and the fix; :mod:`.security`: bearer token, body limit.
* :mod:`.live`: the controller's thread, and the embedded Morocco example of ``surgeguard serve``.
* The dashboard's files live in ``surgeguard/serve/dashboard/`` and are served at ``/``.
"""

from __future__ import annotations

from .app import API_PREFIX, DASHBOARD_DIR, create_app
from .live import ControllerRunner, LogBuffer, embedded_example
from .settings import TOKEN_ENV, ApiSettings, new_token, token_from_env
from .state import ApiState

__all__ = ["create_app", "ApiState", "ApiSettings", "ControllerRunner", "LogBuffer", "embedded_example", "TOKEN_ENV",
           "API_PREFIX", "DASHBOARD_DIR", "new_token", "token_from_env"]
