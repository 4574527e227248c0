"""The exports API: render some of a video's clips, follow the export. Thin views: validate,
call one service or selector, serialize."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import error_responses
from api.throttling import ExportCreateThrottle
from exports import selectors, services
from exports.serializers import ExportCreateInputSerializer, ExportOutputSerializer
from videos.selectors import video_for_user


class VideoExportsApi(generics.ListAPIView):
    serializer_class = ExportOutputSerializer
    throttle_classes = [ExportCreateThrottle]

    def get_queryset(self):
        video = video_for_user(user=self.request.user, video_id=self.kwargs["video_id"])
        return selectors.exports_for_video(video=video)

    @extend_schema(
        operation_id="videos_exports_list",
        summary="A video's exports, newest first",
        responses={200: ExportOutputSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="videos_exports_create",
        summary="Export clips of a completed video",
        request=ExportCreateInputSerializer,
        responses={202: ExportOutputSerializer, **error_responses(400, 401, 404, 409, 429)},
    )
    def post(self, request, video_id):
        serializer = ExportCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        video = video_for_user(user=request.user, video_id=video_id)
        export = services.export_create(
            video=video, owner=request.user, **serializer.validated_data
        )
        data = ExportOutputSerializer(export, context={"request": request}).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})


class ExportDetailApi(APIView):
    @extend_schema(
        operation_id="exports_retrieve",
        summary="One export with its exported clips and per-clip errors",
        responses={200: ExportOutputSerializer, **error_responses(401, 404)},
    )
    def get(self, request, export_id):
        export = selectors.export_get(user=request.user, export_id=export_id)
        return Response(ExportOutputSerializer(export, context={"request": request}).data)


class ExportCancelApi(APIView):
    @extend_schema(
        operation_id="exports_cancel",
        summary="Cancel an export",
        description="A pending or processing export becomes `cancelled` at once and its Inngest "
        "run is cancelled. Clips it rendered before (an earlier run of a partial export) are "
        "kept; a render call that ends after the cancel keeps nothing, and a rerun renders "
        "those clips again. 409 if the export is already final.",
        request=None,
        responses={202: ExportOutputSerializer, **error_responses(401, 404, 409)},
    )
    def post(self, request, export_id):
        export = selectors.export_for_user(user=request.user, export_id=export_id)
        services.export_cancel(export=export)
        # Read back as the detail endpoint answers it (exported clips, pending reason).
        export = selectors.export_get(user=request.user, export_id=export_id)
        data = ExportOutputSerializer(export, context={"request": request}).data
        return Response(data, status=status.HTTP_202_ACCEPTED)
