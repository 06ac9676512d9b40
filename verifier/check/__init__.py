"""The checks people run: a receipt, a process's open data, the whole log (the audit),
and the worker processes that verify credentials in parallel."""
