"""``urne``: the operator's command."""
