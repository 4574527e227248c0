from django.urls import path

from videos import apis

urlpatterns = [
    path("videos/", apis.VideoListCreateApi.as_view(), name="video-list"),
    path("videos/<uuid:video_id>/", apis.VideoDetailApi.as_view(), name="video-detail"),
    path("videos/<uuid:video_id>/cancel/", apis.VideoCancelApi.as_view(), name="video-cancel"),
    path("videos/<uuid:video_id>/status/", apis.VideoStatusApi.as_view(), name="video-status"),
    path("videos/<uuid:video_id>/clips/", apis.VideoClipsApi.as_view(), name="video-clips"),
]
