from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle


class PostRateThrottle(UserRateThrottle):
    """A per-user rate on a view's POST only, so polling the same path is never throttled.

    The rate is read at request time (not when the module is imported) so that a changed
    `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` applies without a restart of the test process."""

    def allow_request(self, request, view):
        if request.method != "POST":
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]


class VideoSubmitThrottle(PostRateThrottle):
    scope = "video_submit"


class ExportCreateThrottle(PostRateThrottle):
    scope = "export_create"
