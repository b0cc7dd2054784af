"""Prices, discounts and taxes for orders.

All money is handled as integer cents to avoid float rounding; helpers convert at the edges.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Iterable, Sequence

TAX_RATES = {
    "DE": Decimal("0.19"),
    "FR": Decimal("0.20"),
    "NL": Decimal("0.21"),
    "US-CA": Decimal("0.0725"),
    "US-NY": Decimal("0.04"),
}

BULK_TIERS = [
    (100, Decimal("0.10")),
    (50, Decimal("0.06")),
    (20, Decimal("0.03")),
]


class PricingError(ValueError):
    """Raised for prices, quantities or codes that cannot be priced."""


@dataclass(frozen=True)
class Coupon:
    code: str
    percent_off: Decimal = Decimal("0")
    amount_off_cents: int = 0
    min_subtotal_cents: int = 0
    single_use: bool = True


def to_cents(amount: str | Decimal | float) -> int:
    """Converts a decimal amount ("12.34") to integer cents, rounding half to even."""
    try:
        d = Decimal(str(amount))
    except Exception as exc:  # decimal.InvalidOperation and friends
        raise PricingError(f"not an amount: {amount!r}") from exc
    if not d.is_finite():
        raise PricingError(f"not a finite amount: {amount!r}")
    return int((d * 100).quantize(Decimal("1"), rounding=ROUND_HALF_EVEN))


def format_cents(cents: int, currency: str = "EUR") -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d} {currency}"


def bulk_discount_rate(quantity: int) -> Decimal:
    """The bulk discount for a line of `quantity` units (0 when below every tier)."""
    for threshold, rate in BULK_TIERS:
        if quantity > threshold:
            return rate
    return Decimal("0")


def line_total_cents(unit_cents: int, quantity: int) -> int:
    if quantity < 0:
        raise PricingError("negative quantity")
    if unit_cents < 0:
        raise PricingError("negative unit price")
    gross = Decimal(unit_cents) * quantity
    rate = bulk_discount_rate(quantity)
    net = gross * (Decimal(1) - rate)
    return int(net.quantize(Decimal("1"), rounding=ROUND_HALF_EVEN))


def apply_coupon(subtotal_cents: int, coupon: Coupon | None, used_codes: set[str]) -> int:
    """Returns the discount in cents that `coupon` gives on `subtotal_cents`.

    Raises PricingError when the coupon was already used or the subtotal is too small.
    """
    if coupon is None:
        return 0
    if coupon.single_use and coupon.code in used_codes:
        raise PricingError(f"coupon {coupon.code} was already used")
    if subtotal_cents < coupon.min_subtotal_cents:
        raise PricingError(
            f"coupon {coupon.code} needs a subtotal of {format_cents(coupon.min_subtotal_cents)}"
        )
    pct = Decimal(subtotal_cents) * coupon.percent_off / 100
    discount = int(pct.quantize(Decimal("1"), rounding=ROUND_HALF_EVEN)) + coupon.amount_off_cents
    return min(discount, subtotal_cents)


def tax_cents(net_cents: int, region: str) -> int:
    rate = TAX_RATES.get(region)
    if rate is None:
        raise PricingError(f"no tax rate for region {region}")
    return int((Decimal(net_cents) * rate).quantize(Decimal("1"), rounding=ROUND_HALF_EVEN))


def split_evenly(total_cents: int, parts: int) -> list[int]:
    """Splits an amount into `parts` shares that differ by at most one cent and sum to it."""
    # TODO: implement. Raise PricingError when parts < 1. The first (total % parts) shares get
    # the extra cent; negative totals are split the same way (every share negative).
    raise NotImplementedError


def shipping_cents(weight_grams: int, region: str, express: bool = False) -> int:
    if weight_grams <= 0:
        raise PricingError("weight must be positive")
    base = 490 if region.startswith("US") else 390
    per_kg = 120 if region.startswith("US") else 95
    kg = math.ceil(weight_grams / 1000)
    cost = base + per_kg * max(0, kg - 1)
    if express:
        cost = cost * 2 + 300
    return cost


def price_order(lines: Sequence[tuple[int, int]], region: str, coupon: Coupon | None = None,
                used_codes: Iterable[str] = (), weight_grams: int = 0,
                express: bool = False) -> dict[str, int]:
    """Prices an order of (unit_cents, quantity) lines; returns every component in cents."""
    subtotal = sum(line_total_cents(u, q) for u, q in lines)
    discount = apply_coupon(subtotal, coupon, set(used_codes))
    net = subtotal - discount
    tax = tax_cents(net, region)
    ship = shipping_cents(weight_grams, region, express) if weight_grams else 0
    return {
        "subtotal": subtotal,
        "discount": discount,
        "net": net,
        "tax": tax,
        "shipping": ship,
        "total": net + tax + ship,
    }


def average_unit_price(lines: Sequence[tuple[int, int]]) -> Decimal:
    units = sum(q for _, q in lines)
    total = sum(u * q for u, q in lines)
    return Decimal(total) / units


def price_history_stats(prices: Sequence[int]) -> dict[str, float]:
    """Min, max, mean and the population standard deviation of a price series (cents)."""
    if not prices:
        raise PricingError("empty price history")
    n = len(prices)
    mean = sum(prices) / n
    var = sum((p - mean) ** 2 for p in prices) / n
    return {"min": min(prices), "max": max(prices), "mean": mean, "stdev": math.sqrt(var)}


def margin_pct(cost_cents: int, price_cents: int) -> float:
    if price_cents <= 0:
        raise PricingError("price must be positive")
    return round((price_cents - cost_cents) * 100 / price_cents, 2)


def repricing_candidates(items, target_margin: float = 30.0):
    """Items whose margin is below `target_margin`, with the price that would reach it."""
    out = []
    for item in items:
        m = margin_pct(item["cost_cents"], item["price_cents"])
        if m < target_margin:
            needed = math.ceil(item["cost_cents"] / (1 - target_margin / 100))
            out.append({"sku": item["sku"], "margin": m, "suggested_cents": needed})
    out.sort(key=lambda r: r["margin"])
    return out
