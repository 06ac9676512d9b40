"""HTTP content negotiation (RFC 9110 §12.4.2): a header's weighted items,
read the same way for ``Accept`` (``urne.api.errors``) and
``Accept-Language`` (``urne.api.i18n``)."""

from __future__ import annotations

__all__ = ["weighted"]


def weighted(header: str, most: int = 32) -> list[tuple[str, float]]:
    """``(item, q-value)`` of each of the first ``most`` items of ``header``,
    in its order: the item stripped (its case kept), the q-value 1 when not
    given and 0 when it is no number in [0, 1] (NaN included)."""
    out: list[tuple[str, float]] = []
    for part in header.split(",")[:most]:
        item, *params = part.split(";")
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:
                    q = 0.0
        out.append((item.strip(), q))
    return out
