"""The OpenAPI schema documents every endpoint, its bodies and errors, and is valid; the docs
pages load only local assets; both are for signed-in users unless a setting makes them public."""

import re

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings

ENDPOINTS = {
    "/api/videos/": {"get", "post"},
    "/api/videos/{video_id}/": {"get", "delete"},
    "/api/videos/{video_id}/status/": {"get"},
    "/api/videos/{video_id}/cancel/": {"post"},
    "/api/videos/{video_id}/clips/": {"get"},
    "/api/videos/{video_id}/exports/": {"get", "post"},
    "/api/exports/{export_id}/": {"get"},
    "/api/exports/{export_id}/cancel/": {"post"},
}


def test_schema_documents_every_endpoint_body_and_error(api_client):
    response = api_client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = {path: ops for path, ops in schema["paths"].items() if path != "/api/inngest"}
    assert {path: set(ops) for path, ops in paths.items()} == ENDPOINTS
    for path, operations in paths.items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            success = {"post": "202", "delete": "204"}.get(method, "200")
            assert {success, "401"} <= codes, (path, method)
            assert "404" in codes or path == "/api/videos/"
            for code in codes - {success}:
                content = operation["responses"][code]["content"]["application/json"]
                assert content["schema"]["$ref"] == "#/components/schemas/Error"
            if path.endswith("/cancel/"):
                # No body to check and nothing created: 409 once the job is final.
                assert "409" in codes and "requestBody" not in operation
            elif method == "post":
                assert {"400", "429"} <= codes
                assert operation["requestBody"]["content"]["application/json"]["schema"]
    error = schema["components"]["schemas"]["ErrorBody"]["properties"]
    assert set(error) == {"code", "message", "fields"}
    style = schema["components"]["schemas"]["ExportCreateInputRequest"]["properties"]
    assert "subtitle_style" in style


def test_the_schema_is_valid_openapi_without_warnings(db, tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml")
    )
    assert (tmp_path / "schema.yml").stat().st_size > 1000


@pytest.mark.parametrize(
    ("path", "bundle"), [("/api/docs/", "swagger-ui"), ("/api/redoc/", "redoc")]
)
def test_the_docs_pages_load_only_local_assets_that_are_served(db, path, bundle):
    # Offline (no CDN) and pinned: every script, stylesheet and icon comes from our own static
    # files, i.e. drf-spectacular-sidecar at the version in requirements.txt.
    static_prefix = "/" + settings.STATIC_URL.lstrip("/")
    # Public docs (KORAI_API_DOCS_PUBLIC): production keeps them for signed-in users.
    with override_settings(WHITENOISE_USE_FINDERS=True, KORAI_API_DOCS_PUBLIC=True):
        client = Client()  # a new client: whitenoise reads its settings when it is built
        response = client.get(path)
        assert response.status_code == 200
        html = response.content.decode()
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert any(bundle in asset for asset in assets), assets
        for asset in assets:
            # Static files, or Swagger UI's set-up script served by the page itself (CSP).
            assert asset.startswith((static_prefix, path)), asset
            served = client.get(asset)
            assert served.status_code == 200, asset
            assert b"".join(served.streaming_content if served.streaming else [served.content])
        # The page itself names no other origin to load from.
        assert not re.search(r"https?://|//cdn|@latest", html), html


def test_redocs_bundle_loads_no_logo_from_a_cdn(db):
    with override_settings(KORAI_API_DOCS_PUBLIC=True):
        html = Client().get("/api/redoc/").content.decode()
        [bundle] = re.findall(r'src="([^"]*redoc[^"]*\.js)"', html)
        served = Client().get(bundle)
    assert served.status_code == 200
    assert served["Content-Type"].startswith("text/javascript")
    assert b"cdn.redoc.ly" not in served.content
    assert b"redocly logo" in served.content  # the rest of the bundle is all there


# --- the docs and the schema behind a setting ----------------------------------------------------


@pytest.mark.parametrize("url", ["/api/docs/", "/api/schema/"])
def test_docs_and_schema_need_a_signed_in_user_by_default(client, db, url, settings):
    assert settings.KORAI_API_DOCS_PUBLIC is False  # production settings
    assert client.get(url).status_code == 401


@pytest.mark.parametrize("url", ["/api/docs/", "/api/schema/"])
def test_docs_and_schema_for_signed_in_users(admin_client, api_client, url):
    assert admin_client.get(url).status_code == 200
    assert api_client.get(url).status_code == 200


@pytest.mark.parametrize("url", ["/api/docs/", "/api/schema/"])
def test_docs_and_schema_public_when_the_setting_says_so(client, db, url, settings):
    settings.KORAI_API_DOCS_PUBLIC = True
    assert client.get(url).status_code == 200


def test_options_on_the_docs_is_a_405_not_a_500(admin_client):
    assert admin_client.options("/api/docs/").status_code == 405
