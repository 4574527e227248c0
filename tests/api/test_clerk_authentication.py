"""Clerk session tokens (JWTs) authenticate Korai's own API: verified against a JWKS served
over HTTP by a fake Clerk, or a PEM key; issuer, authorized party, audience, expiry with leeway;
key rotation; a user per Clerk id; the session cookie kept safe from cross-site requests."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory, VideoFactory
from tests.fakes.clerk import APP_ORIGIN, FakeClerk, new_key, public_pem
from videos.models import Video

pytestmark = pytest.mark.django_db
SUBMIT = {"youtube_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"}


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def cookie(token: str) -> APIClient:
    client = APIClient()
    client.cookies["__session"] = token
    return client


def test_a_bearer_token_makes_the_clerk_user_a_korai_user_once(clerk):
    token = clerk.session_token("user_2abcdef")

    first = bearer(token).get("/api/videos/")
    second = bearer(clerk.session_token("user_2abcdef")).get("/api/videos/")

    assert (first.status_code, second.status_code) == (200, 200)
    user = get_user_model().objects.get(clerk_id="user_2abcdef")
    assert user.username == "user_2abcdef"
    assert not user.has_usable_password()
    assert get_user_model().objects.filter(clerk_id="user_2abcdef").count() == 1


def test_the_session_cookie_authenticates_reads(clerk):
    user_video = VideoFactory(owner=UserFactory(username="u", clerk_id="u_1"))

    answer = cookie(clerk.session_token("u_1")).get(f"/api/videos/{user_video.pk}/")

    assert answer.status_code == 200
    assert answer.json()["id"] == str(user_video.pk)


def test_another_users_video_is_not_found(clerk):
    video = VideoFactory()  # someone else's

    answer = bearer(clerk.session_token("user_intruder")).get(f"/api/videos/{video.pk}/")

    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("why", "make_token", "message"),
    [
        (
            "expired",
            lambda c: c.session_token("user_1", issued_ago=120, expires_in=60),
            "expired",
        ),
        (
            "signed by another key under a known kid",
            lambda c: c.session_token("user_1", key=new_key()),
            "signature",
        ),
        ("another issuer", lambda c: c.session_token("user_1", issuer="https://x.test"), "issued"),
        ("another origin", lambda c: c.session_token("user_1", azp="https://evil.test"), "origin"),
        ("no origin", lambda c: c.session_token("user_1", azp=None), "origin"),
        ("not yet valid", lambda c: c.session_token("user_1", issued_ago=-120), "not valid yet"),
        ("unknown key", lambda c: c.session_token("user_1", kid="ins_unknown"), "unknown"),
        ("not a JWT", lambda c: "not-a-jwt", "not a JWT"),
    ],
)
def test_bad_tokens_are_refused(clerk, why, make_token, message):
    answer = bearer(make_token(clerk)).get("/api/videos/")

    assert answer.status_code == 401, why
    assert message in answer.json()["error"]["message"]
    assert not get_user_model().objects.filter(clerk_id="user_1").exists()


@pytest.mark.parametrize(
    "subject",
    [
        "user_2abc\x00",  # PostgreSQL refuses NUL in text: a query would be a 500
        "user_\x01abc",
        "user_2abc\n",
        "user 2abc",
        "user_2abc/../admin",
        "",
        "user_" + "a" * 60,  # longer than any Clerk id
    ],
)
def test_a_signed_token_with_a_subject_that_is_no_clerk_id_is_refused_before_any_query(
    clerk, subject, django_assert_num_queries
):
    client = bearer(clerk.session_token(subject))

    with django_assert_num_queries(0):
        answer = client.get("/api/videos/")

    assert answer.status_code == 401
    assert answer.json()["error"]["message"] == "The session token's subject is not a user id."
    assert not get_user_model().objects.exclude(clerk_id="").exists()


def test_a_real_shaped_clerk_id_is_accepted(clerk):
    answer = bearer(clerk.session_token("user_2NNEqL2nrIRdJ194ndJqAHwEfxC")).get("/api/videos/")

    assert answer.status_code == 200


def test_a_bad_cookie_is_refused_too(clerk):
    answer = cookie(clerk.session_token("user_1", issuer="https://evil.test")).get("/api/videos/")

    assert answer.status_code == 401


def test_clock_skew_within_the_leeway_is_accepted(clerk, settings):
    settings.CLERK_JWT_LEEWAY_SECONDS = 10
    just_expired = clerk.session_token("user_1", issued_ago=63, expires_in=60)

    assert bearer(just_expired).get("/api/videos/").status_code == 200

    settings.CLERK_JWT_LEEWAY_SECONDS = 0
    assert bearer(just_expired).get("/api/videos/").status_code == 401


def test_the_key_set_is_cached(clerk):
    for n in range(5):
        assert bearer(clerk.session_token(f"user_{n}")).get("/api/videos/").status_code == 200

    assert clerk.fetches == 1


def test_a_rotated_key_is_fetched_when_a_token_names_it(clerk):
    assert bearer(clerk.session_token("user_1")).get("/api/videos/").status_code == 200
    clerk.rotate(keep_old=False)

    answer = bearer(clerk.session_token("user_1")).get("/api/videos/")

    assert answer.status_code == 200
    assert clerk.fetches == 2


def test_made_up_key_ids_cannot_hammer_the_jwks(clerk, settings):
    settings.CLERK_JWKS_REFRESH_COOLDOWN_SECONDS = 60
    assert bearer(clerk.session_token("user_1")).get("/api/videos/").status_code == 200

    for n in range(100):
        token = clerk.session_token("user_1", kid=f"made_up_{n}")
        assert bearer(token).get("/api/videos/").status_code == 401

    assert clerk.fetches == 1  # the cooldown after the first fetch holds back the refetches


def test_a_failing_jwks_is_fetched_once_per_cooldown_whatever_the_tokens_say(clerk, settings):
    settings.CLERK_JWKS_REFRESH_COOLDOWN_SECONDS = 60
    clerk.answer = "error"  # Clerk answers 500 from the start
    started = time.monotonic()

    answers = [
        bearer(clerk.session_token("user_1", kid=f"made_up_{n}")).get("/api/videos/")
        for n in range(100)
    ]

    assert {answer.status_code for answer in answers} == {503}
    assert clerk.fetches == 1  # the failed fetch started the cooldown too
    assert time.monotonic() - started < 10


def test_known_keys_keep_working_while_the_jwks_fails(clerk, settings):
    settings.CLERK_JWKS_REFRESH_COOLDOWN_SECONDS = COOLDOWN = 1
    assert bearer(clerk.session_token("user_1")).get("/api/videos/").status_code == 200
    clerk.answer = "error"
    time.sleep(COOLDOWN + 0.1)  # the first fetch's cooldown is over
    started = time.monotonic()

    made_up = [
        bearer(clerk.session_token("user_1", kid=f"made_up_{n}")).get("/api/videos/")
        for n in range(100)
    ]
    known = bearer(clerk.session_token("user_1")).get("/api/videos/")

    assert {answer.status_code for answer in made_up} == {401}
    assert known.status_code == 200
    refetches = clerk.fetches - 1  # all failed
    assert 1 <= refetches <= 1 + (time.monotonic() - started) / COOLDOWN  # one per cooldown


def test_an_old_key_set_is_fetched_again_and_kept_while_clerk_fails(clerk, settings):
    settings.CLERK_JWKS_CACHE_SECONDS = settings.CLERK_JWKS_REFRESH_COOLDOWN_SECONDS = 0.5
    old_key = clerk.session_token("user_1")
    assert bearer(old_key).get("/api/videos/").status_code == 200
    clerk.rotate(keep_old=False)  # Clerk withdraws the old key
    time.sleep(0.6)

    assert bearer(clerk.session_token("user_1")).get("/api/videos/").status_code == 200
    assert bearer(old_key).get("/api/videos/").status_code == 401  # no fetch: the cooldown
    clerk.answer = "error"
    time.sleep(0.6)

    assert bearer(clerk.session_token("user_1")).get("/api/videos/").status_code == 200
    assert clerk.fetches == 3  # the last one failed: the set fetched before stays in use


def get_at_once(url: str, tokens: list[str]) -> tuple[list[tuple[int, float]], float]:
    """Every token's GET of `url` at the same time: (status, seconds) each, and the wall time."""

    def get(token: str) -> tuple[int, float]:
        started = time.monotonic()
        answer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        return answer.status_code, time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        results = list(pool.map(get, tokens))
    return results, time.monotonic() - started


