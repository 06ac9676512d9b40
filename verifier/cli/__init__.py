"""``urne-verify``: the command citizens and observers run."""
