"""The names of the Inngest events Korai sends (the public contract: /work/shared/CONTRACT.md),
declared once for the services that record them and the admin that filters by them."""

IDENTIFY_EVENT = "video/identify.clips"
PROCESS_EVENT = "clips/process"
# Data `{"videoId", "prefixes"}`: the storage folders of a deleted video and its exports.
VIDEO_DELETED_EVENT = "video/deleted"

EVENT_NAMES = (IDENTIFY_EVENT, PROCESS_EVENT, VIDEO_DELETED_EVENT)
