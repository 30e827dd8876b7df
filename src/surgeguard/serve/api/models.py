"""The API's typed models (Pydantic): what every endpoint takes and returns, and so the OpenAPI
schema (``/api/v1/openapi.json``). Rates are bit/s, utilisations fractions of capacity, times
ISO 8601 UTC; a number the store does not know (NaN) is ``null``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ErrorBody", "Health", "ControllerHealth", "Node", "Link", "NetworkModel", "LinkUtil", "LatestUtilisation",
    "UtilisationRow", "UtilisationPage", "WorstCaseLink", "WorstCase", "MatrixRow", "MatrixPage", "ForecastRow",
    "ForecastPage", "DecisionRow", "DecisionPage", "AlertRow", "AlertPage", "MluSeries", "TrafficSeriesModel",
    "ClassStatus", "ClassesModel", "FailureSet", "WhatIfRequest", "PlanRequest", "RunoutRequest", "JobAccepted",
    "Job", "JobList", "JOB_KINDS", "JOB_STATUSES", "SrFile", "SrUnexpressible", "SrCurvePoint", "SrMlu",
    "SrExportModel", "SR_FORMATS",
]

JOB_KINDS = ("whatif", "plan", "runout")
JOB_STATUSES = ("queued", "running", "done", "failed")
#: the SR export formats (as :data:`surgeguard.deploy.FORMATS`)
SR_FORMATS = ("json", "iosxr", "frr", "pola")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Model):
    """Every 4xx (and the rare 5xx): what went wrong, which input, and how to fix it."""

    error: str = Field(description="kind: invalid_input, not_found, unauthorized, forbidden, too_large, busy, "
                                   "unavailable, internal")
    message: str = Field(description="one line naming the input, the value and the fix")
    field: Optional[str] = Field(None, description="the input at fault, e.g. query.start or body.failures.links")
    fix: Optional[str] = Field(None, description="what to send instead")


# ------------------------------------------------------------------------------------------ health
class ControllerHealth(_Model):
    running: bool = Field(description="the controller's thread is alive in this process")
    policy: Optional[str] = None
    step_seconds: Optional[float] = Field(None, description="interval length, simulated seconds")
    speed: Optional[float] = Field(None, description="simulated seconds per wall second (None: real time or a file)")
    next_interval: Optional[datetime] = None
    intervals_run: int = 0
    fallbacks: int = Field(0, description="decisions of this run that fell back (last good routing, shortest)")
    behind: Optional[int] = Field(None, description="complete intervals not yet stored (0 or 1 when keeping up)")
    error: Optional[str] = Field(None, description="why the controller stopped, when it failed")
    last_lines: list[str] = Field(default_factory=list, description="its last log lines")


class Health(_Model):
    status: Literal["ok", "starting", "behind", "stopped", "read-only"] = Field(
        description="ok: the controller keeps up; starting: no interval stored yet; behind: intervals are waiting; "
                    "stopped: the controller ended; read-only: a store without a controller")
    network: str
    store: str
    schema_version: int
    last_interval: Optional[datetime] = Field(None, description="start of the newest stored interval (UTC)")
    intervals: int = Field(description="stored intervals")
    now: datetime
    controller: Optional[ControllerHealth] = None
    poll_seconds: float = Field(description="how often a client may ask again")
    writes_enabled: bool = Field(description="a bearer token is configured (POST endpoints work with it)")


# ------------------------------------------------------------------------------------------ network
class Node(_Model):
    name: str
    lon: Optional[float] = Field(None, description="degrees east")
    lat: Optional[float] = Field(None, description="degrees north")
    region: Optional[str] = None
    population: Optional[float] = None


class Link(_Model):
    name: str = Field(description="directed link, 'src->dst'")
    src: str
    dst: str
    capacity_bps: float
    metric: float
    length_km: Optional[float] = None
    latency_ms: Optional[float] = None
    srlg: str = ""
    circuit: str = Field(description="the fibre (both directions) this link belongs to, e.g. 'A<->B'")


class NetworkModel(_Model):
    name: str
    nodes: list[Node]
    links: list[Link]
    srlgs: list[str] = Field(description="SRLG tags carried by the links")


# ------------------------------------------------------------------------------------------ utilisation
class LinkUtil(_Model):
    link: str
    bps: Optional[float] = Field(description="mean rate over the interval, bit/s (null: not measured)")
    capacity_bps: float
    util: Optional[float] = Field(description="bps / capacity")
    stale: bool = Field(description="carried forward from an earlier interval")


class LatestUtilisation(_Model):
    ds: datetime = Field(description="the interval [ds, ds + step) these rates are the mean of")
    mlu: Optional[float] = Field(description="highest link utilisation measured")
    links: list[LinkUtil]


class UtilisationRow(_Model):
    ds: datetime
    link: str
    bps: Optional[float]
    util: Optional[float]
    stale: bool


class _Page(_Model):
    total: int = Field(description="rows matching the filters (for paging)")
    limit: int
    offset: int


class UtilisationPage(_Page):
    rows: list[UtilisationRow]


class WorstCaseLink(_Model):
    link: str
    base_util: float = Field(description="utilisation on the intact network (the interval's estimated matrix, IGP)")
    worst_util: float = Field(description="highest utilisation over every single-fibre failure")
    worst_failure: str = Field(description="the failure that causes it ('(none)': none raises it)")


class WorstCase(_Model):
    ds: datetime = Field(description="the interval whose estimated matrix was failed")
    policy: str = Field(description="re-routing: shortest = IGP reconvergence with ECMP")
    failures: int
    links: list[WorstCaseLink]


# ------------------------------------------------------------------------------------------ matrices
class MatrixRow(_Model):
    ds: datetime
    src: str
    dst: str
    bps: float
    method: str
    residual: Optional[float] = Field(None, description="fit residual of the estimate (relative L2 misfit)")


class MatrixPage(_Page):
    rows: list[MatrixRow]


class ForecastRow(_Model):
    made_at: datetime = Field(description="the interval that made the forecast")
    ds: datetime = Field(description="the interval forecast")
    src: str
    dst: str
    bps: float
    model: str


class ForecastPage(_Page):
    rows: list[ForecastRow]


# ------------------------------------------------------------------------------------------ decisions, alerts
class DecisionRow(_Model):
    ds: datetime = Field(description="the interval whose data made the decision")
    for_interval: Optional[datetime] = Field(None, description="the interval the routing is for (the next one)")
    policy: str
    mlu: Optional[float] = Field(description="predicted MLU of the routing on the forecast matrix")
    lower_bound: Optional[float] = Field(description="certified lower bound on the best MLU (null: none)")
    gap: Optional[float] = Field(description="(mlu - lower_bound) / mlu")
    status: Literal["ok", "fallback"]
    reason: str
    info: dict = Field(description="solver facts (JSON)")


class DecisionPage(_Page):
    rows: list[DecisionRow]


class AlertRow(_Model):
    ds: datetime
    time: datetime
    place: str
    direction: str
    shift: float = Field(description="relative shift against the learned normal (0.15 = +15 %)")
    score: Optional[float]
    detector: str
    kind: Optional[str] = Field(None, description="what moved: 'level', 'step' or 'shape'; null for alerts stored "
                                                  "before the store recorded it")


class AlertPage(_Page):
    rows: list[AlertRow]


class MluSeries(_Model):
    times: list[datetime]
    measured: list[Optional[float]] = Field(description="highest measured link utilisation (the network's own IGP "
                                                        "routing)")
    policies: dict[str, list[Optional[float]]] = Field(description="predicted MLU of the decided routing, per policy "
                                                                   "(null where another policy decided)")
    lower_bound: list[Optional[float]]
    status: list[str]


class TrafficSeriesModel(_Model):
    times: list[datetime]
    node: Optional[str] = Field(None, description="the node, or null for the whole network")
    ingress_bps: list[Optional[float]]
    egress_bps: list[Optional[float]]
    forecast_bps: list[Optional[float]] = Field(description="traffic forecast for each interval (entering the "
                                                            "network, or at the node), made one interval before")
    alerts: list[AlertRow]


class ClassStatus(_Model):
    name: str
    share: Optional[float] = Field(None, description="share of every OD pair's demand")
    bound: str = Field("", description="latency bound")
    served_share: list[Optional[float]] = Field(description="served share per interval (1 = fully served)")


class ClassesModel(_Model):
    configured: bool = Field(description="the controller protects traffic classes")
    spec: str = Field("", description="the class configuration")
    times: list[datetime]
    classes: list[ClassStatus]
    critical: Optional[str] = Field(None, description="the highest-priority class")
    critical_ok: Optional[bool] = Field(None, description="the critical class is fully served in the latest decision")


# ------------------------------------------------------------------------------------------ jobs
class FailureSet(_Model):
    """Links, nodes and SRLG tags down at the same time (one failure)."""

    links: list[str] = Field(default_factory=list, max_length=1000, description="directed link names; list both "
                                                                               "directions to cut a fibre")
    nodes: list[str] = Field(default_factory=list, max_length=1000, description="node names (every link at them)")
    srlgs: list[str] = Field(default_factory=list, max_length=1000, description="SRLG tags (every link carrying one)")


class WhatIfRequest(_Model):
    failure: Optional[FailureSet] = Field(None, description="one failure to evaluate; or give all_single")
    all_single: Optional[Literal["link", "node", "srlg"]] = Field(
        None, description="every single fibre (link), node or SRLG failure in turn")
    policies: list[Literal["shortest", "optimal"]] = Field(
        default_factory=lambda: ["shortest", "optimal"], min_length=1, max_length=2,
        description="re-routing: shortest (IGP reconvergence, ECMP) and/or optimal (re-optimised TE)")
    ds: Optional[datetime] = Field(None, description="the interval whose estimated matrix is used (default: latest)")
    top: int = Field(10, ge=1, le=1000, description="rows of the worst-failure and worst-link tables")


class PlanRequest(_Model):
    start: Optional[datetime] = Field(None, description="first interval of the stored estimates planned for")
    end: Optional[datetime] = Field(None, description="end (excluded) of the stored estimates planned for")
    target_util: float = Field(0.8, gt=0, le=1, description="utilisation bound without failure")
    failures: Literal["none", "single-link"] = "none"
    failure_util: Optional[float] = Field(None, gt=0, le=1, description="bound under failures (default: target)")
    growth: float = Field(0.0, ge=0, le=10, description="plan for the traffic grown by this factor (0.3 = +30 %)")
    method: Literal["auto", "milp", "heuristic"] = "auto"
    time_limit: float = Field(30.0, gt=0, le=600, description="seconds for the MILP")
    max_tms: int = Field(8, ge=1, le=48, description="peak matrices planned for")


class RunoutRequest(_Model):
    start: Optional[datetime] = None
    end: Optional[datetime] = None
    growth: Optional[float] = Field(0.3, gt=-1, le=100, description="stated growth per year (0.3 = +30 %/year); "
                                                                    "null: the stored estimates' own trend (needs 2 "
                                                                    "complete days)")
    model: Literal["linear", "compound"] = "compound"
    warning: float = Field(0.7, gt=0, le=1)
    critical: float = Field(0.9, gt=0, le=1)
    policy: Literal["shortest", "optimal"] = "shortest"


class JobAccepted(_Model):
    id: str
    kind: Literal["whatif", "plan", "runout"]
    status: Literal["queued", "running", "done", "failed"]
    url: str = Field(description="GET it for the progress and the result")


class Job(_Model):
    id: str
    kind: Literal["whatif", "plan", "runout"]
    status: Literal["queued", "running", "done", "failed"]
    progress: Optional[float] = Field(None, description="fraction done, 0..1 (null: unknown)")
    message: str = ""
    created: datetime
    started: Optional[datetime] = None
    finished: Optional[datetime] = None
    request: dict
    result: Optional[dict] = Field(None, description="the result, once done")
    error: Optional[ErrorBody] = None


class JobList(_Model):
    jobs: list[Job]


# ------------------------------------------------------------------------------------------ SR export
class SrFile(_Model):
    name: str = Field(description="path inside the export folder: <headend>.json|.cfg|.conf, or "
                                  "<headend>/<policy>.yaml for pola")
    headend: str = Field(description="the head-end node the file configures")
    media_type: str
    bytes: int = Field(description="size of text, UTF-8")
    text: str = Field(description="the file's content, as `surgeguard export sr` writes it")
    document: Optional[dict] = Field(None, description="format json: the parsed document (RFC 9256 terms)")


class SrMlu(_Model):
    """MLU (fraction of capacity) on the decision's matrix of what is deployed; null without a matrix."""

    routing: Optional[float] = Field(None, description="the decided routing (exact splits)")
    expressible: Optional[float] = Field(None, description="segment lists deeper than max_sid_depth left out")
    quantised: Optional[float] = Field(None, description="the exported integer weights (json, iosxr)")
    device_exact_weights: Optional[float] = Field(None, description="exact weights as a device spreads them")
    single_list: Optional[float] = Field(None, description="one segment list per policy (frr, pola)")
    igp: Optional[float] = Field(None, description="IGP routing, no policy")


