"""The live dashboard: samples of this instance, their history (Redis or in-process), the page."""
