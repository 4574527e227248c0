from django.urls import path

from exports import apis

urlpatterns = [
    path("videos/<uuid:video_id>/exports/", apis.VideoExportsApi.as_view(), name="video-exports"),
    path("exports/<uuid:export_id>/", apis.ExportDetailApi.as_view(), name="export-detail"),
    path("exports/<uuid:export_id>/cancel/", apis.ExportCancelApi.as_view(), name="export-cancel"),
]
