"""The videos API: submit a YouTube video, poll it, browse its clips. Thin views: validate,
call one service or selector, serialize."""

from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import error_responses
from api.throttling import VideoSubmitThrottle
from videos import selectors, services
from videos.deletion import video_delete
from videos.serializers import (
    ClipFilterSerializer,
    ClipOutputSerializer,
    VideoDetailOutputSerializer,
    VideoListFilterSerializer,
    VideoOutputSerializer,
    VideoStatusOutputSerializer,
    VideoSubmitInputSerializer,
    video_status_payload,
)

IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Repeat a submission safely: the same key (per user) returns the video the "
    "first request created instead of a second one. Printable ASCII, at most 255 characters.",
)


class VideoListCreateApi(generics.ListAPIView):
    serializer_class = VideoOutputSerializer
    throttle_classes = [VideoSubmitThrottle]

    def get_queryset(self):
        filters = VideoListFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.videos_for_user(
            user=self.request.user, status=filters.validated_data.get("processing_status")
        )

    @extend_schema(
        operation_id="videos_list",
        summary="The user's videos, newest first",
        parameters=[VideoListFilterSerializer],
        responses={200: VideoOutputSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="videos_submit",
        summary="Submit a YouTube video for clip identification",
        request=VideoSubmitInputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            202: VideoOutputSerializer,
            **error_responses(400, 401, 409, 429),
        },
    )
    def post(self, request):
        serializer = VideoSubmitInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        video = services.video_submit(
            owner=request.user,
            idempotency_key=request.headers.get("Idempotency-Key", ""),
            **serializer.validated_data,
        )
        data = VideoOutputSerializer(video, context={"request": request}).data
        return Response(
            data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["status_url"]}
        )


class VideoDetailApi(APIView):
    @extend_schema(
        operation_id="videos_retrieve",
        summary="One video with its clips (highest virality first)",
        responses={200: VideoDetailOutputSerializer, **error_responses(401, 404)},
    )
    def get(self, request, video_id):
        video = selectors.video_get(user=request.user, video_id=video_id)
        return Response(VideoDetailOutputSerializer(video, context={"request": request}).data)

    @extend_schema(
        operation_id="videos_destroy",
        summary="Delete a video with its clips and exports; its stored files go afterwards",
        description="The video, its clips, exports and exported clips are removed at once (one "
        "transaction). Its files in object storage (source video, rendered clips) are removed "
        "afterwards by the `delete-video-objects` function, retried while storage is down. "
        "Allowed while a job of the video runs: the job stops at its next step.",
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request, video_id):
        video = selectors.video_for_user(user=request.user, video_id=video_id)
        video_delete(video=video)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VideoCancelApi(APIView):
    @extend_schema(
        operation_id="videos_cancel",
        summary="Cancel a video's identification",
        description="A pending or processing video becomes `cancelled` at once and its Inngest "
        "run is cancelled; a step still in flight writes nothing when it ends. 409 if the video "
        "is already final (completed, failed, cancelled). A cancelled video can be run again "
        "from the admin.",
        request=None,
        responses={202: VideoOutputSerializer, **error_responses(401, 404, 409)},
    )
    def post(self, request, video_id):
        video = selectors.video_for_user(user=request.user, video_id=video_id)
        video = services.video_cancel(video=video)
        data = VideoOutputSerializer(video, context={"request": request}).data
        return Response(data, status=status.HTTP_202_ACCEPTED)


class VideoStatusApi(APIView):
    @extend_schema(
        operation_id="videos_status",
        summary="A video's processing status: the polling endpoint",
        responses={200: VideoStatusOutputSerializer, **error_responses(401, 404)},
    )
    def get(self, request, video_id):
        row = selectors.video_status_get(user=request.user, video_id=video_id)
        return Response(video_status_payload(row))


class VideoClipsApi(generics.ListAPIView):
    serializer_class = ClipOutputSerializer

    def get_queryset(self):
        filters = ClipFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        video = selectors.video_for_user(user=self.request.user, video_id=self.kwargs["video_id"])
        return selectors.clips_for_video(video=video, **filters.validated_data)

    @extend_schema(
        operation_id="videos_clips",
        summary="A video's clips, highest virality score first",
        parameters=[ClipFilterSerializer],
        responses={200: ClipOutputSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
