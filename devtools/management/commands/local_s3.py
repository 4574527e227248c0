import os
import signal
import threading
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

DEFAULT_PORT = 8102


def _endpoint_is_local() -> bool:
    return urlsplit(settings.AWS_S3_ENDPOINT_URL).hostname in {"127.0.0.1", "localhost"}


def _default_port() -> int:
    # Follow AWS_S3_ENDPOINT_URL when it points at this machine: .env says where the store is.
    parts = urlsplit(settings.AWS_S3_ENDPOINT_URL)
    if parts.hostname in {"127.0.0.1", "localhost"} and parts.port:
        return parts.port
    return DEFAULT_PORT


class Command(BaseCommand):
    help = (
        "Serve a local S3-compatible store (moto in server mode) on 127.0.0.1 with the bucket "
        "AWS_S3_BUCKET_NAME, for the clips sandbox to write to and download URLs to read from. "
        "Objects live in memory until it stops."
    )
    requires_system_checks = []  # a standalone server: Korai's URLs and keys are not its concern

    def add_arguments(self, parser):
        parser.add_argument(
            "--port",
            type=int,
            default=None,
            help=f"default: AWS_S3_ENDPOINT_URL's port when it is local, else {DEFAULT_PORT}",
        )

    def handle(self, *args, **options):
        from moto.server import ThreadedMotoServer  # a development dependency

        if not settings.AWS_S3_BUCKET_NAME:
            raise CommandError("AWS_S3_BUCKET_NAME is not set: which bucket should it serve?")
        if options["port"] is None and not _endpoint_is_local():
            # .env points at AWS or a MinIO elsewhere: that store is the one to use.
            self.stdout.write(
                "AWS_S3_ENDPOINT_URL is not a local address: no local S3 store started "
                f"(using {settings.AWS_S3_ENDPOINT_URL or 'AWS'})."
            )
            return
        port = options["port"] if options["port"] is not None else _default_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        try:
            server.start()
        except OSError as exc:  # raised in the server thread; start() may not see it
            raise CommandError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        bucket = settings.AWS_S3_BUCKET_NAME
        _create_bucket(url, bucket)
        self.stdout.write(
            f"Local S3 store (moto) listening on {url}, bucket {bucket}\n"
            f"  AWS_S3_ENDPOINT_URL={url}\n"
            "  objects are kept in memory until it stops"
        )
        self.stdout.flush()
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass  # Ctrl-C is how a foreground store is meant to stop
        finally:
            server.stop()


def _create_bucket(url: str, bucket: str) -> None:
    import boto3
    from botocore.config import Config

    region = settings.AWS_REGION or "us-east-1"
    client = boto3.session.Session().client(
        "s3",
        region_name=region,
        endpoint_url=url,
        # moto accepts any key; the environment's (from .env) when set.
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "local",
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "local",
        config=Config(s3={"addressing_style": "path"}),
    )
    # us-east-1 is S3's default region and refuses to be named as a location constraint.
    located = {"CreateBucketConfiguration": {"LocationConstraint": region}}
    client.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else located))
