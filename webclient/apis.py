"""The original Korai web client's routes (`/api/clips/…`), in its shapes, over Korai's own
services and selectors. Thin views: check the body's shape, call one service or selector,
answer in the client's shape. Paths have no trailing slash, as the client calls them."""

import uuid

from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from api.authentication import (
    CachedTokenAuthentication,
    ClerkSessionAuthentication,
    SessionCookieAuthentication,
)
from api.parsers import JSONParser
from api.throttling import ExportCreateThrottle, VideoSubmitThrottle
from exports.selection import export_selection
from exports.selectors import exported_clips_for_video
from exports.services import export_create
from integrations import storage
from videos.deletion import video_delete
from videos.selectors import video_for_user, video_get, videos_for_user
from videos.services import video_submit
from webclient import shapes
from webclient.errors import webclient_exception_handler
from webclient.serializers import (
    DownloadInputSerializer,
    IdentifyInputSerializer,
    ProcessInputSerializer,
)


class WebClientApi(APIView):
    # The client signs in with Clerk; a Korai API token or admin session works too.
    authentication_classes = [
        ClerkSessionAuthentication,
        CachedTokenAuthentication,
        SessionCookieAuthentication,
    ]
    parser_classes = [JSONParser]  # the API's hardened parser (depth, lone surrogates)
    schema = None  # the client's routes, not Korai's documented API

    def get_exception_handler(self):
        return webclient_exception_handler


def _video_id(raw: str) -> uuid.UUID:
    # The original's ids were cuids; anything that is not one of Korai's ids is simply unknown.
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise NotFound("Video not found") from None


class IdentifyApi(WebClientApi):
    throttle_classes = [VideoSubmitThrottle]

    def post(self, request):
        body = IdentifyInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        video = video_submit(
            owner=request.user,
            youtube_url=body.validated_data["youtubeUrl"],
            prompt=body.validated_data["prompt"] or "",
        )
        return Response(
            {"success": True, "message": "Video processing started", "videoId": str(video.pk)},
            status=status.HTTP_202_ACCEPTED,
        )


class VideoListApi(WebClientApi):
    def get(self, request):
        # Polled every 5 s: one query for the columns the page reads, no model instances.
        rows = videos_for_user(user=request.user).values(*shapes.VIDEO_LIST_FIELDS)
        return Response({"videos": [shapes.video_summary(row) for row in rows]})


class VideoDetailApi(WebClientApi):
    def get(self, request, video_id):
        video = video_get(user=request.user, video_id=_video_id(video_id))
        return Response({"video": shapes.video_detail(video)})

    def delete(self, request, video_id):
        # Korai's own deletion: the rows at once, the stored objects durably afterwards.
        video = video_for_user(user=request.user, video_id=_video_id(video_id))
        video_delete(video=video)
        return Response({"success": True, "message": "Video deleted successfully"})


class OlderVideoListApi(WebClientApi):
    """The older list page's `GET /api/clips/list`: a bare array, newest first, each video with
    `_count.clips`. Polled every 10 s: one query, as `VideoListApi`."""

    def get(self, request):
        rows = videos_for_user(user=request.user).values(*shapes.OLDER_VIDEO_FIELDS)
        user_id = shapes.client_user_id(request.user)
        return Response([shapes.older_video_summary(row, user_id=user_id) for row in rows])


class OlderVideoDetailApi(WebClientApi):
    """The older detail page's `GET /api/clips/{videoId}`: the bare video with its `clips`."""

    def get(self, request, video_id):
        video = video_get(user=request.user, video_id=_video_id(video_id))
        user_id = shapes.client_user_id(request.user)
        return Response(shapes.older_video_detail(video, user_id=user_id))


class ProcessApi(WebClientApi):
    throttle_classes = [ExportCreateThrottle]

    def post(self, request):
        body = ProcessInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        video = video_for_user(user=request.user, video_id=_video_id(data["videoId"]))
        if data["s3Key"] != video.s3_key:
            # The original passed the key on to the renderer as given; Korai renders the
            # video's own source only.
            raise ValidationError({"s3Key": ["This is not the source of this video."]})
        export = export_create(
            video=video,
            owner=request.user,
            aspect_ratio=data["aspectRatio"],
            target_language=data["targetLanguage"],
            **export_selection(video=video, selected_clips=data["selectedClips"]),
        )
        return Response(
            {"success": True, "message": "Clip processing started", "exportId": str(export.pk)},
            status=status.HTTP_202_ACCEPTED,
        )


class ExportedClipsApi(WebClientApi):
    def get(self, request, video_id):
        video = video_for_user(user=request.user, video_id=_video_id(video_id))
        clips = exported_clips_for_video(video=video)
        return Response({"exportedClips": [shapes.exported_clip(c) for c in clips]})


class DownloadApi(WebClientApi):
    def post(self, request, video_id):
        body = DownloadInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = body.validated_data["s3Key"]
        video = video_for_user(user=request.user, video_id=_video_id(video_id))
        # The original signed any key it was given; only this video's rendered clips are signed
        # here, so the key can never address another user's (or any other) object.
        if not exported_clips_for_video(video=video, s3_key=key).exists():
            raise NotFound("No exported clip of this video is stored under this s3Key.")
        url = storage.presigned_url(key)  # KORAI_DOWNLOAD_URL_EXPIRES_SECONDS: 1 h by default
        if url is None:
            raise StorageNotAvailable()
        return Response({"url": url})


class StorageNotAvailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Failed to generate download URL: no object storage is configured."
    default_code = "storage_unavailable"
