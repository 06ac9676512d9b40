"""Institutions registered on this service: their keys, the processes they own, the
nonces of their signed requests."""
