"""integrations.storage against a real S3 HTTP API (moto server mode on 127.0.0.1)."""

import pytest
import requests

from integrations import storage


def test_presigned_url_downloads_the_object(s3):
    s3.put("exports/e1/clip_0.mp4", b"clip zero")

    url = storage.presigned_url("exports/e1/clip_0.mp4")

    assert "X-Amz-Signature=" in url and "X-Amz-Expires=3600" in url
    answer = requests.get(url, timeout=5)
    assert (answer.status_code, answer.content) == (200, b"clip zero")


def test_presigned_url_lifetime_is_a_setting(s3, settings):
    settings.KORAI_DOWNLOAD_URL_EXPIRES_SECONDS = 120
    assert "X-Amz-Expires=120" in storage.presigned_url("k")
    assert "X-Amz-Expires=5" in storage.presigned_url("k", expires=5)


def test_presigned_url_is_none_without_a_key_or_storage(s3, settings):
    assert storage.presigned_url("") is None
    settings.AWS_S3_BUCKET_NAME = ""
    assert storage.presigned_url("exports/e1/clip_0.mp4") is None


def test_presigned_url_is_signed_locally_while_the_store_is_down(s3):
    s3.down()
    assert storage.presigned_url("exports/e1/clip_0.mp4").startswith(s3.store.url)


def test_copy_object_copies_and_a_repeat_is_harmless(s3):
    s3.put("youtube-videos/v1/clip_0.mp4", b"rendered")

    storage.copy_object("youtube-videos/v1/clip_0.mp4", "exports/e1/clip_0.mp4")
    storage.copy_object("youtube-videos/v1/clip_0.mp4", "exports/e1/clip_0.mp4")

    assert s3.get("exports/e1/clip_0.mp4") == b"rendered"
    assert s3.keys() == ["exports/e1/clip_0.mp4", "youtube-videos/v1/clip_0.mp4"]


def test_copy_of_a_missing_object_is_a_refusal_not_an_outage(s3):
    with pytest.raises(storage.StorageError) as caught:
        storage.copy_object("youtube-videos/v1/clip_9.mp4", "exports/e1/clip_9.mp4")
    assert not isinstance(caught.value, storage.StorageUnavailable)
    assert "youtube-videos/v1/clip_9.mp4" in str(caught.value)


def test_delete_prefix_deletes_that_folder_only(s3, monkeypatch):
    monkeypatch.setattr(storage, "_DELETE_BATCH", 2)  # several pages of keys
    for n in range(5):
        s3.put(f"exports/1/clip_{n}.mp4", b"x")
    s3.put("exports/10/clip_0.mp4", b"keep")
    s3.put("exports/1", b"keep: not under the folder")

    assert storage.delete_prefix("exports/1/") == 5
    assert storage.delete_prefix("exports/1/") == 0

    assert s3.keys() == ["exports/1", "exports/10/clip_0.mp4"]


@pytest.mark.parametrize("prefix", ["", "/", "exports/1", "exports"])
def test_delete_prefix_refuses_anything_but_a_folder(s3, prefix):
    s3.put("exports/1/clip_0.mp4", b"x")
    with pytest.raises(ValueError, match="folder"):
        storage.delete_prefix(prefix)
    assert s3.keys() == ["exports/1/clip_0.mp4"]


def test_an_unreachable_store_is_unavailable(s3):
    s3.down()
    with pytest.raises(storage.StorageUnavailable, match="delete under exports/1/"):
        storage.delete_prefix("exports/1/")
    with pytest.raises(storage.StorageUnavailable):
        storage.copy_object("a/clip_0.mp4", "b/clip_0.mp4")


def test_a_missing_bucket_is_a_refusal(s3, settings):
    settings.AWS_S3_BUCKET_NAME = "no-such-bucket"
    with pytest.raises(storage.StorageError) as caught:
        storage.delete_prefix("exports/1/")
    assert not isinstance(caught.value, storage.StorageUnavailable)
