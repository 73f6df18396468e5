"""Infrastructure every stage uses: errors users can act on, atomic outputs, job logging, provenance."""
