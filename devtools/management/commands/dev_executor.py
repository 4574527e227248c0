import signal
import threading
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.inngest import api_base_url, is_dev_mode
from devtools.dev_executor import DevExecutor
from devtools.engine_api import EngineAPI
from devtools.executor import Backoff, InngestExecutor
from devtools.expressions import UnsupportedExpression
from devtools.registry import RegistryError, served_registry

BANNER = "Development executor standing in for Inngest"


class Command(BaseCommand):
    help = (
        "Development only (INNGEST_DEV): stand in for Inngest when no Dev Server runs. Takes "
        "the outbox's undelivered events, drives the functions they trigger through "
        "/api/inngest over HTTP (steps, retries with backoff, on_failure, cancellation) and "
        "marks the events delivered. On start it runs again the jobs a previous executor left "
        "in flight and restarts pending video clean-ups."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000", help="where Korai serves /api/inngest"
        )
        parser.add_argument("--workers", type=int, default=4, help="runs driven at once")
        parser.add_argument(
            "--poll", type=float, default=0.5, help="seconds between looks at the outbox"
        )
        parser.add_argument(
            "--backoff-scale",
            type=float,
            default=1.0,
            help="times Inngest's waits between attempts (15 s, 30 s, 1 m … 2 h; retry-after)",
        )
        parser.add_argument(
            "--backoff-cap", type=float, default=60.0, help="longest wait between attempts"
        )
        parser.add_argument(
            "--abandon-after",
            type=float,
            default=15.0,
            help="seconds a cancelled run's request in flight is still waited for",
        )
        parser.add_argument(
            "--wait", type=float, default=60.0, help="seconds to wait for Korai to answer"
        )
        parser.add_argument(
            "--no-engine-api",
            action="store_true",
            help="do not serve the engine's REST API for runs at INNGEST_BASE_URL",
        )

    def handle(self, *args, **options):
        self._refuse_outside_development()
        base_url = options["url"].rstrip("/")
        try:
            registry = served_registry()
        except (RegistryError, UnsupportedExpression) as exc:
            raise CommandError(f"Cannot read the functions' configs: {exc}") from None
        read_timeout = settings.CLIPS_API_READ_TIMEOUT_SECONDS + 60
        executor = InngestExecutor(
            base_url=base_url,
            backoff=Backoff(scale=options["backoff_scale"], cap=options["backoff_cap"]),
            abandon_after=options["abandon_after"],
            registry=registry,
            # A step holds its request while a clips API works on it.
            timeout=(5, read_timeout),
            max_requests=10_000,
            honour_sleeps=True,  # a step.sleep waits as it would under Inngest
        )
        self._wait_for_korai(executor.url, options["wait"])

        self.stdout.write(
            f"{BANNER} (no Inngest Dev Server at {api_base_url()}): outbox events are run "
            f"through {executor.url} by this process. Development only; not durable."
        )
        for spec in registry.functions:
            if spec.crons:
                self.stdout.write(f"    {spec.id}: cron {', '.join(spec.crons)}, not run here")
            else:
                events = ", ".join(rule.event for rule in spec.triggers)
                cancel = ", ".join(rule.event for rule in spec.cancel)
                line = f"    {spec.id}: on {events}, {spec.max_attempts} attempt(s)"
                self.stdout.write(line + (f", cancelled by {cancel}" if cancel else ""))

        engine_api = None if options["no_engine_api"] else self._serve_engine_api(executor)
        self.stdout.flush()

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        dev = DevExecutor(executor=executor, workers=options["workers"])
        resumed = dev.resume()
        if resumed.total:
            self.stdout.write(
                f"    Resumed from the last stop: {len(resumed.videos)} video(s) and "
                f"{len(resumed.exports)} export(s) run again, {len(resumed.deletions)} "
                "video clean-up(s) started again"
            )
            self.stdout.flush()
        try:
            dev.serve(stop=stop, poll_interval=options["poll"])
        except KeyboardInterrupt:
            pass
        finally:
            dev.close()
            if engine_api is not None:
                engine_api.close()

    def _serve_engine_api(self, executor: InngestExecutor) -> EngineAPI | None:
        """Where the Inngest server's REST API would be (INNGEST_BASE_URL, else the Dev
        Server's address), when that is this machine."""
        where = urlsplit(api_base_url())
        if where.hostname not in ("127.0.0.1", "localhost") or where.port is None:
            self.stdout.write(f"    Engine REST API not served: {api_base_url()} is not local")
            return None
        try:
            api = EngineAPI(
                executor,
                signing_key=settings.INNGEST_SIGNING_KEY or None,
                host=where.hostname,
                port=where.port,
            )
        except OSError as exc:
            self.stdout.write(f"    Engine REST API not served at {api_base_url()}: {exc}")
            return None
        self.stdout.write(
            f"    Engine REST API for runs: {api.url}/v1/runs/{{id}}, /v1/events/{{id}}/runs"
        )
        return api.start()

    def _refuse_outside_development(self) -> None:
        if not is_dev_mode():
            raise CommandError(
                "The development executor runs only with INNGEST_DEV=1: outside dev mode "
                "Inngest itself must run the functions."
            )
        keys = (settings.INNGEST_SIGNING_KEY, settings.INNGEST_SIGNING_KEY_FALLBACK)
        if any(key.startswith("signkey-prod-") for key in keys):
            raise CommandError(
                "INNGEST_SIGNING_KEY is a production key (signkey-prod-…): the development "
                "executor refuses to run with it."
            )
        dev_server = api_base_url()
        if _answers(dev_server):
            raise CommandError(
                f"An Inngest Dev Server answers at {dev_server}: it runs the functions, so the "
                "development executor stays off."
            )

    def _wait_for_korai(self, url: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not _answers(url):
            if time.monotonic() >= deadline:
                raise CommandError(f"Korai does not answer at {url} (waited {seconds:g}s).")
            time.sleep(0.5)


def _answers(url: str) -> bool:
    """Whether anything answers HTTP at `url` (any status)."""
    if not urlsplit(url).hostname:
        return False
    try:
        session = requests.Session()
        session.trust_env = False
        session.get(url, timeout=1)
    except requests.RequestException:
        return False
    return True
