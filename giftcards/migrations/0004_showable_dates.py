"""Only moments every time zone can show: rows stored before the services refused the rest
are moved to the nearest accepted moment (a day at most, at the ends of year 1 and year
9999), then the database refuses the rest too."""

import datetime

from django.db import migrations, models

EARLIEST = datetime.datetime(1, 1, 2, tzinfo=datetime.UTC)
LATEST = datetime.datetime(9999, 12, 31, tzinfo=datetime.UTC)
FIELDS = ("purchase_date", "expires_at")


def clamp(apps, schema_editor):
    GiftCard = apps.get_model("giftcards", "GiftCard")
    for name in FIELDS:
        GiftCard.objects.filter(**{f"{name}__gt": LATEST}).update(**{name: LATEST})
        GiftCard.objects.filter(**{f"{name}__lt": EARLIEST}).update(**{name: EARLIEST})


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0005_idempotency_encrypted"),
        ("giftcards", "0003_ledger_issue_key_index"),
    ]

    operations = [
        migrations.RunPython(clamp, migrations.RunPython.noop, elidable=True),
        *(
            migrations.AddConstraint(
                model_name="giftcard",
                constraint=models.CheckConstraint(
                    condition=models.Q((f"{name}__isnull", True))
                    | models.Q((f"{name}__range", (EARLIEST, LATEST))),
                    name=f"giftcards_giftcard_{name}_showable",
                ),
            )
            for name in FIELDS
        ),
    ]
