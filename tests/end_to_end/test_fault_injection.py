"""Fault injection: many videos and exports driven through the REST API on the live server and
the development executor over HTTP, with faults at random moments, then settled the way
production settles, then checked against the invariants every job must keep.

Faults: events duplicated, reordered and delayed on their way to the engine (`faults.
EngineInbox`); requests to /api/inngest dropped, or cut while their step runs (`faults.
CuttingProxy`); storage and event-API outages; clips-service failures (5xx, 429 with
Retry-After, timeouts, a malformed answer); cancels, reruns and deletes. Settling: the outbox
delivered, every event handed to the engine, the executor idle, `reconcile_now()` with the jobs
aged past KORAI_RECONCILE_AFTER_MINUTES, repeated until nothing changes.

Random from one seed (KORAI_FAULT_SEED, else a fresh one, always printed); thread timing makes
a replay close to, not exactly, the same run."""

import os
import random
import re
import time
from collections import Counter
from datetime import timedelta

import pytest
import requests
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db.models import Count, Q
from django.utils import timezone
from rest_framework.authtoken.models import Token

from clips.models import Clip
from core.exceptions import ApplicationError
from devtools.dev_executor import DevExecutor
from devtools.executor import Backoff, InngestExecutor
from exports.models import Export, ExportedClip
from exports.services import export_rerun
from jobs import lifecycle
from operations.functions import reconcile_now
from outbox.models import OutboxEvent
from outbox.services import events_resend_undelivered
from tests.end_to_end.faults import CuttingProxy, EngineInbox, Faults
from tests.factories import UserFactory
from tests.fakes.clips_api import Reply
from videos.models import Video, VideoDeletion
from videos.services import video_rerun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

# A hanging clips call outlives this: the step times out and is retried.
CLIPS_API_READ_TIMEOUT_SECONDS = 1.0
VIDEOS = 20
EXPORTS = 36
CLIPS_PER_VIDEO = 6  # each export of a video takes clips no other export of it has
TICKS = 300
REPLAY = "KORAI_FAULT_SEED={seed} .venv/bin/pytest tests/end_to_end/test_fault_injection.py"


def youtube_url(n: int) -> str:
    return f"https://www.youtube.com/watch?v=fault{n:06d}"


