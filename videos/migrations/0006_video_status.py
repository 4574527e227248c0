"""Video.processing_status becomes `status`, the field name both jobs share (core.lifecycle),
and the lifecycle's `cancelled` state is allowed."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("videos", "0005_video_deletion"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="video", name="video_processing_status_valid"),
        migrations.RemoveIndex(model_name="video", name="video_status_updated"),
        migrations.RenameField(model_name="video", old_name="processing_status", new_name="status"),
        migrations.AlterField(
            model_name="video",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("processing", "Processing"),
                    ("completed", "Completed"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                ],
                default="pending",
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="video",
            index=models.Index(fields=["status", "updated_at"], name="video_status_updated"),
        ),
        migrations.AddConstraint(
            model_name="video",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("status__in", ["pending", "processing", "completed", "failed", "cancelled"])
                ),
                name="video_status_valid",
            ),
        ),
    ]
