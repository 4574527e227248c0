"""The names of the Inngest events Korai sends (the public contract: /work/shared/CONTRACT.md),
declared once for the services that record them and the admin that filters by them."""

IDENTIFY_EVENT = "video/identify.clips"
PROCESS_EVENT = "clips/process"

EVENT_NAMES = (IDENTIFY_EVENT, PROCESS_EVENT)
