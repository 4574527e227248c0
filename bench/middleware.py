"""Benchmark-only: how long Django itself spent on each request, as a `Server-Timing` header,
so a benchmark can tell Korai's time from its load generator's, and how many queries it made
(`X-Bench-Queries`)."""

import time

from django.db import connection


class ServerTimingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        queries = 0

        def count(execute, sql, params, many, context):
            nonlocal queries
            queries += 1
            return execute(sql, params, many, context)

        started = time.perf_counter()
        with connection.execute_wrapper(count):
            response = self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.3f}"
        response["X-Bench-Queries"] = str(queries)
        return response
