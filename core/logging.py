"""Structured logs (structlog): one JSON object per line on stdout.

Every line, whether it comes from structlog or from a plain `logging.getLogger(...)` call
(Django, the Inngest SDK, our own modules), goes through the same processors, so it carries the
context bound for the moment it was written:
- `request_id` for the request being served (django-structlog's RequestMiddleware binds it,
  or takes the caller's `X-Request-ID`);
- in an Inngest function: `function`, `job_id`, `run_id`, `attempt`, and inside a step `step`
  (`core.observability.ObservabilityMiddleware` binds them), so `grep <job id>` tells one
  job's story.

`logging_config` returns the LOGGING dict for settings and configures structlog to match; it is
the one place where logging is set up."""

import structlog

# Fields added to every line, from structlog and from the standard library alike.
_SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
]


def json_formatter() -> structlog.stdlib.ProcessorFormatter:
    """The formatter of the production handler (tests attach it to capture lines)."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *_SHARED_PROCESSORS,
            # `logger.warning(..., extra={"event_ids": [...]})` keeps its fields.
            structlog.stdlib.ExtraAdder(),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(default=str),
        ],
    )


def logging_config(*, json: bool, level: str) -> dict:
    """LOGGING for settings: JSON lines (`json`), or readable colourless lines for development."""
    structlog.configure(
        processors=[
            *_SHARED_PROCESSORS,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    console = {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": [*_SHARED_PROCESSORS, structlog.stdlib.ExtraAdder()],
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": json_formatter}, "console": console},
        "handlers": {
            "discard": {"class": "logging.NullHandler"},
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json" if json else "console",
            },
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            # Django's own default gives the `django` logger a console handler (under DEBUG) and
            # lets it propagate to the root's: every line printed twice. Root alone prints it.
            "django": {"handlers": [], "level": level, "propagate": True},
            # One line per request: django-structlog's `request_finished` (with the status code,
            # request id and user). runserver's access line (`request=<socket.socket ...>`) and
            # django.request's "Not Found: /x" say it again; django.request's errors stay, with
            # their tracebacks.
            "django.server": {"handlers": ["discard"], "propagate": False},
            "django.request": {"level": "ERROR"},
            "django.db.backends": {"level": "INFO"},
        },
    }
