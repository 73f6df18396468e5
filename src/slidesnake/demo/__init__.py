"""Built-in demo cohort: synthetic pyramidal H&E slides with known tissue and tumor truth."""
