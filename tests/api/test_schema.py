import yaml
from django.core.management import call_command

ENDPOINTS = {
    "/api/videos/": {"get", "post"},
    "/api/videos/{video_id}/": {"get", "delete"},
    "/api/videos/{video_id}/status/": {"get"},
    "/api/videos/{video_id}/clips/": {"get"},
    "/api/videos/{video_id}/exports/": {"get", "post"},
    "/api/exports/{export_id}/": {"get"},
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
            if method == "post":
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


def test_interactive_docs_are_served(api_client):
    response = api_client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