class Suite:
    def __init__(self, *, rng, faults, base, sessions, dev, inbox, proxy, s3, clips, event_api):
        self.rng, self.faults, self.base, self.sessions = rng, faults, base, sessions
        self.dev, self.inbox, self.proxy, self.s3 = dev, inbox, proxy, s3
        self.clips, self.event_api = clips, event_api
        self.videos: list[str] = []
        self.exports: list[str] = []
        self.free_clips: dict[str, list[str]] = {}  # video id -> clips no export took
        self.storage_down_until = 0.0
        self.event_api_down_until = 0.0
        self.anomalies: list[str] = []  # answers of the API that no fault excuses

    def session(self):
        return self.rng.choice(self.sessions)

    def owner_session(self, video_id: str):
        owner = Video.objects.filter(pk=video_id).values_list("owner_id", flat=True).first()
        return next((s for s in self.sessions if s.user_id == owner), None)

    # --- the jobs -------------------------------------------------------------------------
    def submit_video(self) -> None:
        n = len(self.videos)
        response = self.session().post(
            f"{self.base}/videos/", json={"youtube_url": youtube_url(n)}, timeout=10
        )
        assert response.status_code == 202, response.text
        self.videos.append(response.json()["id"])

    def create_exports(self) -> None:
        """One export of a finished video, or (half the time) one for each pair of its clips
        no export took yet, at once: renders of one video then compete."""
        ready = Video.objects.filter(pk__in=self.videos, status=Video.Status.COMPLETED)
        candidates = []
        for pk in ready.values_list("pk", flat=True):
            key = str(pk)
            if key not in self.free_clips:
                clips = Clip.objects.filter(video_id=pk).values_list("pk", flat=True)
                self.free_clips[key] = [str(clip) for clip in clips]
            if self.free_clips[key]:
                candidates.append(key)
        if not candidates:
            return
        video_id = self.rng.choice(candidates)
        free = self.free_clips[video_id]
        session = self.owner_session(video_id)
        burst = self.rng.random() < 0.5
        while free and len(self.exports) < EXPORTS:
            taken = [free.pop(self.rng.randrange(len(free))) for _ in range(min(2, len(free)))]
            response = session.post(
                f"{self.base}/videos/{video_id}/exports/",
                json={"clip_ids": taken, "aspect_ratio": "9:16"},
                timeout=10,
            )
            if response.status_code == 404:  # deleted meanwhile
                return
            assert response.status_code == 202, response.text
            self.exports.append(response.json()["id"])
            if not burst:
                return

    def cancel(self) -> None:
        kind, model, ids = self.rng.choice(
            [("videos", Video, self.videos), ("exports", Export, self.exports)]
        )
        active = list(model.objects.filter(pk__in=ids, status__in=lifecycle.ACTIVE))
        if not active:
            return
        job = self.rng.choice(active)
        job_id = job.pk
        owner = job.owner_id
        session = next(s for s in self.sessions if s.user_id == owner)
        response = session.post(f"{self.base}/{kind}/{job_id}/cancel/", timeout=10)
        assert response.status_code in (202, 404, 409), response.text
        if response.status_code == 202:
            self.faults.note("cancel")

    def rerun(self) -> None:
        finished = [
            *(
                (video_rerun, "video", v)
                for v in Video.objects.filter(pk__in=self.videos, status__in=lifecycle.RERUNNABLE)
            ),
            *(
                (export_rerun, "export", e)
                for e in Export.objects.filter(pk__in=self.exports, status__in=lifecycle.RERUNNABLE)
            ),
        ]
        if not finished:
            return
        rerun, name, job = self.rng.choice(finished)
        try:
            rerun(**{name: job})
        except ApplicationError:
            return
        self.faults.note("rerun")

    def delete_video(self) -> None:
        alive = list(Video.objects.filter(pk__in=self.videos).values_list("pk", "owner_id"))
        if len(alive) < 3:
            return
        video_id, owner = self.rng.choice(alive)
        session = next(s for s in self.sessions if s.user_id == owner)
        response = session.delete(f"{self.base}/videos/{video_id}/", timeout=10)
        if response.status_code != 204:
            self.anomalies.append(
                f"DELETE /api/videos/{video_id}/ answered {response.status_code}: {response.text}"
            )
            return
        self.faults.note("delete")

    # --- the faults -----------------------------------------------------------------------
    def outages(self) -> None:
        now = time.monotonic()
        if self.storage_down_until and now >= self.storage_down_until:
            self.s3.up()
            self.storage_down_until = 0.0
        elif not self.storage_down_until and self.faults.chance(0.03):
            self.s3.down()
            self.storage_down_until = now + self.faults.uniform(0.2, 1.5)
            self.faults.note("storage outage")
        if self.event_api_down_until and now >= self.event_api_down_until:
            self.event_api.up()
            self.event_api_down_until = 0.0
        elif not self.event_api_down_until and self.faults.chance(0.03):
            self.event_api.down()
            self.event_api_down_until = now + self.faults.uniform(0.2, 1.5)
            self.faults.note("event API outage")

    def clips_failure(self) -> None:
        endpoint = self.rng.choice(["identify", "process"])
        reply = self.rng.choice(
            [
                Reply(status=502),
                Reply(status=500),
                Reply(status=429, headers={"Retry-After": "1"}),
                Reply(status=503, headers={"Retry-After": "2"}),
                Reply(hang=CLIPS_API_READ_TIMEOUT_SECONDS + 0.5),  # a timeout
                Reply(raw=b"<html>not json</html>"),  # malformed: fails for good
            ]
        )
        self.clips.queue(endpoint, reply)
        self.faults.note("clips service failure")

    def tick(self, n: int) -> None:
        if len(self.videos) < VIDEOS and self.rng.random() < 0.2:
            self.submit_video()
        if n > 15 and len(self.exports) < EXPORTS and self.rng.random() < 0.15:
            self.create_exports()
        self.outages()
        if self.rng.random() < 0.2:
            self.clips_failure()
        if self.rng.random() < 0.12:
            self.cancel()
        if self.rng.random() < 0.08:
            self.rerun()
        if n > 60 and self.rng.random() < 0.015:
            self.delete_video()
        if not self.event_api_down_until and self.rng.random() < 0.2:
            events_resend_undelivered()  # the resend cron
        if self.rng.random() < 0.6:
            self.inbox.pump(self.dev)
        time.sleep(0.05)

    # --- settling -------------------------------------------------------------------------
    def settle(self, rounds: int = 25) -> int:
        """Everything back up, then what production does until nothing changes: deliver the
        outbox, hand the engine every event, let it finish, reconcile. Returns the rounds."""
        self.proxy.cutting = False
        if self.storage_down_until:
            self.s3.up()
        if self.event_api_down_until:
            self.event_api.up()
        with self.clips._lock:
            for waiting in self.clips._queues.values():
                waiting.clear()
        for n in range(1, rounds + 1):
            events_resend_undelivered()
            self.inbox.flush(self.dev)
            wait_until_idle(self.dev)
            self.inbox.take_new()
            if self.inbox.waiting:
                continue
            active = Q(status__in=lifecycle.ACTIVE)
            undelivered = OutboxEvent.objects.filter(delivered_at__isnull=True).exists()
            if (
                not undelivered
                and not Video.objects.filter(active).exists()
                and not Export.objects.filter(active).exists()
            ):
                return n
            self.event_api.runs.update(
                {run.run_id: run.status.capitalize() for run in self.dev.executor.recorded_runs()}
            )
            aged = timezone.now() - timedelta(
                minutes=django_settings.KORAI_RECONCILE_AFTER_MINUTES + 1
            )
            Video.objects.filter(active).update(updated_at=aged)
            Export.objects.filter(active).update(updated_at=aged)
            reconcile_now()
        return rounds


