"""`manage.py local_s3`, as `make run` starts and stops it: its objects outlive a restart."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "korai-local"


def start_store(data_dir: Path) -> tuple[subprocess.Popen, str]:
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "korai.settings.development",
        "DJANGO_READ_DOT_ENV": "0",
        "AWS_S3_BUCKET_NAME": BUCKET,
        "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:8102",
    }
    store = subprocess.Popen(
        [sys.executable, "manage.py", "local_s3", "--port", "0", "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Ctrl-C reaches it even when the suite runs in the background, where SIGINT is ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    for line in store.stdout:
        found = re.search(r"listening on (http://\S+),", line)
        if found:
            return store, found.group(1)
    raise AssertionError(f"the store did not start: exit {store.wait()}")


def stop_store(store: subprocess.Popen, signum: int) -> str:
    store.send_signal(signum)
    output = store.communicate(timeout=30)[0]
    assert store.returncode == 0, output
    return output


def client(url: str):
    return boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_objects_outlive_a_restart(tmp_path, signum):
    data_dir = tmp_path / "local-s3"
    store, url = start_store(data_dir)
    try:
        client(url).put_object(Bucket=BUCKET, Key="exports/1/clip.mp4", Body=b"a finished clip")
        client(url).put_object(Bucket=BUCKET, Key="exports/1/gone.mp4", Body=b"deleted")
        client(url).delete_object(Bucket=BUCKET, Key="exports/1/gone.mp4")
    finally:
        assert f"objects saved to {data_dir}: 1" in stop_store(store, signum)

    store, url = start_store(data_dir)  # a new process, on another port
    try:
        got = client(url).get_object(Bucket=BUCKET, Key="exports/1/clip.mp4")
        assert got["Body"].read() == b"a finished clip"
        assert got["ContentType"] == "video/mp4"
        listed = client(url).list_objects_v2(Bucket=BUCKET)["Contents"]
        assert [item["Key"] for item in listed] == ["exports/1/clip.mp4"]
    finally:
        stop_store(store, signal.SIGTERM)
