from django.db import migrations
from django.db.models import F
from django.db.models.functions import Round


def scores_to_0_10(apps, schema_editor):
    """Scores stored before were any number (the old sandbox gave 35-98): a score above 10 is
    read as a percentage, as the identify answer's reader does now, and every score is rounded
    to a whole number in 0-10."""
    clip = apps.get_model("clips", "Clip")
    clip.objects.filter(virality_score__gt=100).update(virality_score=10)
    clip.objects.filter(virality_score__gt=10).update(virality_score=F("virality_score") / 10)
    clip.objects.filter(virality_score__lt=0).update(virality_score=0)
    clip.objects.update(virality_score=Round("virality_score"))


class Migration(migrations.Migration):
    """Data only: PostgreSQL refuses to alter a table with pending trigger events in the same
    transaction, so the column changes in the next migration."""

    dependencies = [
        ("clips", "0002_admin_list_indexes"),
        ("videos", "0003_video_exported_clip_count"),
    ]

    operations = [migrations.RunPython(scores_to_0_10, migrations.RunPython.noop)]
