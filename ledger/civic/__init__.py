"""The civic record on top of the log: admission of entries under each process's rules,
credential checks in batches, open-data exports, pabulib import."""
