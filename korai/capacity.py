"""Does the steps pool hold every step Inngest may run at once?

Inngest starts at most a function's concurrency limit of steps at a time, and each one holds a
thread of the steps pool for as long as its clips API works. If the pool has fewer threads than
the limits allow, the extra steps queue inside gunicorn where Inngest cannot see them: they time
out and are retried, and the GPU is paid twice. Checked when the steps pool starts
(deploy/gunicorn/steps.py)."""

import inngest


def steps_in_flight_limit(functions: list[inngest.Function]) -> tuple[int, list[str]]:
    """The most steps `functions` can run at once (the sum of each function's overall
    concurrency limit), and the ids of functions without such a limit (unbounded)."""
    total, unbounded = 0, []
    for function in functions:
        # The same configuration the SDK registers with Inngest.
        config = function.get_config("http://korai.invalid/api/inngest").main
        limits = [c.limit for c in config.concurrency or [] if c.key is None]
        if limits:
            total += min(limits)
        else:
            unbounded.append(function.id)
    return total, unbounded


def capacity_problem(functions: list[inngest.Function], *, workers: int, threads: int) -> str:
    """One line saying why `workers` x `threads` cannot hold the steps, or "" if it can."""
    needed, unbounded = steps_in_flight_limit(functions)
    if unbounded:
        return (
            f"steps pool: {', '.join(unbounded)} has no overall Inngest concurrency limit, so no "
            "pool size can hold its steps; give it one"
        )
    slots = workers * threads
    if needed > slots:
        return (
            f"steps pool: Inngest may run {needed} steps at once (INNGEST_CONCURRENCY_GLOBAL per "
            f"function) but the pool has {workers} workers x {threads} threads = {slots}; raise "
            "KORAI_STEPS_WORKERS/KORAI_STEPS_THREADS or lower INNGEST_CONCURRENCY_GLOBAL"
        )
    return ""
