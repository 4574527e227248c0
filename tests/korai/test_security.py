"""What the settings turn on for every page: admin login throttling (django-axes) and the
Content-Security-Policy (django-csp), on the admin, the API and the API docs."""

import re

from django.core.management import call_command

PASSWORD = "operator-password-1"


def log_in(client, password: str):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "operator", "password": password},
        REMOTE_ADDR="203.0.113.7",
    )


# --- login throttling ----------------------------------------------------------------------------


def test_wrong_passwords_lock_the_login_until_reset(client, operator, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong").status_code == 200  # the form again, with an error
    assert log_in(client, "wrong").status_code == 429  # the limit-th failure locks

    locked = log_in(client, PASSWORD)  # even the right password, while locked out
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session

    call_command("axes_reset")  # the documented unlock
    assert log_in(client, PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(operator.pk)


def test_a_hundred_guesses_are_not_all_processed(client, operator, settings):
    answers = [log_in(client, f"guess-{i}").status_code for i in range(100)]
    assert answers.count(200) == settings.AXES_FAILURE_LIMIT - 1
    assert answers.count(429) == 100 - settings.AXES_FAILURE_LIMIT + 1


def test_the_lock_is_per_username_and_address(client, operator, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong")
    elsewhere = client.post(
        "/admin/login/?next=/admin/",
        {"username": "operator", "password": PASSWORD},
        REMOTE_ADDR="198.51.100.9",
    )
    assert elsewhere.status_code == 302


# --- CSP -----------------------------------------------------------------------------------------


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part
    }


def test_the_admin_has_a_strict_policy_and_its_inline_style_carries_the_nonce(admin_client):
    response = admin_client.get("/admin/")
    policy = directives(response)

    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    nonce = next(v for v in policy["style-src"] if v.startswith("'nonce-"))
    assert "'unsafe-inline'" not in policy["style-src"]
    html = response.content.decode()
    assert f'<style nonce="{nonce[7:-1]}">' in html
    # No inline script anywhere on the page.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)


def test_the_login_page_has_the_policy(client, db):
    assert directives(client.get("/admin/login/"))["script-src"] == ["'self'"]


def test_api_answers_have_the_policy(api_client):
    assert directives(api_client.get("/api/videos/"))["default-src"] == ["'self'"]


def test_the_docs_load_only_scripts_of_this_origin(admin_client):
    response = admin_client.get("/api/docs/")
    assert response.status_code == 200
    policy = directives(response)
    # This origin, plus the assets' CDN only while drf-spectacular loads them from one.
    assert policy["script-src"][0] == "'self'"
    assert all(src.startswith("https://") for src in policy["script-src"][1:])
    html = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    # The set-up script is served from this origin as a file.
    script = admin_client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
