"""Two instances of the service, one database.

Two gunicorn instances (2 workers each) share the PostgreSQL database and the (fake) Inngest
event API, as two machines behind a load balancer would:
- throughput: 16 concurrent clients submitting `POST /api/videos/` for a few seconds to one
  instance, then spread round-robin over both (the ratio two / one);
- every event of those submissions reaches the event API exactly once;
- with the event API down, submissions spread over both are recorded undelivered; once it is
  back, `resend_events` runs on both instances at the same moment, and still every event
  arrives exactly once.

On this 2-core machine both instances, the clients and PostgreSQL share the same cores, so the
throughput ratio shows that a second instance costs nothing (no lock contention, no duplicate
work), not that it doubles capacity; that needs a second machine."""

import itertools
import os
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.common import BENCH_SETTINGS, PYTHON, ROOT, gunicorn, report, setup_django
from tests.fakes.inngest_api import FakeInngestEventAPI

CLIENTS = 16


def main(seconds: float = 5, undelivered: int = 100) -> dict:
    setup_django()
    from rest_framework.authtoken.models import Token

    from tests.factories import UserFactory

    user = UserFactory(username=f"bench-instances-{time.time_ns()}")
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    with FakeInngestEventAPI() as event_api:
        env = {"INNGEST_BASE_URL": event_api.url, "INNGEST_DEV": ""}
        with gunicorn(workers=2, env=env) as first, gunicorn(workers=2, env=env) as second:
            warm_up = _submit_for(1, [first, second], headers)
            one = _submit_for(seconds, [first], headers)
            two = _submit_for(seconds, [first, second], headers)
            submitted = warm_up["count"] + one["count"] + two["count"]
            _wait_until_delivered(user)
            live = _exactly_once(event_api, submitted)

            event_api.clear()
            event_api.down()
            _submit_count(undelivered, [first, second], headers)
            pending = _undelivered_count()
            event_api.up()
            resend_seconds = _resend_on_both_at_once(env)
            resent = _exactly_once(event_api, undelivered)
    ratio = two["rps"] / one["rps"]
    report(
        "Two instances, one database",
        [
            f"submissions/s, one instance: {one['rps']:.0f}; two instances: {two['rps']:.0f}; "
            f"ratio {ratio:.2f} ({CLIENTS} concurrent clients, {seconds:g} s each)",
            f"live delivery: {live['events']} events for {submitted} submissions, "
            f"{live['duplicates']} duplicates, {live['missing']} missing",
            f"resend_events on both instances at once: {pending} undelivered before, "
            f"{resent['events']} events delivered, {resent['duplicates']} duplicates, "
            f"{resent['missing']} missing, {resend_seconds:.1f} s",
        ],
    )
    return {
        "one_instance_rps": one["rps"],
        "two_instances_rps": two["rps"],
        "ratio": ratio,
        "live_delivery": live,
        "undelivered_before_resend": pending,
        "resend_on_both": resent,
        "resend_seconds": resend_seconds,
    }


def _submit_for(seconds: float, bases: list[str], headers: dict) -> dict:
    """CLIENTS threads submit back to back for `seconds`, spread round-robin over `bases`."""
    deadline = time.monotonic() + seconds
    counter = itertools.count()
    lock = threading.Lock()

    def client() -> int:
        session, done = _session(), 0
        while time.monotonic() < deadline:
            with lock:
                base = bases[next(counter) % len(bases)]
            _submit(session, base, headers)
            done += 1
        return done

    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        count = sum(pool.map(lambda _: client(), range(CLIENTS)))
    return {"count": count, "rps": count / (time.monotonic() - started)}


def _submit_count(count: int, bases: list[str], headers: dict) -> None:
    session = _session()
    for i in range(count):
        _submit(session, bases[i % len(bases)], headers)


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def _submit(session, base, headers) -> None:
    response = session.post(
        f"{base}/api/videos/",
        json={"youtube_url": f"https://youtu.be/{uuid.uuid4().hex[:11]}", "prompt": "bench"},
        headers=headers,
        timeout=30,
    )
    if response.status_code != 202:
        raise RuntimeError(f"submission answered {response.status_code}: {response.text}")


def _undelivered_count() -> int:
    from outbox.models import OutboxEvent

    return OutboxEvent.objects.filter(delivered_at__isnull=True).count()


def _wait_until_delivered(user, timeout: float = 60) -> None:
    """Until this benchmark's events are delivered (the submission benchmark leaves its own
    undelivered: waiting for those took the whole timeout)."""
    from outbox.selectors import events_undelivered
    from videos.models import Video

    undelivered = events_undelivered(jobs=[Video.objects.filter(owner=user)])
    deadline = time.monotonic() + timeout
    while undelivered.exists() and time.monotonic() < deadline:
        time.sleep(0.2)


def _exactly_once(event_api, expected: int) -> dict:
    counts = event_api.id_counts()
    return {
        "events": sum(counts.values()),
        "distinct": len(counts),
        "duplicates": sum(n - 1 for n in counts.values() if n > 1),
        "missing": max(0, expected - len(counts)),
    }


def _resend_on_both_at_once(env: dict) -> float:
    """`manage.py resend_events` on each instance's machine at the same moment."""
    command = [PYTHON, "manage.py", "resend_events"]
    full_env = {**os.environ, **env, "DJANGO_SETTINGS_MODULE": BENCH_SETTINGS}
    started = time.monotonic()
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL)
        for _ in range(2)
    ]
    for process in processes:
        if process.wait(timeout=120) != 0:
            raise RuntimeError("resend_events failed")
    return time.monotonic() - started


if __name__ == "__main__":
    main()
