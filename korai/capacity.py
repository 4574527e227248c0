"""Does ONE worker of the steps pool hold every step Inngest may run at once?

Inngest starts at most a function's concurrency limit of steps at a time, and each one holds a
thread of the steps pool for as long as its clips API works. gunicorn hands each connection to
whichever worker accepts it first, so one worker may get them all; past its threads, the extra
steps queue inside that worker where Inngest cannot see them: they time out and are retried, and
the GPU is paid twice. So the limits must fit one worker's threads; more workers add room for
restarts, not for steps. Checked when the steps pool starts (deploy/gunicorn/steps.py).

Counted: every served function's overall limit (cron functions and functions triggered by
`inngest/function.failed` or `inngest/function.cancelled` are functions like any other), and
each function's failure handler (`<id>-failure`), which the SDK registers with no limit at all:
a burst of the function's steps failing together starts as many handlers at once, so a handler
counts as its function's limit."""

import inngest


def steps_in_flight(functions: list[inngest.Function]) -> tuple[dict[str, int], list[str]]:
    """The most steps Inngest may run at once of each of `functions` (failure handlers
    included), by id, and the ids of functions without an overall limit (unbounded)."""
    counted, unbounded = {}, []
    for function in functions:
        # The same configuration the SDK registers with Inngest.
        config = function.get_config("http://korai.invalid/api/inngest")
        limits = [c.limit for c in config.main.concurrency or [] if c.key is None]
        if not limits:
            unbounded.append(config.main.id)
            continue
        counted[config.main.id] = min(limits)
        if config.on_failure is not None:
            counted[config.on_failure.id] = min(limits)
    return counted, unbounded


def capacity_problem(functions: list[inngest.Function], *, threads: int) -> str:
    """One line saying why a steps worker of `threads` threads cannot hold the steps, or "" if
    it can."""
    counted, unbounded = steps_in_flight(functions)
    if unbounded:
        return (
            f"steps pool: {', '.join(unbounded)} has no overall Inngest concurrency limit, so no "
            "pool size can hold its steps; give it one"
        )
    needed = sum(counted.values())
    if needed > threads:
        each = ", ".join(f"{fn_id} {limit}" for fn_id, limit in counted.items())
        return (
            f"steps pool: Inngest may run {needed} steps at once ({each}) and gunicorn may hand "
            f"them all to one worker, which has {threads} threads; raise KORAI_STEPS_THREADS or "
            "lower INNGEST_CONCURRENCY_GLOBAL"
        )
    return ""
