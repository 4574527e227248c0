from django.db import models


class SeenSignature(models.Model):
    """A signature `/api/inngest` has accepted, kept while its timestamp is inside the accepted
    window: the unique constraint makes a second request with the same signature fail to insert,
    in every worker process at once (replay protection, inngest_endpoint.guard)."""

    signature = models.CharField(max_length=64, unique=True)
    # Past this moment the signature's timestamp is outside the window, so the row can go.
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.signature
