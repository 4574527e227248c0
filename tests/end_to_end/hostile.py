"""Shared pieces of the hostile-input suite: a counting HTTP session, the checks every answer
must pass, and the database check run afterwards."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import requests
from django.apps import apps
from django.core.exceptions import ValidationError

PROJECT_APPS = ("accounts", "videos", "clips", "exports", "outbox", "inngest_endpoint")


@dataclass
class Prober:
    """Sends requests to the live server and checks each answer as it comes."""

    base_url: str
    headers: dict = field(default_factory=dict)
    sent: int = 0
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self):
        self.session.trust_env = False  # 127.0.0.1 only, no proxies from the environment

    def send(self, method: str, path: str, *, json_api: bool = True, **kwargs) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = self.session.request(
            method,
            self.base_url + path,
            headers=headers,
            timeout=30,
            allow_redirects=False,
            **kwargs,
        )
        self.sent += 1
        check_answer(response, json_api=json_api, what=f"{method} {path}")
        return response


def check_answer(response: requests.Response, *, json_api: bool, what: str) -> None:
    """No 5xx ever; on a JSON API, every error is JSON in the documented shape."""
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if not json_api or response.status_code < 400:
        return
    assert _content_type(response).startswith("application/json"), (
        f"{what}: {response.status_code} is not JSON: {response.text[:200]}"
    )
    body = json.loads(response.content.decode("utf-8"))  # valid UTF-8, valid JSON
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"], f"{what}: {response.text[:300]}"
    assert isinstance(error["message"], str) and error["message"], f"{what}: {response.text[:300]}"


def _content_type(response) -> str:
    value = response.headers.get("Content-Type") or response.headers.get("content-type") or ""
    return value[0] if isinstance(value, list) else value  # schemathesis: lists of values


def assert_database_valid() -> int:
    """Every row of the project's models passes full_clean (fields, choices, constraints).
    Returns how many rows were checked."""
    problems, checked = [], 0
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        for row in model._default_manager.all():
            checked += 1
            try:
                row.full_clean()
            except ValidationError as error:
                problems.append(f"{model.__name__} {row.pk}: {error.message_dict}")
    assert problems == [], "\n".join(problems[:20])
    return checked
