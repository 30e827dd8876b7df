"""Export endpoints: a stored decision as SR-TE policies (``GET /api/v1/export/sr``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal, Optional
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Response

from ..export import MEDIA_TYPES, ExportQuery, export_decision, export_zip, file_headend, zip_name
from ..models import SrExportModel
from .read import State

router = APIRouter(prefix="/api/v1", tags=["export"])

SR_PATH = "/api/v1/export/sr"


@router.get("/export/sr", response_model=SrExportModel,
            summary="A decision's routing as SR-TE policies (RFC 9256): one file per head-end, or a zip",
            responses={200: {"content": {"application/zip": {}},
                             "description": "JSON: the files and what deploying them costs in MLU; download=true: "
                                            "the files and summary.json as one zip"},
                       404: {"description": "no decision stored for ds"},
                       409: {"description": "no decision stored yet, or it has no splits"}})
def export_sr_policies(
    state: State,
    format: Annotated[Literal["json", "iosxr", "frr", "pola"], Query(
        description="json (RFC 9256 fields, one document per head-end), iosxr (segment-routing traffic-eng), frr "
                    "(pathd: one segment list per policy), pola (PCE YAML, one file per policy)")] = "json",
    ds: Annotated[Optional[datetime], Query(description="the decision's interval (default: the newest decision)")] = None,
    slots: Annotated[int, Query(ge=1, le=65536, description="weighted-ECMP entries per policy; weights sum to it")] = 64,
    max_sid_depth: Annotated[int, Query(ge=1, le=64, description="most SIDs a head-end pushes")] = 10,
    vendor_drop: Annotated[bool, Query(description="model devices that drop lists under the average slot")] = False,
    color: Annotated[int, Query(ge=1, le=2 ** 32 - 1, description="colour of the policies")] = 100,
    max_policies: Annotated[Optional[int], Query(ge=0, le=100_000, description=(
        "IGP routing for every OD pair but at most this many, chosen greedily (the curve is returned)"))] = None,
    target_gap: Annotated[Optional[float], Query(ge=0, le=10, description=(
        "IGP routing for every OD pair but the fewest that bring the MLU within this fraction of the decision's"))]
    = None,
    download: Annotated[bool, Query(description="true: the files and summary.json as one zip")] = False,
):
    t = state.time_arg(ds, "query.ds") if ds is not None else None
    q = ExportQuery(format, t, slots, max_sid_depth, vendor_drop, color, max_policies, target_gap)
    res = export_decision(state, q)
    if download:
        return Response(export_zip(res), media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{zip_name(res)}"'})
    sm = res.summary
    net = state.network
    files = []
    for name, text in sorted(res.files.items()):
        files.append({"name": name, "headend": file_headend(net, name), "media_type": MEDIA_TYPES[format],
                      "bytes": len(text.encode()), "text": text,
                      "document": json.loads(text) if format == "json" else None})
    curve = None
    if sm.get("policies_curve"):
        c = sm["policies_curve"]
        curve = [{"n_policies": n, "src": s or None, "dst": d or None, "mlu": m}
                 for n, s, d, m in zip(c["n_policies"], c["src"], c["dst"], c["mlu"])]
    query = urlencode([(k, v) for k, v in (("format", format), ("ds", res.ds.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
                                             ("slots", slots), ("max_sid_depth", max_sid_depth),
                                             ("vendor_drop", str(vendor_drop).lower()), ("color", color),
                                             ("max_policies", max_policies), ("target_gap", target_gap),
                                             ("download", "true")) if v is not None])
    doc = {**{k: sm[k] for k in ("policies", "headends", "segment_lists", "max_depth", "unexpressible", "params",
                                 "mlu", "mlu_of_format", "expresses", "format", "matrix", "matrix_ds")},
           "ds": res.ds, "for_interval": res.decision["for_interval"], "policy": res.decision["policy"],
           "status": res.decision["status"], "curve": curve, "files": files,
           "download": f"{SR_PATH}?{query}"}
    return SrExportModel.model_validate(doc)
