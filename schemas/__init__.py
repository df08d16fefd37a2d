"""JSON Schemas exported from the contract models (resource package ``summarizer.schemas``)."""
