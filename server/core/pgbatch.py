"""Fewer round trips for a scan batch on PostgreSQL.

On PostgreSQL every statement is a round trip to the server, and a scan sent five: its
savepoint, the item read, the item update, its ledger row and the savepoint's release.
While `apply_scans()` runs, the database (`server/db.py` `PostgresDatabase`) hands each
statement to the batch's `BatchWrites` first, which:

- sends a scan's savepoint with the scan's first statement, in the same round trip
  (`SAVEPOINT "scan"; UPDATE ...`): a scan that sends nothing opens none;
- sends its release (or its rollback, for a rejected scan) ahead of the next statement;
- keeps the ledger rows of the batch, and each scan's update of its own item (read
  ahead, below), and sends them in one round trip (runs of ledger rows as multi-row
  INSERTs) before the batch's events, or as soon as any statement names the ledger or
  the item table (a scan that reads an item or its history, or writes a row of its own,
  e.g. a split): every read sees what the scans before it wrote, and the ledger's order
  stays the scans'. What was kept is undone with a rejected scan's savepoint like any
  write of it; what earlier scans kept and was sent inside it is kept again;
- reads the batch's items named by an internal code in one statement, row-locked in id
  order. A plain scan (its item read ahead, its rows kept) then sends nothing of its own,
  so it opens no savepoint (no subtransaction: past 64 in a transaction, every snapshot
  of the other workers gets slower).

The whole batch runs inside one savepoint of its own. A ledger row that another worker
committed meanwhile under the same `scan_id` (the unique index answers IntegrityError) is
found only at that INSERT, where it can no longer be told which scan it belongs to: the
batch is then rolled back to its savepoint and applied again with each ledger row written
in its scan, as on SQLite, which answers that scan with the first answer.

SQLite runs in-process, with no round trip to save: nothing here applies there.
"""

from __future__ import annotations

import contextlib

import peewee as pw

from server.core import hot

_ROW = "(" + ", ".join(["%s"] * len(hot.LEDGER_COLUMNS)) + ")"
_INSERT = 'INSERT INTO "ledger_entry" ({}) VALUES '.format(
    ", ".join(f'"{c}"' for c in hot.LEDGER_COLUMNS)
)
#: rows a ledger INSERT at most (24 parameters each)
CHUNK = 500


class LedgerConflict(BaseException):  # noqa: N818 - not an error of one scan
    """The batch's ledger INSERT failed, most often on a `scan_id` committed by another
    worker: redo the batch with each row in its scan.
    A BaseException so that no scan's own error handling takes it for its own."""


def available(db: pw.Database) -> bool:
    return hasattr(db, "batch_writes")


@contextlib.contextmanager
def active(db: pw.Database, writes: BatchWrites | None):
    """`writes` sees the statements of this thread's connection while inside."""
    if writes is None:
        yield
        return
    target = getattr(db, "obj", db)  # the proxy's target
    target.batch_writes = writes
    try:
        yield
    finally:
        target.batch_writes = None


