"""The civic record's rules: canonical JSON, the entry kinds, the rules of a process,
counting, participatory budgets and the pabulib format."""