def test_a_hanging_jwks_holds_up_one_request_for_one_timeout(
    transactional_db, live_server, clerk, settings
):
    settings.CLERK_JWKS_TIMEOUT_SECONDS = TIMEOUT = 3
    settings.CLERK_JWKS_REFRESH_COOLDOWN_SECONDS = 0.5
    url = live_server.url + "/api/videos/"
    signed_in = clerk.session_token("user_1")
    assert requests.get(url, headers={"Authorization": f"Bearer {signed_in}"}).status_code == 200
    clerk.answer = "hang"
    time.sleep(0.6)  # a made-up kid may refetch now

    made_up = [clerk.session_token("user_1", kid=f"made_up_{n}") for n in range(10)]
    results, wall = get_at_once(url, [*made_up, *[signed_in] * 10])

    assert [status for status, _ in results] == [401] * 10 + [200] * 10
    assert max(seconds for _, seconds in results[10:]) < TIMEOUT  # signed-in users never wait
    assert wall < TIMEOUT + 2  # one fetch hung, once
    assert clerk.fetches == 2


def test_a_jwks_hanging_from_the_start_costs_one_timeout_not_one_per_request(
    transactional_db, live_server, clerk, settings
):
    settings.CLERK_JWKS_TIMEOUT_SECONDS = TIMEOUT = 3
    settings.CLERK_JWKS_REFRESH_COOLDOWN_SECONDS = 60
    clerk.answer = "hang"

    results, wall = get_at_once(
        live_server.url + "/api/videos/", [clerk.session_token(f"user_{n}") for n in range(10)]
    )

    assert [status for status, _ in results] == [503] * 10  # no keys: sign-in cannot be checked
    assert wall < TIMEOUT + 2
    assert clerk.fetches == 1


