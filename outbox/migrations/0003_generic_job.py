"""Each event names its job generically (a content type and an id) instead of holding a foreign
key to the videos app and one to the exports app."""

from django.db import migrations, models
import django.db.models.deletion


def forwards(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    OutboxEvent = apps.get_model("outbox", "OutboxEvent")
    video_type, _ = ContentType.objects.get_or_create(app_label="videos", model="video")
    export_type, _ = ContentType.objects.get_or_create(app_label="exports", model="export")
    OutboxEvent.objects.filter(export__isnull=False).update(
        job_type=export_type, job_id=models.F("export_id")
    )
    OutboxEvent.objects.filter(export__isnull=True, video__isnull=False).update(
        job_type=video_type, job_id=models.F("video_id")
    )


def backwards(apps, schema_editor):
    OutboxEvent = apps.get_model("outbox", "OutboxEvent")
    Export = apps.get_model("exports", "Export")
    for event in OutboxEvent.objects.filter(job_type__isnull=False).iterator():
        if event.job_type.model == "export":
            export = Export.objects.filter(pk=event.job_id).first()
            event.export_id = event.job_id
            event.video_id = export.video_id if export else None
        else:
            event.video_id = event.job_id
        event.save(update_fields=["export", "video"])


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("exports", "0004_export_cancelled_drop_clips"),
        ("outbox", "0002_admin_list_indexes"),
        ("videos", "0006_video_status"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboxevent",
            name="job_type",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="contenttypes.contenttype",
            ),
        ),
        migrations.AddField(
            model_name="outboxevent",
            name="job_id",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(model_name="outboxevent", name="export"),
        migrations.RemoveField(model_name="outboxevent", name="video"),
        migrations.AddIndex(
            model_name="outboxevent",
            index=models.Index(fields=["job_type", "job_id", "created_at"], name="outbox_job"),
        ),
    ]
