"""Data shipped inside the package (ground-truth tables, a small image sample); see the PROVENANCE files here."""
