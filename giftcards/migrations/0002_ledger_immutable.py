"""Database triggers that refuse to update (and, on PostgreSQL, delete) ledger rows.

The model already refuses; this holds against raw SQL and future code too. SQLite gets no
DELETE trigger because Django's test flush empties tables with DELETE (PostgreSQL flushes with
TRUNCATE, which row triggers do not see).
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION giftcards_balancelog_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'giftcards_balancelog rows are immutable (% refused)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER giftcards_balancelog_immutable
    BEFORE UPDATE OR DELETE ON giftcards_balancelog
    FOR EACH ROW EXECUTE FUNCTION giftcards_balancelog_refuse_change();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS giftcards_balancelog_immutable ON giftcards_balancelog;
DROP FUNCTION IF EXISTS giftcards_balancelog_refuse_change();
"""
SQLITE_UP = """
CREATE TRIGGER giftcards_balancelog_immutable
BEFORE UPDATE ON giftcards_balancelog
BEGIN
    SELECT RAISE(ABORT, 'giftcards_balancelog rows are immutable (UPDATE refused)');
END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS giftcards_balancelog_immutable;"


def _run(sql_by_vendor):
    def run(apps, schema_editor):
        sql = sql_by_vendor.get(schema_editor.connection.vendor)
        if sql:
            schema_editor.execute(sql, params=None)  # no %-formatting of the SQL

    return run


class Migration(migrations.Migration):
    dependencies = [("giftcards", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP}),
            _run({"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN}),
        ),
    ]
