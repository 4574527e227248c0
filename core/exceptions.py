"""What services raise when a well-formed request cannot be done now. The API's error handler
(api.errors) answers them; services never build HTTP responses."""


class ApplicationError(Exception):
    """A well-formed request that the current state of the data does not allow."""

    code = "conflict"
    status_code = 409

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class ConflictError(ApplicationError):
    """E.g. exporting a video whose clips are not identified yet."""
