"""Read endpoints: the network, utilisation, matrices, decisions, alerts, charts, health."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Optional

import time

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ..models import (AlertPage, ClassesModel, DecisionPage, ForecastPage, Health, LatestUtilisation, MatrixPage,
                      MluSeries, NetworkModel, TrafficSeriesModel, UtilisationPage, WorstCase)
from ..state import ApiState, alert_rows, num

router = APIRouter(prefix="/api/v1", tags=["read"])

MAX_LIMIT = 10_000
Start = Annotated[Optional[datetime], Query(description="first interval (ds >= start), ISO 8601; naive = UTC")]
End = Annotated[Optional[datetime], Query(description="end (ds < end), ISO 8601; naive = UTC")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=2 ** 62, description="rows skipped")]
Hours = Annotated[float, Query(gt=0, le=24 * 366, description="without start: the last hours up to the newest interval")]


async def state_of(request: Request) -> ApiState:
    return request.app.state.surgeguard


State = Annotated[ApiState, Depends(state_of)]
HEALTH = "/api/v1/health"


def response_key(state: ApiState, scope) -> tuple:
    """The cache key of a GET: its path and query, the newest interval, and for ``/health`` the
    second (its answer holds the time and the controller's state)."""
    path = scope["path"]
    tick = int(time.monotonic()) if path == HEALTH else 0
    return path, scope.get("query_string", b""), state.latest_ds(), tick


def cached_body(state: ApiState, scope) -> bytes | None:
    """The cached answer of a GET (rendered by :func:`cached` for this query and the newest
    interval), or None: the app then routes, validates and computes it. Job answers are never
    cached. A cached answer is sent without CORS headers: with CORS origins configured, nothing is
    served from here (the CORS middleware must see every answer)."""
    path = scope["path"]
    if not path.startswith("/api/v1/") or path.startswith("/api/v1/jobs") or state.settings.cors_origins:
        return None
    return state.responses.peek(response_key(state, scope))


async def cached(state: ApiState, request: Request, model, make) -> Response:
    """The JSON of ``model`` from ``make()``, rendered once per query and newest interval (every
    answer here can change only when a new interval is stored): a cached answer is sent before
    routing (:func:`cached_body`); a new one is computed (store reads) in the thread pool, once
    however many ask at the same time, and remembered so that the next interval's answer is
    rendered before it is published (:meth:`ApiState._warm`)."""
    key = response_key(state, request.scope)
    body = state.responses.peek(key)
    if body is None:
        def render() -> bytes:
            return model.model_validate(make()).model_dump_json().encode()
        body = await run_in_threadpool(state.responses.get, key, render)
        if key[0] != HEALTH:
            state.remember(key[0], key[1], render)
    return Response(body, media_type="application/json")


@router.get("/health", response_model=Health, summary="The controller's and the store's health")
async def health(request: Request, state: State):
    return await cached(state, request, Health, state.health)


@router.get("/network", response_model=NetworkModel, summary="Nodes with coordinates, links with capacities")
async def network(request: Request, state: State):
    def make():
        net = state.network
        nd = net.nodes

        def col(n, c, f):
            return f(nd.at[n, c]) if c in nd and nd.at[n, c] == nd.at[n, c] else None
        nodes = [{"name": n, "lon": col(n, "lon", num), "lat": col(n, "lat", num), "region": col(n, "region", str),
                  "population": col(n, "population", num)} for n in nd.index]
        lk = net.links
        links = [{"name": name, "src": r.src, "dst": r.dst, "capacity_bps": float(r.capacity),
                  "metric": float(r.metric), "length_km": num(r.length_km), "latency_ms": num(r.latency_ms),
                  "srlg": str(r.srlg or ""), "circuit": state.circuit_of[name]}
                 for name, r in zip(lk.index, lk.itertuples())]
        return {"name": net.name, "nodes": nodes, "links": links, "srlgs": sorted(state.srlgs)}
    return await cached(state, request, NetworkModel, make)


@router.get("/utilisation/latest", response_model=LatestUtilisation,
            summary="Every link's rate and utilisation in the newest stored interval")
async def utilisation_latest(request: Request, state: State):
    def make():
        return state.latest_utilisation()
    return await cached(state, request, LatestUtilisation, make)


@router.get("/utilisation", response_model=UtilisationPage, summary="Link utilisation history, paginated")
async def utilisation(request: Request, state: State, start: Start = None, end: End = None,
                link: Annotated[Optional[list[str]], Query(description="only these links (repeat)")] = None,
                limit: Limit = 1000, offset: Offset = 0):
    def make():
        a, b = state.window(start, end)
        links = state.check_links(link)
        df, total = state.page("link_rates", a, b, {"link": links}, limit, offset)
        return {"total": total, "limit": limit, "offset": offset, "rows": state.util_rows(df)}
    return await cached(state, request, UtilisationPage, make)


@router.get("/utilisation/worst-case", response_model=WorstCase,
            summary="Per link, its worst utilisation over every single-fibre failure (IGP reconvergence)")
async def worst_case(request: Request, state: State,
                     ds: Annotated[Optional[datetime], Query(description="interval (default: newest)")] = None):
    def make():
        return state.worst_case(ds)
    return await cached(state, request, WorstCase, make)


@router.get("/matrices/estimated", response_model=MatrixPage, summary="Estimated traffic matrices, paginated")
async def estimated(request: Request, state: State, start: Start = None, end: End = None,
              src: Annotated[Optional[list[str]], Query(description="origin nodes (repeat)")] = None,
              dst: Annotated[Optional[list[str]], Query(description="destination nodes (repeat)")] = None,
              limit: Limit = 1000, offset: Offset = 0):
    def make():
        a, b = state.window(start, end)
        where = {"src": state.check_nodes(src, "query.src"), "dst": state.check_nodes(dst, "query.dst")}
        df, total = state.page("estimates", a, b, where, limit, offset)
        rows = [{"ds": r.ds, "src": r.src, "dst": r.dst, "bps": float(r.bps), "method": r.method,
                 "residual": num(r.residual)} for r in df.itertuples(index=False)]
        return {"total": total, "limit": limit, "offset": offset, "rows": rows}
    return await cached(state, request, MatrixPage, make)


@router.get("/matrices/forecast", response_model=ForecastPage,
            summary="Forecast matrices, paginated (start/end filter the interval that made them)")
async def forecast(request: Request, state: State, start: Start = None, end: End = None,
             src: Annotated[Optional[list[str]], Query(description="origin nodes (repeat)")] = None,
             dst: Annotated[Optional[list[str]], Query(description="destination nodes (repeat)")] = None,
             model: Annotated[Optional[str], Query(max_length=200, description="forecasting model")] = None,
             limit: Limit = 1000, offset: Offset = 0):
    def make():
        a, b = state.window(start, end)
        where = {"src": state.check_nodes(src, "query.src"), "dst": state.check_nodes(dst, "query.dst"), "model": model}
        df, total = state.page("forecasts", a, b, where, limit, offset)
        rows = [{"made_at": r.made_at, "ds": r.ds, "src": r.src, "dst": r.dst, "bps": float(r.bps), "model": r.model}
                for r in df.itertuples(index=False)]
        return {"total": total, "limit": limit, "offset": offset, "rows": rows}
    return await cached(state, request, ForecastPage, make)


@router.get("/decisions", response_model=DecisionPage,
            summary="Routing decisions: policy, predicted MLU, certified lower bound, fallbacks")
async def decisions(request: Request, state: State, start: Start = None, end: End = None,
              policy: Annotated[Optional[str], Query(max_length=200)] = None,
              status: Annotated[Optional[str], Query(pattern="^(ok|fallback)$", description="ok or fallback")] = None,
              limit: Limit = 1000, offset: Offset = 0):
    def make():
        a, b = state.window(start, end)
        df, total = state.page("decisions", a, b, {"policy": policy, "status": status}, limit, offset)
        return {"total": total, "limit": limit, "offset": offset, "rows": state.decisions_rows(df)}
    return await cached(state, request, DecisionPage, make)


@router.get("/alerts", response_model=AlertPage, summary="Surge alerts raised by the detector")
async def alerts(request: Request, state: State, start: Start = None, end: End = None,
           place: Annotated[Optional[str], Query(max_length=200, description="'total' or a node")] = None,
           limit: Limit = 1000, offset: Offset = 0):
    def make():
        a, b = state.window(start, end)
        df, total = state.page("alerts", a, b, {"place": place}, limit, offset)
        return {"total": total, "limit": limit, "offset": offset, "rows": alert_rows(df)}
    return await cached(state, request, AlertPage, make)


@router.get("/charts/mlu", response_model=MluSeries,
            summary="MLU over time: measured, and predicted per policy with the certified bound")
async def chart_mlu(request: Request, state: State, start: Start = None, end: End = None, hours: Hours = 24.0):
    def make():
        a, b = state.window(start, end, hours=hours)
        return state.mlu_series(a, b)
    return await cached(state, request, MluSeries, make)


@router.get("/charts/traffic", response_model=TrafficSeriesModel,
            summary="Total (or one node's) traffic over time with the forecast and the alerts")
async def chart_traffic(request: Request, state: State, start: Start = None, end: End = None, hours: Hours = 24.0,
                  node: Annotated[Optional[str], Query(max_length=200, description="a node; none: the network")] = None):
    def make():
        a, b = state.window(start, end, hours=hours)
        if node is not None:
            state.check_nodes([node], "query.node")
        return state.traffic_series(a, b, node)
    return await cached(state, request, TrafficSeriesModel, make)


@router.get("/classes", response_model=ClassesModel, summary="Critical-class status: served share per class")
async def classes(request: Request, state: State, start: Start = None, end: End = None, hours: Hours = 24.0):
    def make():
        a, b = state.window(start, end, hours=hours)
        return state.classes_status(a, b)
    return await cached(state, request, ClassesModel, make)

