"""A real S3 HTTP API on 127.0.0.1 for tests: moto in server mode, on a free port.

    store = LocalS3().start()
    store.url, store.create_bucket("b"), store.get("b", key), store.keys("b")
    store.stop()      # storage outage: connections are refused
    store.hang()      # storage outage: connections are accepted, never answered
    store.start()     # back on the same port, with the same objects
    store.requests    # (method, path) of every request it answered, in order

Korai talks to it through boto3 over HTTP exactly as it talks to AWS or MinIO (no patched
boto3); the `s3` fixture (tests/conftest.py) points settings at a fresh bucket in it.
"""

from __future__ import annotations

import socket
import uuid

import boto3
import pytest
import requests
from botocore.config import Config
from moto.server import ThreadedMotoServer

REGION = "us-east-1"


class LocalS3:
    def __init__(self) -> None:
        self.port = 0
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request answered
        self._server: ThreadedMotoServer | None = None
        self._client = None
        self._hanging: socket.socket | None = None

    def start(self) -> LocalS3:
        # Port 0 the first time; the same port again after stop(), as a store coming back.
        if self._hanging is not None:
            self._hanging.close()
            self._hanging = None
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self.port = server.get_host_and_port()[1]
        self._server = server
        answer = server._server.app  # werkzeug's server, started by now

        def counted(environ, start_response):
            self.requests.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
            return answer(environ, start_response)

        server._server.app = counted
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def hang(self) -> None:
        """Stop answering: a socket on the port that never accepts, so a client connects (the
        kernel's backlog) and then waits for its read timeout, as with a store that froze."""
        self.stop()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._hanging = listener

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        """Forget every bucket and object."""
        requests.post(f"{self.url}/moto-api/reset", timeout=5).raise_for_status()

    # --- direct access, to check what Korai did -------------------------------------------
    def client(self):
        # Built once: a boto3 client takes half a second to build.
        if self._client is None:
            self._client = self._new_client()
        return self._client

    def _new_client(self):
        return boto3.session.Session().client(
            "s3",
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def create_bucket(self, bucket: str) -> None:
        self.client().create_bucket(Bucket=bucket)

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.client().put_object(Bucket=bucket, Key=key, Body=body)

    def get(self, bucket: str, key: str) -> bytes:
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def etag(self, bucket: str, key: str) -> str:
        return self.client().head_object(Bucket=bucket, Key=key)["ETag"]


class TestBucket:
    """One test's bucket in the shared store, and the store's outage switch."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, store: LocalS3, name: str) -> None:
        self.store, self.name = store, name

    def put(self, key: str, body: bytes) -> None:
        self.store.put(self.name, key, body)

    def get(self, key: str) -> bytes:
        return self.store.get(self.name, key)

    def keys(self, prefix: str = "") -> list[str]:
        return self.store.keys(self.name, prefix)

    def etag(self, key: str) -> str:
        return self.store.etag(self.name, key)

    def down(self) -> None:
        self.store.stop()

    def hang(self) -> None:
        self.store.hang()

    def up(self) -> None:
        self.store.start()


@pytest.fixture(scope="session")
def local_s3():
    store = LocalS3().start()
    yield store
    store.stop()


@pytest.fixture
def s3(local_s3, settings):
    """A fresh bucket in the local S3 server, with Korai's storage settings pointing at it."""
    if not local_s3.running:
        local_s3.start()
    bucket = TestBucket(local_s3, f"korai-test-{uuid.uuid4().hex[:12]}")
    local_s3.create_bucket(bucket.name)
    settings.AWS_S3_BUCKET_NAME = bucket.name
    settings.AWS_REGION = REGION
    settings.AWS_S3_ENDPOINT_URL = local_s3.url
    # An outage must show quickly, not after botocore's default minute.
    settings.AWS_S3_CONNECT_TIMEOUT_SECONDS = 1.0
    settings.AWS_S3_READ_TIMEOUT_SECONDS = 5.0
    yield bucket
    if not local_s3.running:
        local_s3.start()
    local_s3.reset()
