from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools.sandbox import (
    FAILURE_KINDS,
    IDENTIFY_PATH,
    PROCESS_PATH,
    RUNS_PATH,
    SandboxConfig,
    SandboxServer,
)
from integrations import storage

DEFAULT_PORT = 8100
# Short for development: a call of 3 s is answered 303 after 2 s, then its result URL answers;
# `--hold 150 --latency 400` is the real service's pace.
DEFAULT_HOLD = 2.0
DEFAULT_LATENCY = 3.0


def _default_port() -> int:
    # Follow CLIPS_API_URL when it already points at this machine, so .env stays the one place
    # that says where the stand-in listens.
    parts = urlsplit(settings.CLIPS_API_URL)
    if parts.hostname in {"127.0.0.1", "localhost"} and parts.port:
        return parts.port
    return DEFAULT_PORT


class Command(BaseCommand):
    help = (
        "Serve a local stand-in for the identify-clips and process-clips APIs on 127.0.0.1: "
        "deterministic clips per YouTube URL, with optional latency and injected failures."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--port",
            type=int,
            default=None,
            help=f"default: CLIPS_API_URL's port when it is local, else {DEFAULT_PORT}; "
            "0 picks a free port",
        )
        parser.add_argument(
            "--token", default=None, help="bearer token to require (default: CLIPS_API_TOKEN)"
        )
        parser.add_argument(
            "--latency",
            type=float,
            default=DEFAULT_LATENCY,
            help="seconds every call takes (default: long enough for one 303, as a real call "
            "over 150 s gets)",
        )
        parser.add_argument(
            "--failure-rate",
            type=float,
            default=0.0,
            help="share of requests that fail, 0..1 (e.g. 0.3)",
        )
        parser.add_argument(
            "--failure-kind",
            choices=FAILURE_KINDS,
            default="server-error",
            help="server-error: 500 (retried); throttle: 429 + Retry-After; "
            "malformed: 200 with a body outside the contract (not retried)",
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="repeat the same sequence of failures"
        )
        parser.add_argument(
            "--messy",
            action="store_true",
            help="identify answers as raw LLM output: mixed time formats and one broken clip "
            "of each kind (no end, inverted, repeated, unreadable time)",
        )
        parser.add_argument(
            "--hold",
            type=float,
            default=DEFAULT_HOLD,
            help="seconds a request is held before a call still running (see --latency) is "
            "answered 303 to its result URL, which holds as long again; the real service "
            "holds 150 (set CLIPS_API_REDIRECT_INTERVAL_SECONDS to the same); 0 never redirects",
        )

    def handle(self, *args, **options):
        try:
            config = SandboxConfig(
                token=options["token"]
                if options["token"] is not None
                else settings.CLIPS_API_TOKEN,
                latency=options["latency"],
                failure_rate=options["failure_rate"],
                failure_kind=options["failure_kind"],
                seed=options["seed"],
                messy=options["messy"],
                hold=options["hold"],
                # The configured bucket (make run: the local moto server), as the real
                # service writes to its bucket.
                store=storage.put_object if storage.is_configured() else None,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        port = options["port"] if options["port"] is not None else _default_port()
        try:
            server = SandboxServer(config, host=options["host"], port=port)
        except OSError as exc:
            raise CommandError(
                f"cannot listen on {options['host']}:{port}: {exc.strerror}. "
                "Is another clips_sandbox running? Pick another one with --port."
            ) from exc

        base = server.base_url
        self.stdout.write(
            f"Clips sandbox listening on {base}\n"
            f"  CLIPS_API_URL={base}{IDENTIFY_PATH}\n"
            f"  PROCESS_CLIPS_API_URL={base}{PROCESS_PATH}\n"
            f"  latency {config.latency:g}s, failure rate {config.failure_rate:g} "
            f"({config.failure_kind}), seed {config.seed}, messy {config.messy}, "
            f"303 after a hold of {config.hold:g}s; runs started: GET {base}{RUNS_PATH}\n"
            + (
                f"  writing clips to bucket {settings.AWS_S3_BUCKET_NAME}"
                f" at {settings.AWS_S3_ENDPOINT_URL or 'AWS'}"
                if config.store
                else "  no AWS_S3_BUCKET_NAME: clips are named but not written"
            )
        )
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass  # Ctrl-C is how a foreground sandbox is meant to stop
        finally:
            server.server_close()