class SrUnexpressible(_Model):
    src: str
    dst: str
    path: str
    depth: int = Field(description="SIDs the path needs")
    split: float


class SrCurvePoint(_Model):
    n_policies: int
    src: Optional[str] = Field(None, description="OD pair given the policy at this step (none at 0)")
    dst: Optional[str] = None
    mlu: float


class SrExportModel(_Model):
    ds: datetime = Field(description="the decision's interval (UTC)")
    for_interval: Optional[datetime] = Field(None, description="the interval the routing is for")
    policy: str = Field(description="policy that decided the routing")
    status: str = Field(description="ok or fallback")
    format: Literal["json", "iosxr", "frr", "pola"]
    expresses: str = Field(description="what the format can express (frr, pola: one segment list per policy)")
    matrix: Literal["forecast", "estimate", "none"] = Field(
        description="the matrix weights were chosen on and MLUs evaluated on: the forecast the decision routed, "
                    "else the interval's estimate")
    matrix_ds: Optional[datetime] = None
    mlu: SrMlu
    mlu_of_format: Optional[float] = Field(None, description="MLU of what this format's files express")
    policies: int
    headends: int
    segment_lists: int
    max_depth: int
    params: dict = Field(description="color, max_sid_depth, slots, vendor_drop, SID plan")
    unexpressible: list[SrUnexpressible]
    curve: Optional[list[SrCurvePoint]] = Field(None, description="max_policies/target_gap: MLU after each policy")
    files: list[SrFile] = Field(description="one per head-end (pola: per policy); summary.json is this document")
    download: str = Field(description="GET it for the same files (and summary.json) as one zip")
