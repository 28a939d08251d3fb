"""The live dashboard: samples of this instance and of the local edge, their history (Redis or
in-process), Alertmanager's active alerts, the page."""
