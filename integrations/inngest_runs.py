"""Asking the engine about a run: Inngest's REST API `GET /v1/runs/{runId}`, which Inngest Cloud,
the Dev Server and self-hosted Inngest serve at the API origin (`core.inngest.api_base_url`),
authenticated with the signing key. The answer is `{"data": {"run_id", "status", "ended_at",
"output", ...}, "metadata": {...}}` (the server's `pkg/api/apiv1/runs.go` and
`pkg/cqrs/function_runs.go`), the status one of `Running`, `Scheduled`, `Completed`, `Failed`,
`Cancelled`, ... (`pkg/enums/run_status.go`)."""

from dataclasses import dataclass

import requests
from django.conf import settings

from core.inngest import api_base_url

TIMEOUT_SECONDS = 10.0
# The run has ended: nothing more will happen to it.
ENDED = frozenset({"Completed", "Failed", "Cancelled", "Overflowed", "Skipped"})


class EngineUnavailable(Exception):
    """The engine's API could not answer now (down, refused our key, answered garbage)."""


@dataclass(frozen=True)
class EngineRun:
    run_id: str
    status: str
    output: object = None

    @property
    def ended(self) -> bool:
        return self.status in ENDED


def run_of(run_id: str) -> EngineRun | None:
    """What the engine knows of run `run_id`; None when it cannot find such a run."""
    url = f"{api_base_url()}/v1/runs/{run_id}"
    headers = {"Accept": "application/json"}
    if settings.INNGEST_SIGNING_KEY:
        headers["Authorization"] = f"Bearer {settings.INNGEST_SIGNING_KEY}"
    try:
        response = requests.get(url, headers=headers, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise EngineUnavailable(f"Inngest's API did not answer ({type(exc).__name__})") from exc
    if response.status_code == 404 or (
        # What the server answers for a run it cannot load (pkg/api/apiv1/runs.go): unknown
        # to it, or its own store failing; the caller tells the two apart by asking again.
        response.status_code == 500 and "Unable to load function run" in response.text
    ):
        return None
    if response.status_code != 200:
        raise EngineUnavailable(f"Inngest's API answered {response.status_code} for a run")
    try:
        data = response.json()["data"]
        return EngineRun(
            run_id=str(data["run_id"]), status=str(data["status"]), output=data.get("output")
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise EngineUnavailable("Inngest's API answered a run in an unknown shape") from exc
