"""Benchmark-only: how long Django itself spent on each request, as a `Server-Timing` header,
so a benchmark can tell Korai's time from its load generator's."""

import time


class ServerTimingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.3f}"
        return response