class BatchWrites:
    """The statements of one `apply_scans()` call on PostgreSQL (see the module's doc)."""

    __slots__ = (
        "db", "defer", "prefix", "want", "open", "ledger", "mark", "kept", "sent",
        "items", "taken", "own",
    )  # fmt: skip

    def __init__(self, db: pw.Database, *, defer: bool) -> None:
        self.db = db
        #: ledger rows kept to the end of the batch (False: each in its scan's savepoint)
        self.defer = defer
        #: statements to send ahead of the next one
        self.prefix = 'SAVEPOINT "batch"; '
        self.want = False  # inside a scan's savepoint, not yet opened on the server
        self.open = False  # the scan's savepoint is open on the server
        #: kept statements: (None, ledger row) or (item update, its parameters)
        self.ledger: list[tuple] = []
        self.mark = 0  # entries of self.ledger from before the current scan's savepoint
        self.kept: list[tuple] = []  # those of them written inside the scan's savepoint
        self.sent = False
        #: the batch's items read ahead by code (`read_items`), each for its first scan
        self.items: dict = {}
        self.taken: set[int] = set()  # ids of the items handed out
        self.own = False  # a scan writes an item handed out to it (hot.save_item)

    def before(self, sql: str) -> str:
        """The text to send for `sql` (called by the database for every statement)."""
        if self.ledger and ("ledger_entry" in sql or '"item"' in sql):
            self.flush()
        writing = sql[:6].upper() != "SELECT"
        if writing and self.items and not self.own and '"item"' in sql:
            # an item written other than by the scan it was handed to (a split, a
            # consumed part, a hold...): what is read ahead may be stale from here
            self.items.clear()
        if self.want:
            # the scan's savepoint, sent with its first statement: a failing read is
            # inside it too, as before
            self.want = False
            self.open = True
            sql = 'SAVEPOINT "scan"; ' + sql
        if self.prefix:
            sql = self.prefix + sql
            self.prefix = ""
        self.sent = True
        return sql

    # --- the items
    def read_items(self, codes: list[str]) -> None:
        """Read and row-lock the items of these codes in one statement, in id order (two
        workers lock a batch's rows in the same order: no deadlock between them)."""
        if len(codes) > 1:
            self.items = hot.items_by_codes(codes)

    def take(self, code: str):
        """The item read ahead for `code`, once: a second scan of it in the batch reads
        it again, after the first scan's changes. None: not read ahead (or gone stale)."""
        item = self.items.pop(code, None)
        if item is not None:
            self.taken.add(item.id)
        return item

    # --- a scan's savepoint (server/core/scans.py _savepoint)
    def savepoint(self) -> None:
        self.want = True
        self.open = False
        self.mark = len(self.ledger)
        self.kept = []

    def release(self, failed: bool) -> None:
        self.want = False
        if self.open:
            self.open = False
            if failed:
                self.prefix += 'ROLLBACK TO SAVEPOINT "scan"; '
                # rows of earlier scans written inside it are undone with it
                self.ledger = self.kept + self.ledger[: self.mark]
            self.prefix += 'RELEASE SAVEPOINT "scan"; '
        self.kept = []

    # --- the ledger rows and the scans' own item updates, kept
    def add_ledger(self, row: tuple) -> bool:
        """Keep `row` for the batch's INSERT; False when it is to be written now."""
        if not self.defer:
            return False
        self.ledger.append((None, row))
        return True

    def add_item_update(self, sql: str, params: tuple) -> bool:
        """Keep a scan's update of its own item (one handed out by `take`) for the next
        statement that names the item table or the ledger, or the batch's end; False when
        it is to be sent now. A plain scan then sends nothing of its own: no savepoint
        (a subtransaction) either."""
        if not self.defer:
            return False
        self.ledger.append((sql, params))
        return True

    def flush_ledger(self) -> None:
        if self.ledger:
            self.flush()

    def flush(self) -> None:
        """Send what is kept in one round trip: the item updates as they are, the ledger
        rows as multi-row INSERTs."""
        rows, self.ledger = self.ledger, []
        if self.open:
            self.kept.extend(rows[: self.mark])
        self.mark = 0
        parts: list[str] = []
        params: list = []
        run: list[tuple] = []

        def end_run() -> None:
            if run:
                parts.append(_INSERT + ", ".join([_ROW] * len(run)))
                params.extend(value for row in run for value in row)
                run.clear()

        # the item updates first, then the ledger rows: each keeps its order, and neither
        # reads the other
        for sql, values in rows:
            if sql is not None:
                parts.append(sql)
                params.extend(values)
        for sql, values in rows:
            if sql is None:
                run.append(values)
                if len(run) == CHUNK:
                    end_run()
        end_run()
        want, self.want = self.want, False  # earlier scans' rows: not in this scan's savepoint
        self.own = True  # the items' updates are their scans' own
        try:
            self.db.execute_sql("; ".join(parts), params)
        except pw.DatabaseError as exc:
            # most often a scan_id committed by another worker; whatever it is, the rows
            # can no longer be told apart: the batch is done again, each row in its scan
            raise LedgerConflict() from exc
        finally:
            self.want = want
            self.own = False

    def finish(self) -> None:
        """The end of the batch: its ledger rows written, its savepoint released."""
        if self.ledger:
            self.flush()
        if self.sent:
            self.prefix += 'RELEASE SAVEPOINT "batch"'
            prefix, self.prefix = self.prefix, ""
            self.db.execute_sql(prefix)
        self.prefix = ""


def undo(db: pw.Database, writes: BatchWrites) -> None:
    """Roll the batch back to its savepoint (after a LedgerConflict)."""
    if writes.sent:
        db.execute_sql('ROLLBACK TO SAVEPOINT "batch"; RELEASE SAVEPOINT "batch"')
