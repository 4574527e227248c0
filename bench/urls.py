"""The product's URLs plus the baseline the polling benchmark compares against."""

from django.http import Http404, JsonResponse
from django.urls import path

from korai.urls import urlpatterns as korai_urlpatterns
from videos.models import Video


def bare_video_row(request, pk):
    """The least Django can do for a poll: one row by primary key, as JSON, no auth, no DRF."""
    row = Video.objects.filter(pk=pk).values("id", "status", "total_clips").first()
    if row is None:
        raise Http404
    row["id"] = str(row["id"])
    return JsonResponse(row)


urlpatterns = [
    path("bench/bare/<uuid:pk>/", bare_video_row),
    *korai_urlpatterns,
]
