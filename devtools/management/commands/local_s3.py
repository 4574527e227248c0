import mimetypes
import os
import shutil
import signal
import threading
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

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
        "Its objects are saved to --data-dir when it stops and served again when it starts."
    )
    requires_system_checks = []  # a standalone server: Korai's URLs and keys are not its concern

    def add_arguments(self, parser):
        parser.add_argument(
            "--port",
            type=int,
            default=None,
            help=f"default: AWS_S3_ENDPOINT_URL's port when it is local, else {DEFAULT_PORT}",
        )
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=settings.BASE_DIR / ".local-s3",
            help="where the objects are kept between runs (default: .local-s3/ in the project)",
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
        client = _client(url)
        data_dir = options["data_dir"]
        # moto keeps objects in memory only: the completed exports' download URLs would answer
        # NoSuchKey after every restart while the API still calls them completed.
        loaded = _load(client, data_dir)
        _create_bucket(client, bucket)
        self.stdout.write(
            f"Local S3 store (moto) listening on {url}, bucket {bucket}\n"
            f"  AWS_S3_ENDPOINT_URL={url}\n"
            f"  objects loaded from {data_dir}: {loaded} (saved there again when it stops)"
        )
        self.stdout.flush()
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass  # Ctrl-C is how a foreground store is meant to stop
        finally:
            saved = _save(client, data_dir)
            server.stop()
            self.stdout.write(f"objects saved to {data_dir}: {saved}")


def _client(url: str):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        region_name=_region(),
        endpoint_url=url,
        # moto accepts any key; the environment's (from .env) when set.
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "local",
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "local",
        config=Config(s3={"addressing_style": "path"}),
    )


def _region() -> str:
    return settings.AWS_REGION or "us-east-1"


def _create_bucket(client, bucket: str) -> None:
    # The saved objects may have brought it back already.
    if bucket in {found["Name"] for found in client.list_buckets()["Buckets"]}:
        return
    # us-east-1 is S3's default region and refuses to be named as a location constraint.
    region = _region()
    located = {"CreateBucketConfiguration": {"LocationConstraint": region}}
    client.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else located))


# data_dir/<bucket>/<key, quoted>: one flat file per object, so no key ("a" beside "a/b", "a/../b",
# "folder/") can clash with another or land outside its bucket's directory.


def _load(client, data_dir: Path) -> int:
    count = 0
    for bucket_dir in sorted(path for path in data_dir.glob("*") if path.is_dir()):
        _create_bucket(client, bucket_dir.name)
        for path in sorted(bucket_dir.iterdir()):
            key = unquote(path.name)
            content_type = mimetypes.guess_type(key)[0] or "binary/octet-stream"
            client.put_object(
                Bucket=bucket_dir.name, Key=key, Body=path.read_bytes(), ContentType=content_type
            )
            count += 1
    return count


def _save(client, data_dir: Path) -> int:
    """Replaces data_dir's objects with the store's, so deleted objects stay deleted."""
    saving = data_dir.with_name(data_dir.name + ".saving")
    shutil.rmtree(saving, ignore_errors=True)
    saving.mkdir(parents=True)
    count = 0
    for bucket in client.list_buckets()["Buckets"]:
        bucket_dir = saving / bucket["Name"]
        bucket_dir.mkdir()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for listed in page.get("Contents", []):
                body = client.get_object(Bucket=bucket["Name"], Key=listed["Key"])["Body"]
                (bucket_dir / quote(listed["Key"], safe="")).write_bytes(body.read())
                count += 1
    shutil.rmtree(data_dir, ignore_errors=True)
    saving.rename(data_dir)
    return count
