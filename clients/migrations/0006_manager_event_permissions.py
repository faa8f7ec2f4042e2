"""Managers run webhooks, read their callbacks and deliveries, redeliver, and e-mail a card to
its recipient again; viewers and cashiers do none of it.

`grant_manager_events` is idempotent and only adds to the `manager` group; tests call it again,
after 0003's `create_roles`, when a transactional flush has emptied the auth tables.
"""

from django.db import migrations

CUSTOM_PERMISSIONS = [
    ("giftcard", "resend_email_giftcard", "Can e-mail gift cards to their recipients again"),
    ("delivery", "redeliver_delivery", "Can send webhook deliveries again"),
]
MANAGER = [
    "giftcards.view_webhook",
    "giftcards.add_webhook",
    "giftcards.change_webhook",
    "giftcards.delete_webhook",
    "giftcards.view_eventcallback",
    "giftcards.view_delivery",
    "giftcards.redeliver_delivery",
    "giftcards.view_cardemail",
    "giftcards.resend_email_giftcard",
]


def grant_manager_events(apps, schema_editor=None):
    from django.contrib.auth.management import create_permissions

    # As in 0003: the default permissions of the new models do not exist yet on a fresh
    # database (Django makes them after `migrate`).
    app_config = apps.get_app_config("giftcards")
    original = getattr(app_config, "models_module", None)
    app_config.models_module = original or True
    try:
        create_permissions(app_config, apps=apps, verbosity=0)
    finally:
        app_config.models_module = original

    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for model, codename, name in CUSTOM_PERMISSIONS:
        content_type, _ = ContentType.objects.get_or_create(app_label="giftcards", model=model)
        Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
    permissions = [
        Permission.objects.get(content_type__app_label="giftcards", codename=name.split(".")[1])
        for name in MANAGER
    ]
    group, _ = Group.objects.get_or_create(name="manager")
    group.permissions.add(*permissions)


def revoke_manager_events(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    granted = Permission.objects.filter(
        content_type__app_label="giftcards",
        codename__in=[name.split(".")[1] for name in MANAGER],
    )
    for group in Group.objects.filter(name="manager"):
        group.permissions.remove(*granted)
    Permission.objects.filter(
        content_type__app_label="giftcards",
        codename__in=[codename for _, codename, _ in CUSTOM_PERMISSIONS],
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0005_idempotency_encrypted"),
        ("giftcards", "0005_events_webhooks_attachments"),
    ]

    operations = [migrations.RunPython(grant_manager_events, revoke_manager_events)]
