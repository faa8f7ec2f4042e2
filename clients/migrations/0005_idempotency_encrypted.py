"""Idempotency records are kept encrypted with the code key: encrypt the ones stored in clear
(and decrypt them again when migrating back)."""

from django.db import migrations, models

from giftcards import codes


def _convert(apps, convert) -> None:
    IdempotencyRecord = apps.get_model("clients", "IdempotencyRecord")
    for record in IdempotencyRecord.objects.order_by("pk").iterator(chunk_size=500):
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            request_hash=convert(record.request_hash),
            response_body=convert(record.response_body) if record.response_body else "",
        )


def encrypt(apps, schema_editor):
    _convert(apps, codes.encrypt)


def decrypt(apps, schema_editor):
    _convert(apps, codes.decrypt)


class Migration(migrations.Migration):

    dependencies = [
        ("clients", "0004_idempotency_location"),
    ]

    operations = [
        migrations.AlterField(
            model_name="idempotencyrecord",
            name="request_hash",
            field=models.CharField(max_length=255),
        ),
        migrations.RunPython(encrypt, decrypt),
    ]
