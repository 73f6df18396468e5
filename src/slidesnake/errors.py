"""Errors that name what the user must fix."""


class SlidesnakeError(Exception):
    """Base class for errors a user can act on."""


class SampleSheetError(SlidesnakeError):
    """A bad sample sheet: names the row and the column."""

    def __init__(self, message: str, row: int | None = None, column: str | None = None):
        where = []
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        prefix = f"sample sheet {', '.join(where)}: " if where else "sample sheet: "
        super().__init__(prefix + message)
        self.row = row
        self.column = column


class SlideError(SlidesnakeError):
    """A slide that cannot be used: names the slide."""

    def __init__(self, slide: str, message: str):
        super().__init__(f"slide '{slide}': {message}")
        self.slide = slide
