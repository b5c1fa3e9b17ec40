"""Errors that the CLI turns into a one-line reason on stderr and a non-zero exit.

Messages never carry an ID number, a name or a phone: they name the batch,
the file, the row number and the reason code.
"""


class RetirePrepError(Exception):
    """A refused input or an impossible request: one line, no personal data."""

    exit_code = 2


class BatchRefused(RetirePrepError):
    """A push batch that is refused whole (push-format.md)."""

    def __init__(
        self,
        batch: str,
        reason: str,
        file: str | None = None,
        row: int | None = None,
        seq: int | None = None,
        code: str | None = None,
    ):
        # seq: the manifest's, when it was read before the refusal (recorded with it); code: the
        # refusal's code in batch_refusals when it is not the caller's default (BATCH, MANIFEST …)
        self.batch, self.reason, self.file, self.row, self.seq, self.code = batch, reason, file, row, seq, code
        where = f"batch {batch}"
        if file:
            where += f", file {file}"
        if row is not None:
            where += f", row {row}"
        super().__init__(f"{where}: {reason}")


class ApplicationsRefused(RetirePrepError):
    """An applications file refused whole (bad header, or not parsable as CSV): nothing of it is loaded."""

    def __init__(self, file: str, reason: str, row: int | None = None):
        from .contract import shown_file_name

        self.file, self.reason, self.row = file, reason, row
        super().__init__(
            f"applications file {shown_file_name(file)}" + (f", row {row}" if row is not None else "") + f": {reason}"
        )


class MonthRefused(RetirePrepError):
    """A month that may not be run (e.g. before the last month run, without --replay)."""


class UnknownCalendarYear(RetirePrepError):
    """A working-day computation reached a year that no calendar covers."""


class ValidationFailed(RetirePrepError):
    """A Great Expectations suite failed: the stage is not published."""

    exit_code = 3


class DuplicateNotice(RetirePrepError):
    """A writer of ``notice_log`` would leave two notices of one person, kind and reference month
    (or one ``notice_id`` twice): the check that replaced the table's UNIQUE constraints (issue 19)."""


class DuplicateEntry(RetirePrepError):
    """The ledger's writer would leave one ``entry_id`` twice in ``ledger_entries``: the check that
    replaced the table's PRIMARY KEY (issue 19, ninth session)."""
