"""Readable descriptions of network failures, for errors an operator reads (job errors, the
timeline, the outbox). `requests` wraps urllib3's errors, which wrap the socket's; their text is
a repr such as `HTTPConnectionPool(host='127.0.0.1', port=8000): Max retries exceeded with url:
/identify-clips (Caused by NewConnectionError(...: Failed to establish a new connection: [Errno
111] Connection refused'))`. What matters is the innermost cause, in words, and where."""

import socket
import ssl
from urllib.parse import urlsplit

_MAX_CHARS = 200


def connection_problem(exc: BaseException) -> str:
    """The cause of a failed connection in a few words: "connection refused", "host name not
    found", "no answer in time", "connection reset", "closed without an answer", "TLS error:
    …"; else the innermost error's own text, shortened."""
    innermost = exc
    for cause in _causes(exc):
        innermost = cause
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror) or type(cause).__name__ == "NameResolutionError":
            return "host name not found"
        if isinstance(cause, TimeoutError) or type(cause).__name__ in (
            "ConnectTimeoutError",
            "ReadTimeoutError",
        ):
            return "no answer in time"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
        if type(cause).__name__ == "RemoteDisconnected":
            return "closed without an answer"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {cause.reason or cause}"[:_MAX_CHARS]
    return str(innermost)[:_MAX_CHARS] or type(innermost).__name__


def origin(url: str) -> str:
    """`scheme://host:port` of a URL: where it failed, without a path or query (which may
    carry a key, as the Inngest event API's path does)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return url[:_MAX_CHARS]
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, "")
    return f"{parts.scheme}://{parts.hostname}:{port}"


def _causes(exc: BaseException):
    """The exception and everything it wraps: `__cause__`, `__context__`, urllib3's `reason`,
    exceptions passed as arguments (requests puts urllib3's there), outermost first."""
    seen: set[int] = set()
    queue = [exc]
    while queue:
        current = queue.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        queue.extend(arg for arg in current.args if isinstance(arg, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            queue.append(reason)
        queue.extend([current.__cause__, current.__context__])
