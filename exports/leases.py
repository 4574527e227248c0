"""A video's render lease (`RenderLease`): which render may have the processing API write the
video's outputs and copy them. Every render of a video writes to the same keys
(`{dirname(s3_key)}/clip_{i}.mp4`), so two at once would overwrite, or copy, each other's clips.

Inngest's per-video concurrency limit is not enough: after a cancel or a dropped connection it
frees the run's slot and abandons the request while the step's thread is still rendering. The
lease is a row in the database, taken and given back in short transactions of their own (no
row stays locked while the API works):

- held by one run of one export, from before the processing call until the last copy; the same
  run taking it again (a retried step, a later step of the same render) re-enters it;
- it expires by itself after the longest call plus a margin (`seconds`), so a render whose
  process was killed frees the video;
- while `calling`, the processing call may still be writing: only its render or the expiry
  frees it, never a cancel."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from exports.models import RenderLease


def render_lease_acquire(
    *, video_id: object, export_id: str, run_id: str, seconds: float
) -> RenderLease:
    """The video's lease, for `seconds` from now and `calling`: this run's (new, re-entered,
    or taken over from an expired holder), or, untouched, the live lease of another render
    (the caller checks `held_by`)."""
    now = timezone.now()
    until = now + timedelta(seconds=seconds)
    holder = {"export_id": export_id, "run_id": run_id, "acquired_at": now}
    with transaction.atomic():
        # Two renders racing for a free video take turns on the row (get_or_create retries
        # the read when the other one's insert wins).
        lease, created = RenderLease.objects.select_for_update().get_or_create(
            video_id=video_id, defaults={**holder, "expires_at": until, "calling": True}
        )
        if created:
            return lease
        ours = lease.held_by(export_id=export_id, run_id=run_id)
        if not ours and lease.expires_at > now:
            return lease
        if not ours:
            lease.export_id, lease.run_id = holder["export_id"], holder["run_id"]
            lease.acquired_at = holder["acquired_at"]
        lease.expires_at, lease.calling, lease.outputs = until, True, []
        lease.save()
        return lease


def render_lease_renew(
    *, video_id: object, export_id: str, run_id: str, seconds: float, outputs: list | None = None
) -> bool:
    """The call has ended: keep the lease `seconds` more (the copies), no longer `calling`,
    with the call's `outputs` when given. False when this run does not hold it any more (it
    expired and another render took it)."""
    fields = {"expires_at": timezone.now() + timedelta(seconds=seconds), "calling": False}
    if outputs is not None:
        fields["outputs"] = outputs
    return bool(
        RenderLease.objects.filter(video_id=video_id, export_id=export_id, run_id=run_id).update(
            **fields
        )
    )


def render_lease_answered(*, video_id: object, export_id: str, run_id: str) -> RenderLease | None:
    """This run's lease, if its call has answered (its outputs wait to be copied)."""
    return RenderLease.objects.filter(
        video_id=video_id, export_id=export_id, run_id=run_id, calling=False
    ).first()


def render_lease_held_by_another_run(*, video_id: object, export_id: str, run_id: str) -> bool:
    """Whether another run of the same export holds the video (it copies to the same keys)."""
    return (
        RenderLease.objects.filter(video_id=video_id, export_id=export_id)
        .exclude(run_id=run_id)
        .exists()
    )


def render_lease_release(*, video_id: object, export_id: str, run_id: str = "") -> bool:
    """Give the video's lease back, if export `export_id` (its run `run_id`, when given) holds
    it; returns whether it did. Without `run_id` (the export's cancel, its failure handler) a
    lease whose call may still be writing stays until that render ends or the lease expires:
    another export's render would otherwise get these outputs mixed with its own."""
    leases = RenderLease.objects.filter(video_id=video_id, export_id=export_id)
    leases = leases.filter(run_id=run_id) if run_id else leases.filter(calling=False)
    deleted, _ = leases.delete()
    return bool(deleted)
