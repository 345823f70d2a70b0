"""Schema migrations: the changes to tables that already hold a plant's data.

`create_schema()` (run by `init-db`, `serve`, `ingest` and `migrate`) first creates the
tables that do not exist, from the models, then applies the migrations not yet recorded in
the `schema_migration` table, in name order, each in its own transaction:

- a database created by this run got every column from the models, so its migrations are
  only recorded, not run;
- an existing database gets each pending migration's `up(db)`.

A migration is a module `NNNN_what.py` in this package with `up(db)`. It must be additive
(new nullable or defaulted column, new index, backfill) and idempotent, because a table
created after a migration was written already has the column: use `add_columns()`, which
adds only the columns a table lacks. Never rename or drop a column a running worker reads.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import peewee as pw
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate

from server.models import SchemaMigration, utcnow

#: any number, the same for every process: serialises two processes migrating at once
_PG_LOCK = 0x6B6F6F72  # "koor"


def available(package: str = __name__) -> list[tuple[str, ModuleType]]:
    """(name, module) of each migration in `package`, in the order they apply."""
    pkg = importlib.import_module(package)
    names = sorted(
        info.name for info in pkgutil.iter_modules(pkg.__path__) if info.name[:4].isdigit()
    )
    return [(name, importlib.import_module(f"{package}.{name}")) for name in names]


def apply(db: pw.Database, fresh: bool, package: str = __name__) -> list[str]:
    """Apply (or, on a `fresh` database, only record) the pending migrations; returns the
    names of those run."""
    ran: list[str] = []
    for name, module in available(package):
        with db.atomic():
            if isinstance(db, pw.PostgresqlDatabase):
                db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK,))
            # read inside the transaction: another process may have applied it meanwhile
            # (SQLite's BEGIN IMMEDIATE and the advisory lock make this the only writer)
            if SchemaMigration.get_or_none(SchemaMigration.name == name) is not None:
                continue
            if not fresh:
                module.up(db)
                ran.append(name)
            SchemaMigration.create(name=name, applied_at=utcnow())
    return ran


def add_columns(db: pw.Database, model: type[pw.Model], *field_names: str) -> None:
    """Add the named fields of `model` to its table where the table lacks them."""
    table = model._meta.table_name
    have = {column.name for column in db.get_columns(table)}
    migrator = (
        PostgresqlMigrator(db) if isinstance(db, pw.PostgresqlDatabase) else SqliteMigrator(db)
    )
    operations = []
    for name in field_names:
        field = model._meta.fields[name]
        if field.column_name not in have:
            operations.append(migrator.add_column(table, field.column_name, field))
    if operations:
        migrate(*operations)
