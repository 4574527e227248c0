"""The job admins (videos, exports) with the operators' actions: run again, resend events."""

from operations.admin import exports, videos  # noqa: F401  (registers the ModelAdmins)
