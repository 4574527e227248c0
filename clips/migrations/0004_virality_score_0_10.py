from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("clips", "0003_virality_scores_to_0_10")]

    operations = [
        migrations.AlterField(
            model_name="clip",
            name="virality_score",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddConstraint(
            model_name="clip",
            constraint=models.CheckConstraint(
                condition=models.Q(virality_score__lte=10), name="clip_virality_score_0_10"
            ),
        ),
    ]