def wait_until_idle(dev: DevExecutor, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while dev.active and time.monotonic() < deadline:
        time.sleep(0.05)


RENDERED = re.compile(r"fake render (\d+) of (\S+) (\S+)-(\S+)s")


def violations(suite: Suite) -> list[str]:
    """Every broken invariant, one line each."""
    found = list(suite.anomalies)
    active_runs = {run.event.get("id") for run in suite.dev.active}
    undelivered = {
        str(job_id)
        for job_id in OutboxEvent.objects.filter(delivered_at__isnull=True).values_list(
            "job_id", flat=True
        )
    }
    for model in (Video, Export):
        for job in model.objects.filter(status__in=lifecycle.ACTIVE):
            if job.run_event_id not in active_runs and str(job.pk) not in undelivered:
                found.append(
                    f"{model.__name__.lower()} {job.pk} {job.status} with no live run and "
                    "no undelivered event"
                )
    for dup in (
        Clip.objects.values("video_id", "start", "end").annotate(n=Count("pk")).filter(n__gt=1)
    ):
        found.append(f"video {dup['video_id']}: clip {dup['start']}-{dup['end']} x{dup['n']}")
    for dup in (
        ExportedClip.objects.values("export_id", "start", "end")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    ):
        found.append(f"export {dup['export_id']}: exported clip {dup['start']} x{dup['n']}")
    for video in Video.objects.annotate(
        n_clips=Count("clips", distinct=True),
        n_exported=Count("exported_clips", filter=~Q(exported_clips__s3_key=""), distinct=True),
    ):
        if video.total_clips != video.n_clips:
            found.append(f"video {video.pk}: total_clips {video.total_clips}, {video.n_clips} rows")
        if video.exported_clip_count != video.n_exported:
            found.append(
                f"video {video.pk}: exported_clip_count {video.exported_clip_count}, "
                f"{video.n_exported} rendered rows"
            )
    for export in Export.objects.select_related("video").prefetch_related("exported_clips"):
        ranges = {(float(r["start"]), float(r["end"])) for r in export.selected_ranges}
        rows = list(export.exported_clips.all())
        rendered = {(c.start, c.end) for c in rows if c.s3_key}
        if {(c.start, c.end) for c in rows} - ranges:
            found.append(f"export {export.pk}: a clip outside its ranges")
        expected = {
            Export.Status.COMPLETED: rendered == ranges,
            Export.Status.PARTIAL: bool(rendered) and rendered != ranges,
            Export.Status.FAILED: not rendered,
        }.get(export.status, True)
        if not expected:
            found.append(
                f"export {export.pk} {export.status} with {len(rendered)} of {len(ranges)} "
                "ranges rendered"
            )
        for clip in rows:
            if not clip.s3_key:
                continue
            if not clip.s3_key.startswith(export.storage_prefix):
                found.append(f"export {export.pk}: clip key {clip.s3_key} not its own")
                continue
            try:
                content = suite.s3.get(clip.s3_key).decode()
            except Exception as exc:  # any failure to read is the violation
                found.append(f"export {export.pk}: {clip.s3_key} unreadable: {exc}")
                continue
            match = RENDERED.fullmatch(content)
            own = (export.video.s3_key, f"{clip.start:g}", f"{clip.end:g}")
            if match is None or match.groups()[1:] != own:
                found.append(
                    f"export {export.pk}: {clip.s3_key} ({clip.start:g}-{clip.end:g}s) holds "
                    f"{content!r}, not a render of its own range"
                )
    for deletion in VideoDeletion.objects.filter(cleaned_at__isnull=False):
        for prefix in deletion.prefixes:
            left = suite.s3.keys(prefix)
            if left:
                found.append(f"deleted video {deletion.pk}: {len(left)} object(s) under {prefix}")
    return found


def test_jobs_under_random_faults_settle_with_every_invariant_kept(
    live_server, fake_clips_api, fake_inngest, s3, settings, capsys
):
    seed = int(os.environ.get("KORAI_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    with capsys.disabled():
        print(f"\nfault injection: seed {seed}; replay: {REPLAY.format(seed=seed)}")
    started = time.monotonic()
    rng = random.Random(seed)
    faults = Faults(random.Random(rng.random()))
    settings.KORAI_CLEANUP_SWEEP_DELAY_SECONDS = 2  # longer than any call here can last
    fake_clips_api.clips = CLIPS_PER_VIDEO
    fake_clips_api.process_seconds = 0.3  # renders of one video overlap unless kept apart
    sessions = []
    for n in range(4):
        user = UserFactory(username=f"faulty-{n}")
        call_command("drf_create_token", user.username)
        session = requests.Session()
        session.trust_env = False
        session.headers["Authorization"] = f"Token {Token.objects.get(user=user).key}"
        session.user_id = user.pk
        sessions.append(session)

    proxy = CuttingProxy(live_server.url, faults, drop=0.04, kill=0.06)
    executor = InngestExecutor(
        base_url=proxy.url,
        # The server's schedule, shrunk: 15 s is 75 ms, a Retry-After of 1 s is 5 ms.
        backoff=Backoff(scale=0.005, cap=2.0),
        # No engine limit of one step per video: Inngest's leaks (a cut request frees its
        # slot while the step runs on), so the render lease alone must keep renders apart.
        honour_sleeps=True,
        max_requests=2_000,
    )
    dev = DevExecutor(executor=executor, workers=8)
    suite = Suite(
        rng=rng,
        faults=faults,
        base=f"{live_server.url}/api",
        sessions=sessions,
        dev=dev,
        inbox=EngineInbox(fake_inngest, faults),
        proxy=proxy,
        s3=s3,
        clips=fake_clips_api,
        event_api=fake_inngest,
    )
    try:
        for n in range(TICKS):
            suite.tick(n)
        rounds = suite.settle()
        found = violations(suite)
    finally:
        dev.close()
        proxy.close()
        executor.session.close()
        for session in sessions:
            session.close()

    statuses = Counter(Video.objects.values_list("status", flat=True))
    export_statuses = Counter(Export.objects.values_list("status", flat=True))
    report = "\n".join(
        [
            f"fault injection: {len(suite.videos)} videos and {len(suite.exports)} exports run, "
            f"{len([r for r in executor.recorded_runs()])} engine runs, settled in {rounds} "
            f"round(s), {time.monotonic() - started:.0f} s",
            f"  videos: {dict(statuses)}; exports: {dict(export_statuses)}; deletions "
            f"{VideoDeletion.objects.filter(cleaned_at__isnull=False).count()} cleaned, "
            f"{VideoDeletion.objects.filter(cleaned_at__isnull=True).count()} pending",
            "  faults: " + ", ".join(f"{k} {v}" for k, v in sorted(faults.counts.items())),
            f"  violations: {len(found)}",
            *(f"    {line}" for line in found),
            f"  seed {seed}; replay: {REPLAY.format(seed=seed)}",
        ]
    )
    with capsys.disabled():
        print(report)
    assert not found, report
