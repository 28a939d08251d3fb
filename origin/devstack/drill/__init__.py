"""The fault drill (docs/reliability.md): local processes, a bounded load, faults injected one at
a time and restored, and the report; `python -m origin.devstack.drill` (scripts/drill)."""
