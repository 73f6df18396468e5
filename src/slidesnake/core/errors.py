"""Errors that name what the user must fix."""

from __future__ import annotations

from slidesnake.core.labels import SITE_COLUMN


class SlidesnakeError(Exception):
    """Base class for errors a user can act on."""


class ConfigError(SlidesnakeError):
    """A bad configuration value: names the key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"config key '{key}': {message}")
        self.key = key


class SampleSheetError(SlidesnakeError):
    """A bad sample sheet: names the sheet file, the row and the column."""

    def __init__(self, message: str, row: int | None = None, column: str | None = None, sheet: str | None = None):
        where = [str(sheet)] if sheet else []
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"sample sheet {', '.join(where)}: {message}" if where else f"sample sheet: {message}")
        self.message, self.row, self.column, self.sheet = message, row, column, sheet

    def in_sheet(self, sheet: str) -> "SampleSheetError":
        """The same error, naming the sheet file it came from."""
        return SampleSheetError(self.message, self.row, self.column, sheet)


class TaskTargetError(SampleSheetError):
    """A task's target that cannot be trained on (a missing column, a non-numeric value, a negative time, no
    events): names the task as well as the sheet, the row and the column."""

    def __init__(self, task: str, message: str, row: int | None = None, column: str | None = None, sheet=None):
        super().__init__(f"task '{task}': {message}", row, column, sheet)
        self.task = task


class SiteError(SampleSheetError):
    """Sites whose slides cannot form the folds of site-preserved cross-validation (training.split_by: site): names
    the sheet, the site column, the site and, where one row is at fault, the row."""

    def __init__(self, message: str, site: str | None = None, row: int | None = None, sheet=None):
        super().__init__(f"site '{site}': {message}" if site is not None else message, row, SITE_COLUMN, sheet)
        self.site = site

    def in_sheet(self, sheet: str) -> "SiteError":
        return SiteError(self.message, None, self.row, sheet)


class SlideError(SlidesnakeError):
    """A slide that cannot be used: names the slide."""

    def __init__(self, slide: str, message: str):
        super().__init__(f"slide '{slide}': {message}")
        self.slide = slide


class InputFileError(SlidesnakeError):
    """An input file that cannot be used (unreadable, or not matching its slide): names the file."""

    def __init__(self, file, message: str):
        super().__init__(f"{file}: {message}")
        self.file = file


class SlideReadError(SlidesnakeError):
    """Pixels of a slide that cannot be read (a corrupt tile, a failed region read). One message argument, so
    that it keeps its type when a DataLoader worker re-raises it in the job's process."""


class FieldOfViewError(SlidesnakeError):
    """Imported tiles whose field of view is not the configured one: names the slide, the file and both fields
    of view in microns."""

    def __init__(self, slide: str, file, imported_um: float, configured_um: float):
        super().__init__(
            f"slide '{slide}': the tiles of {file} span {imported_um:.1f} um, the configured tiling.tile_px x "
            f"tiling.mpp {configured_um:.1f} um (more than 1% apart): import tiles cut at the configured "
            "magnification, or set tiling.tile_px and tiling.mpp to the file's"
        )
        self.slide, self.file = slide, file


class CorrectionError(InputFileError):
    """A correction GeoJSON exported from QuPath that cannot be merged (slidesnake.review.corrections): names the
    file and, where one is at fault, the feature (its index and QuPath name)."""


class OutsideSlideError(CorrectionError):
    """A correction polygon that reaches outside its slide's level-0 frame."""


class SelfIntersectionError(CorrectionError):
    """A correction polygon whose edges cross (a bow tie): names the crossing edges."""


class UnknownClassError(CorrectionError):
    """A correction of a class that is none of Tumor, Benign, Artefact, Ignore (nor a review layer's)."""


class WrongSlideError(CorrectionError):
    """A correction GeoJSON of another slide: its features name another slide, or none fits this slide's size."""