def test_jwks_outage_is_a_503_not_a_sign_out(settings):
    from integrations import clerk as core_clerk

    with FakeClerk() as gone:
        url, token = gone.jwks_url, gone.session_token("user_1", issuer="", azp=None)
    settings.CLERK_JWKS_URL = url  # nothing listens there any more
    settings.CLERK_ISSUER = ""
    settings.CLERK_AUTHORIZED_PARTIES = []
    core_clerk._key_set.cache_clear()

    answer = bearer(token).get("/api/videos/")

    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "auth_unavailable"
    core_clerk._key_set.cache_clear()


def test_a_pem_key_works_without_a_jwks(settings):
    key = new_key()
    settings.CLERK_JWT_KEY = public_pem(key)
    settings.CLERK_JWKS_URL = ""
    settings.CLERK_ISSUER = "https://clerk.korai.test"
    settings.CLERK_AUTHORIZED_PARTIES = [APP_ORIGIN]
    with FakeClerk() as signer:
        good = signer.session_token("user_pem", key=key)
        bad = signer.session_token("user_pem")  # the fake's own key, not the configured one

    assert bearer(good).get("/api/videos/").status_code == 200
    assert bearer(bad).get("/api/videos/").status_code == 401


def test_the_audience_is_checked_when_configured(clerk, settings):
    settings.CLERK_AUDIENCE = ["korai-api"]

    assert bearer(clerk.session_token("user_1")).get("/api/videos/").status_code == 401
    assert bearer(clerk.session_token("user_1", aud="other")).get("/api/videos/").status_code == 401
    answer = bearer(clerk.session_token("user_1", aud="korai-api")).get("/api/videos/")
    assert answer.status_code == 200


