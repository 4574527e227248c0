"""The names of the Inngest events Korai sends and serves (part of its public contract, see
docs/jobs.md), declared once for the services that record them and the admin that filters by
them."""

IDENTIFY_EVENT = "video/identify.clips"
PROCESS_EVENT = "clips/process"
# Data `{"videoId"}` / `{"exportId", "videoId"}`: cancel that job's running function (its
# `cancel` rule matches on the id).
IDENTIFY_CANCELLED_EVENT = "video/identify.cancelled"
PROCESS_CANCELLED_EVENT = "clips/process.cancelled"
# Data `{"videoId", "prefixes"}`: the storage folders of a deleted video and its exports.
VIDEO_DELETED_EVENT = "video/deleted"

EVENT_NAMES = (
    IDENTIFY_EVENT,
    PROCESS_EVENT,
    IDENTIFY_CANCELLED_EVENT,
    PROCESS_CANCELLED_EVENT,
    VIDEO_DELETED_EVENT,
)
