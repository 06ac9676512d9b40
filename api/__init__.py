"""Urne's HTTP service (FastAPI), its pages, and the operator's command ``urne``.

It needs the ``server`` extra: ``pip install 'urne[server]'``. The institution
client (``urne.api.client``) and request signing (``urne.api.signing``) do not.
"""