def test_jwt_authentication_is_off_without_a_key(clerk, settings):
    settings.CLERK_JWKS_URL = ""
    settings.CLERK_JWT_KEY = ""

    assert bearer(clerk.session_token("user_1")).get("/api/videos/").status_code == 401
    assert cookie(clerk.session_token("user_1")).get("/api/videos/").status_code == 401
    assert clerk.fetches == 0


def test_a_deactivated_user_is_refused_at_once(clerk):
    token = clerk.session_token("user_1")
    assert bearer(token).get("/api/videos/").status_code == 200  # now cached

    user = get_user_model().objects.get(clerk_id="user_1")
    user.is_active = False
    user.save()

    assert bearer(token).get("/api/videos/").status_code == 401


def test_a_warm_session_costs_one_query_per_poll(clerk, django_assert_num_queries):
    token = clerk.session_token("user_1")
    client = bearer(token)
    client.get("/api/videos/")  # the user is created and cached
    video = VideoFactory(
        owner=get_user_model().objects.get(clerk_id="user_1"), status=Video.Status.PROCESSING
    )

    with django_assert_num_queries(1):  # the status row; the user comes from the cache
        assert client.get(f"/api/videos/{video.pk}/status/").status_code == 200


class TestCookieCsrf:
    """The cookie goes with any request the browser makes, a cross-site form post included;
    writes authenticated by it must come from a trusted origin."""

    def test_a_write_from_the_apps_origin_is_accepted(self, clerk, fake_inngest):
        client = cookie(clerk.session_token("user_1"))

        answer = client.post("/api/videos/", SUBMIT, format="json", HTTP_ORIGIN=APP_ORIGIN)

        assert answer.status_code == 202, answer.content

    def test_a_same_origin_write_is_accepted(self, clerk, fake_inngest):
        client = cookie(clerk.session_token("user_1"))

        answer = client.post("/api/videos/", SUBMIT, format="json", HTTP_ORIGIN="http://testserver")

        assert answer.status_code == 202, answer.content

    def test_a_referer_stands_in_for_a_missing_origin(self, clerk, fake_inngest):
        client = cookie(clerk.session_token("user_1"))

        answer = client.post(
            "/api/videos/", SUBMIT, format="json", HTTP_REFERER=f"{APP_ORIGIN}/dashboard/clips"
        )

        assert answer.status_code == 202, answer.content

    @pytest.mark.parametrize(
        "headers",
        [
            {"HTTP_ORIGIN": "https://evil.test"},
            {"HTTP_ORIGIN": "null"},
            {"HTTP_REFERER": "https://evil.test/form"},
            {},
        ],
    )
    def test_a_cross_site_or_unattributed_write_is_refused(self, clerk, fake_inngest, headers):
        from videos.models import Video

        client = cookie(clerk.session_token("user_1"))

        answer = client.post("/api/videos/", SUBMIT, format="json", **headers)

        assert answer.status_code == 403
        assert "CSRF" in answer.json()["error"]["message"]
        assert not Video.objects.exists()
        assert fake_inngest.events == []

    def test_a_bearer_write_needs_no_origin(self, clerk, fake_inngest):
        answer = bearer(clerk.session_token("user_1")).post("/api/videos/", SUBMIT, format="json")

        assert answer.status_code == 202, answer.content


def test_with_clerk_on_an_api_token_as_bearer_is_told_the_scheme_and_a_jwt_still_works(clerk):
    key = Token.objects.create(user=UserFactory()).key

    told = bearer(key).get("/api/videos/")
    signed_in = bearer(clerk.session_token("user_2abcdef")).get("/api/videos/")

    assert told.status_code == 401
    assert "'Authorization: Token <token>', not 'Bearer'" in told.json()["error"]["message"]
    assert signed_in.status_code == 200
