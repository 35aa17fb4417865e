"""A business's books as a folder of CSV files (docs/formats.md): read and written."""

from rowcol.adapters.csvbooks.folder import (
    OPTIONAL_FILES,
    REQUIRED_FILES,
    CsvBooksFolder,
)

__all__ = ["OPTIONAL_FILES", "REQUIRED_FILES", "CsvBooksFolder"]
