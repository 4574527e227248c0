"""The web client's routes answer errors in its shape, `{"error": "<sentence>"}`, the database
being unreachable included: 503 with Retry-After, as every other /api/ path."""

import socket

import pytest
from django.core.cache import cache
from django.db import connection

from api.errors import DATABASE_RETRY_AFTER_SECONDS

# Transactional: the request opens a connection of its own, to a port nothing listens on.
pytestmark = pytest.mark.django_db(transaction=True)
URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@pytest.fixture
def database_down(transactional_db, monkeypatch):
    """The connection closed and pointed at a dead port: the next query's connect fails in
    psycopg, as with the database down. Restored before the test database is flushed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]

    def down():
        connection.close()
        monkeypatch.setitem(connection.settings_dict, "PORT", dead_port)
        monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")

    yield down
    monkeypatch.undo()
    connection.close()


def assert_database_unavailable(answer) -> None:
    assert answer.status_code == 503, answer.content
    assert answer["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)
    assert list(answer.json()) == ["error"]
    assert "database is unavailable" in answer.json()["error"]
    assert "127.0.0.1" not in answer.json()["error"]  # nothing of the connection leaks


@pytest.mark.parametrize(
    "call",
    [
        lambda page: page.get("/api/clips/videos"),
        lambda page: page.get("/api/clips/list"),
        lambda page: page.post("/api/clips/identify", {"youtubeUrl": URL, "prompt": ""}),
    ],
    ids=["videos", "list", "identify"],
)
def test_with_the_database_down_a_signed_in_page_gets_a_503(page, database_down, call):
    assert page.get("/api/clips/videos").status_code == 200  # signed in: the user is cached
    database_down()

    answer = call(page)

    assert_database_unavailable(answer)
    assert "private" in answer["Cache-Control"]  # authenticated before the query failed


def test_with_the_database_down_signing_in_is_a_503_too(page, database_down):
    # The session's user is not cached: authentication itself needs the database.
    cache.clear()
    database_down()

    assert_database_unavailable(page.get("/api/clips/videos"))
