"""Ask endpoints: what-ifs, capacity plans and run-out reports as jobs (``POST`` returns an id;
``GET /api/v1/jobs/{id}`` the progress and the result). Every ``POST`` needs the bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from ..ask import plan_job, runout_job, whatif_job
from ..errors import ApiError
from ..models import Job, JobAccepted, JobList, PlanRequest, RunoutRequest, WhatIfRequest
from ..security import require_token
from .read import State

router = APIRouter(prefix="/api/v1", tags=["ask"])

_WRITE = {"dependencies": [Depends(require_token)], "status_code": 202, "response_model": JobAccepted,
          "responses": {401: {"description": "no or wrong bearer token"}, 403: {"description": "writes are off"},
                        409: {"description": "nothing stored yet"}, 413: {"description": "body too large"},
                        429: {"description": "too many jobs"}}}


def _accepted(request: Request, job) -> dict:
    return {"id": job.id, "kind": job.kind, "status": job.status, "url": f"/api/v1/jobs/{job.id}"}


@router.post("/whatif", summary="Fail links, nodes or SRLGs (or every single failure): a job", **_WRITE)
def whatif(request: Request, state: State, body: WhatIfRequest):
    work = whatif_job(state, body)
    return _accepted(request, state.jobs.submit("whatif", body.model_dump(mode="json"), work))


@router.post("/capacity/plan", summary="Minimum-cost capacity additions for the stored traffic: a job", **_WRITE)
def capacity_plan(request: Request, state: State, body: PlanRequest):
    work = plan_job(state, body)
    return _accepted(request, state.jobs.submit("plan", body.model_dump(mode="json"), work))


@router.post("/capacity/runout", summary="Run-out dates per link: a job", **_WRITE)
def capacity_runout(request: Request, state: State, body: RunoutRequest):
    work = runout_job(state, body)
    return _accepted(request, state.jobs.submit("runout", body.model_dump(mode="json"), work))


@router.get("/jobs", response_model=JobList, summary="The jobs, newest first")
def jobs(state: State):
    return {"jobs": [j.view() for j in state.jobs.list()]}


@router.get("/jobs/{job_id}", response_model=Job, summary="A job's progress and, once done, its result",
            responses={404: {"description": "no such job"}})
def job(state: State, job_id: Annotated[str, Path(max_length=64, description="the id POST returned")]):
    j = state.jobs.get(job_id)
    if j is None:
        raise ApiError(404, "not_found", f"path.job_id {job_id!r} is not a job of this server (jobs are kept in "
                                         "memory, the last ones only); POST the question again",
                       field="path.job_id", fix="an id a POST returned")
    return j.view()
