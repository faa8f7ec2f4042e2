"""The three staff roles as groups, and the gift card permissions that are not Django's
add/change/delete/view.

viewer:  reads everything of its business except API keys.
cashier: sells (issues) cards, redeems (debits) and recharges them; adds and edits clients
         and recipients.
manager: also adjusts balances, purchases/activates/deactivates, soft-deletes and restores
         cards, reveals codes, exports CSV, edits card attributes, markets and tags,
         deactivates clients, and creates and revokes API keys.

`create_roles` is idempotent; tests call it again after a transactional flush empties the
auth tables.
"""

from django.db import migrations

CUSTOM_CARD_PERMISSIONS = [
    ("redeem_giftcard", "Can redeem (debit) gift cards"),
    ("recharge_giftcard", "Can recharge gift cards"),
    ("adjust_giftcard", "Can adjust gift card balances"),
    ("transition_giftcard", "Can purchase, activate and deactivate gift cards"),
    ("reveal_code_giftcard", "Can reveal full gift card codes"),
    ("export_giftcard", "Can export gift cards as CSV"),
]

VIEWER = [
    "clients.view_business",
    "clients.view_client",
    "giftcards.view_giftcard",
    "giftcards.view_balancelog",
    "giftcards.view_giftcardrecipient",
    "giftcards.view_market",
    "giftcards.view_tag",
]
CASHIER = [
    *VIEWER,
    "giftcards.add_giftcard",
    "giftcards.redeem_giftcard",
    "giftcards.recharge_giftcard",
    "clients.add_client",
    "clients.change_client",
    "giftcards.add_giftcardrecipient",
    "giftcards.change_giftcardrecipient",
]
MANAGER = [
    *CASHIER,
    "giftcards.change_giftcard",
    "giftcards.delete_giftcard",
    "giftcards.adjust_giftcard",
    "giftcards.transition_giftcard",
    "giftcards.reveal_code_giftcard",
    "giftcards.export_giftcard",
    "giftcards.delete_giftcardrecipient",
    "giftcards.add_market",
    "giftcards.change_market",
    "giftcards.delete_market",
    "giftcards.add_tag",
    "giftcards.change_tag",
    "giftcards.delete_tag",
    "clients.delete_client",
    "clients.view_apikey",
    "clients.add_apikey",
    "clients.change_apikey",
]
ROLES = {"viewer": VIEWER, "cashier": CASHIER, "manager": MANAGER}


def create_roles(apps, schema_editor=None):
    from django.contrib.auth.management import create_permissions

    # Django creates the default permissions after `migrate` (post_migrate); the groups need
    # them now, on a fresh database too.
    for app_config in apps.get_app_configs():
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = original

    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    card_type, _ = ContentType.objects.get_or_create(app_label="giftcards", model="giftcard")
    for codename, name in CUSTOM_CARD_PERMISSIONS:
        Permission.objects.get_or_create(
            content_type=card_type, codename=codename, defaults={"name": name}
        )
    for role, names in ROLES.items():
        permissions = []
        for name in names:
            app_label, codename = name.split(".")
            permissions.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(permissions)


def remove_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.filter(name__in=ROLES).delete()
    Permission.objects.filter(
        content_type__app_label="giftcards",
        codename__in=[codename for codename, _ in CUSTOM_CARD_PERMISSIONS],
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("clients", "0002_idempotency_records"),
        ("giftcards", "0002_ledger_immutable"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
