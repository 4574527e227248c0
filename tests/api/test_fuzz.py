"""A schema-driven fuzz pass: schemathesis generates requests from Korai's own OpenAPI schema
(valid and invalid bodies, query strings, headers) and sends them over real HTTP; no answer may
be a 5xx, and every answer must match the documented schema."""

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import (
    ClipFactory,
    ExportedClipFactory,
    ExportFactory,
    UserFactory,
    VideoFactory,
)
from videos.models import Video

EXAMPLES = 75  # per operation: 8 operations, 600 requests, about 15 s


def api_operations() -> list:
    schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    return [result.ok() for result in schema.get_all_operations()]


@pytest.fixture
def fuzz_target(transactional_db, live_server, fake_inngest, settings):
    """A live server, a token, and a completed video with clips and an export, so generated
    requests reach real objects (paths use their ids) instead of only 404s."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"video_submit": "100000/hour", "export_create": "100000/hour"},
    }
    user = UserFactory()
    video = VideoFactory(
        owner=user, processing_status=Video.Status.COMPLETED, duration_seconds=300.0
    )
    ClipFactory.create_batch(3, video=video)
    export = ExportFactory(video=video)
    ExportedClipFactory(export=export)
    token = Token.objects.create(user=user)
    return {
        "base_url": live_server.url,
        "headers": {"Authorization": f"Token {token.key}"},
        "video_id": str(video.pk),
        "export_id": str(export.pk),
    }


# Half of the generated bodies get a valid core, so the fuzz also reaches the services (and
# their 202s) instead of stopping at the first invalid field.
VALID_CORE = {
    "POST /api/videos/": {"youtube_url": "https://youtu.be/dQw4w9WgXcQ"},
    "POST /api/videos/{video_id}/exports/": {"clips": [{"start": 1, "end": 20}]},
}


@pytest.mark.parametrize("operation", api_operations(), ids=lambda op: op.label)
def test_no_request_makes_the_api_fail(operation, fuzz_target):
    cases = operation.as_strategy(generation_mode=GenerationMode.POSITIVE) | (
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    )

    @given(case=cases, repair=st.booleans())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case, repair):
        for name in ("video_id", "export_id"):
            if name in (case.path_parameters or {}):
                case.path_parameters[name] = fuzz_target[name]
        if repair and isinstance(case.body, dict) and operation.label in VALID_CORE:
            case.body.pop("clip_ids", None)
            case.body.update(VALID_CORE[operation.label])
        response = case.call(base_url=fuzz_target["base_url"], headers=fuzz_target["headers"])
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    check()
