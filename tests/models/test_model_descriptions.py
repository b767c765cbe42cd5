"""Model docstrings (first line) and field descriptions become SQL comments in migrations.
Tortoise's migration executor splits statements on ';' and escapes quotes with a backslash,
which PostgreSQL does not accept: keep both characters out of them."""

from tortoise import Tortoise

FORBIDDEN = (";", "'", "\\")


async def test_descriptions_are_safe_in_migration_sql(client):
    bad = []
    for app in Tortoise.apps.values():
        for name, model in app.items():
            if any(c in (model._meta.table_description or "") for c in FORBIDDEN):
                bad.append(f"{name}: {model._meta.table_description!r}")
            for field_name, field in model._meta.fields_map.items():
                if any(c in (field.description or "") for c in FORBIDDEN):
                    bad.append(f"{name}.{field_name}: {field.description!r}")
    assert not bad, "rephrase without ; ' or \\ (first docstring line / description=):\n" + "\n".join(bad)
