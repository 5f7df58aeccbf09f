"""Map parsed records and curated files to RDF graphs, one module per input (docs/design.md)."""
