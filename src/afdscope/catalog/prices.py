"""`--price HARDWARE=USD_PER_GPU_HOUR` items → {device label: USD per GPU-hour}, and the priced
candidate devices of a search (`priced_candidates`).

The label is what `load_hardware` names the device: a short name (case-insensitive, so stored
lower-cased) or, for a user YAML file named like a packaged device, its path (case kept: paths are
case-sensitive; './x.yaml' and 'x.yaml' are the same label).
"""

from __future__ import annotations

import math
from pathlib import Path

from afdscope.errors import AfdscopeError


def _label(name: str) -> str:
    name = name.strip()
    looks_like_path = "/" in name or "\\" in name or name.lower().endswith((".yaml", ".yml"))
    # A path is labelled as load_hardware labels it: str(Path(...)), so './x.yaml' and 'x.yaml' agree.
    return str(Path(name).expanduser()) if looks_like_path else name.lower()


def parse_prices(items: list[str] | None) -> dict[str, float]:
    """`["h800=2.0", "H20=0.8"]` → {"h800": 2.0, "h20": 0.8}.

    Each item is HARDWARE=USD with USD a finite positive number. A device priced twice ('h800=2' and
    'H800=3', or the same price repeated) raises `AfdscopeError` naming it: the later price would
    otherwise silently win."""
    prices: dict[str, float] = {}
    given: dict[str, str] = {}
    for item in items or []:
        name, sep, value = str(item).partition("=")
        try:
            price = float(value)
        except ValueError:
            price = float("nan")
        if not sep or not name.strip() or not math.isfinite(price) or price <= 0:
            raise AfdscopeError(f"--price '{item}': write HARDWARE=USD_PER_GPU_HOUR, e.g. --price h800=2.0")
        label = _label(name)
        if label in prices:
            raise AfdscopeError(
                f"--price given twice for {label} ('{given[label]}' and '{item}'); give one price per device"
            )
        prices[label], given[label] = price, item
    return prices


def price_for(prices: dict[str, float], label: str) -> float | None:
    """The price `parse_prices` gave the device labelled `label` (a short name in any case, or a path)."""
    return prices.get(label, prices.get(label.lower()))


def priced_devices(names: list[str] | None, prices: dict[str, float], value_set: str) -> list:
    """The named devices, each with its price (USD per GPU-hour) when `prices` gives one."""
    from afdscope.catalog.hardware_catalog import load_hardware
    from afdscope.cost import with_price

    out = []
    for name in names or []:
        hw = load_hardware(name, value_set)
        out.append(with_price(hw, price_for(prices, hw.name)))
    return out


def priced_candidates(hardware, attention_hardware, ffn_hardware, price_items, value_set: str):
    """(both-role, attention, FFN) candidate lists of a search, priced by `price_items` (HARDWARE=USD);
    every price must name a candidate. No both-role list: the attention and FFN devices, once each."""
    prices = parse_prices(price_items)
    hws = priced_devices(hardware, prices, value_set)
    attn = priced_devices(attention_hardware, prices, value_set)
    ffn = priced_devices(ffn_hardware, prices, value_set)
    # Devices by label (one device named twice counts once), compared as parse_prices labels them.
    labels = {h.name: h for h in hws + attn + ffn}
    priced = {label.lower() for label in labels} | set(labels)
    unknown = {label for label in prices if label not in priced and label.lower() not in priced}
    if unknown:
        raise AfdscopeError(
            f"--price for {', '.join(sorted(unknown))}, which is not a candidate; "
            "price the devices you search"
        )
    if not hws:
        hws = list(dict.fromkeys(attn + ffn))
    if not hws:
        raise AfdscopeError("give --hardware (or --attention-hardware and --ffn-hardware)")
    return hws, attn, ffn
