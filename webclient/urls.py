from django.urls import path

from webclient import apis

# As the client calls them: no trailing slash; ids as strings (the original's were cuids).
urlpatterns = [
    path("clips/identify", apis.IdentifyApi.as_view(), name="webclient-identify"),
    path("clips/process", apis.ProcessApi.as_view(), name="webclient-process"),
    path("clips/videos", apis.VideoListApi.as_view(), name="webclient-videos"),
    path("clips/videos/<str:video_id>", apis.VideoDetailApi.as_view(), name="webclient-video"),
    path(
        "clips/videos/<str:video_id>/exported",
        apis.ExportedClipsApi.as_view(),
        name="webclient-exported",
    ),
    path(
        "clips/videos/<str:video_id>/download",
        apis.DownloadApi.as_view(),
        name="webclient-download",
    ),
    # The older pages' routes. Last: `clips/<videoId>` takes any one segment under clips/, as
    # the original's `[videoId]` route did.
    path("clips/list", apis.OlderVideoListApi.as_view(), name="webclient-older-videos"),
    path("clips/<str:video_id>", apis.OlderVideoDetailApi.as_view(), name="webclient-older-video"),
]
