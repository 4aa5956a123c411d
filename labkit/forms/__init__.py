"""ipywidgets forms, one module per job, thin over the core modules (imported only from notebooks)."""
