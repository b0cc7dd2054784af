"""Orders: creation, validation, reservation of stock and fulfilment."""
from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from enum import Enum
from typing import Optional

from .pricing import Coupon, PricingError, price_order

log = logging.getLogger(__name__)


class OrderError(Exception):
    pass


class NotFoundError(OrderError):
    pass


class ConflictError(OrderError):
    pass


class Status(str, Enum):
    DRAFT = "draft"
    PLACED = "placed"
    RESERVED = "reserved"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


ALLOWED = {
    Status.DRAFT: {Status.PLACED, Status.CANCELLED},
    Status.PLACED: {Status.RESERVED, Status.CANCELLED},
    Status.RESERVED: {Status.SHIPPED, Status.CANCELLED},
    Status.SHIPPED: set(),
    Status.CANCELLED: set(),
}


@dataclass
class OrderLine:
    sku: str
    quantity: int
    unit_cents: int


@dataclass
class Order:
    id: str
    customer_id: str
    region: str
    lines: list[OrderLine] = field(default_factory=list)
    status: Status = Status.DRAFT
    coupon: Optional[Coupon] = None
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    updated_at: Optional[dt.datetime] = None
    history: list[tuple[str, str]] = field(default_factory=list)

    def total_units(self) -> int:
        return sum(l.quantity for l in self.lines)


class Inventory:
    """In-memory stock levels per SKU and warehouse; the real service wraps a database."""

    def __init__(self):
        self.levels: dict[str, dict[str, int]] = defaultdict(dict)
        self.reserved: dict[str, int] = defaultdict(int)

    def add(self, sku: str, warehouse: str, qty: int) -> None:
        self.levels[sku][warehouse] = self.levels[sku].get(warehouse, 0) + qty

    def available(self, sku: str) -> int:
        return sum(self.levels.get(sku, {}).values()) - self.reserved[sku]

    def reserve(self, sku: str, qty: int) -> None:
        if self.available(sku) < qty:
            raise ConflictError(f"only {self.available(sku)} of {sku} available, {qty} wanted")
        self.reserved[sku] += qty

    def release(self, sku: str, qty: int) -> None:
        self.reserved[sku] = max(0, self.reserved[sku] - qty)


class OrderService:
    def __init__(self, inventory: Inventory, catalog: dict[str, int]):
        self.inventory = inventory
        self.catalog = catalog  # sku -> unit price in cents
        self.orders: dict[str, Order] = {}
        self.used_coupons: dict[str, set[str]] = defaultdict(set)

    def create(self, customer_id: str, region: str) -> Order:
        order = Order(id=str(uuid.uuid4()), customer_id=customer_id, region=region)
        self.orders[order.id] = order
        return order

    def get(self, order_id: str) -> Order:
        try:
            return self.orders[order_id]
        except KeyError:
            raise NotFoundError(order_id) from None

    def add_line(self, order_id: str, sku: str, quantity: int) -> OrderLine:
        order = self.get(order_id)
        if order.status != Status.DRAFT:
            raise ConflictError(f"order {order_id} is {order.status.value}, not a draft")
        if quantity <= 0:
            raise OrderError("quantity must be positive")
        if sku not in self.catalog:
            raise NotFoundError(f"unknown sku {sku}")
        for line in order.lines:
            if line.sku == sku:
                line.quantity += quantity
                return line
        line = OrderLine(sku=sku, quantity=quantity, unit_cents=self.catalog[sku])
        order.lines.append(line)
        return line

    def _transition(self, order: Order, new: Status, note: str = "") -> None:
        if new not in ALLOWED[order.status]:
            raise ConflictError(f"cannot go from {order.status.value} to {new.value}")
        order.history.append((order.status.value, new.value))
        order.status = new
        order.updated_at = dt.datetime.now(dt.timezone.utc)
        log.info("order %s: %s %s", order.id, new.value, note)

    def place(self, order_id: str) -> dict[str, int]:
        order = self.get(order_id)
        if not order.lines:
            raise OrderError("an order needs at least one line")
        totals = self.quote(order_id)
        self._transition(order, Status.PLACED)
        if order.coupon:
            self.used_coupons[order.customer_id].add(order.coupon.code)
        return totals

    def quote(self, order_id: str) -> dict[str, int]:
        order = self.get(order_id)
        lines = [(l.unit_cents, l.quantity) for l in order.lines]
        try:
            return price_order(lines, order.region, order.coupon,
                               self.used_coupons[order.customer_id])
        except PricingError as exc:
            raise OrderError(str(exc)) from exc

    def reserve(self, order_id: str) -> None:
        """Reserves stock for every line, all or nothing."""
        order = self.get(order_id)
        done = []
        try:
            for line in order.lines:
                self.inventory.reserve(line.sku, line.quantity)
                done.append(line)
        except ConflictError:
            for line in done:
                self.inventory.release(line.sku, line.quantity)
            raise
        self._transition(order, Status.RESERVED)

    def cancel(self, order_id: str, reason: str) -> None:
        order = self.get(order_id)
        if order.status == Status.RESERVED:
            for line in order.lines:
                self.inventory.release(line.sku, line.quantity)
        self._transition(order, Status.CANCELLED, reason)

    def ship(self, order_id: str, carrier: str, tracking: str) -> dict:
        order = self.get(order_id)
        self._transition(order, Status.SHIPPED, f"{carrier} {tracking}")
        for line in order.lines:
            self.inventory.release(line.sku, line.quantity)
            for wh, qty in sorted(self.inventory.levels[line.sku].items()):
                take = min(qty, line.quantity)
                self.inventory.levels[line.sku][wh] = qty - take
        return {"order": order.id, "carrier": carrier, "tracking": tracking}

    def orders_for_customer(self, customer_id: str, status: Optional[Status] = None):
        result = []
        for order in self.orders.values():
            if order.customer_id == customer_id:
                if status is None or order.status == status:
                    result.append(order)
        return sorted(result, key=lambda o: o.created_at)

    def merge_drafts(self, customer_id: str) -> Optional[Order]:
        """Merges all draft orders of a customer into the oldest one; returns it or None."""
        # TODO: implement. Keep the oldest draft, move the lines of the others into it (adding
        # quantities for the same SKU), delete the merged orders from self.orders, and return
        # the kept order. Return None when the customer has no draft.
        raise NotImplementedError

    def daily_revenue(self, day: dt.date) -> int:
        total = 0
        for order in self.orders.values():
            if order.status in (Status.PLACED, Status.RESERVED, Status.SHIPPED):
                if order.created_at.date() == day:
                    total += self.quote(order.id)["total"]
        return total

    def top_skus(self, n: int = 10) -> list[tuple[str, int]]:
        counts: dict[str, int] = defaultdict(int)
        for order in self.orders.values():
            if order.status == Status.CANCELLED:
                continue
            for line in order.lines:
                counts[line.sku] += line.quantity
        ranked = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)
        return ranked[:n]

    def export_json(self, order_id: str) -> str:
        order = self.get(order_id)
        return json.dumps({
            "id": order.id,
            "customer": order.customer_id,
            "region": order.region,
            "status": order.status.value,
            "lines": [{"sku": l.sku, "qty": l.quantity, "unit_cents": l.unit_cents}
                      for l in order.lines],
            "created_at": order.created_at.isoformat(),
            "updated_at": order.updated_at.isoformat(),
        })

    def restock_report(self, threshold: int = 5) -> list[dict]:
        report = []
        for sku in self.catalog:
            avail = self.inventory.available(sku)
            if avail <= threshold:
                pending = 0
                for order in self.orders.values():
                    if order.status in (Status.DRAFT, Status.PLACED):
                        for line in order.lines:
                            if line.sku == sku:
                                pending += line.quantity
                report.append({"sku": sku, "available": avail, "pending": pending,
                               "order_qty": max(0, pending - avail + threshold * 2)})
        return sorted(report, key=lambda r: r["available"])


def load_orders(path: str, service: OrderService) -> int:
    """Loads orders exported by export_json (one per line); returns how many were loaded."""
    n = 0
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            raw = raw.strip()
            if not raw:
                continue
            data = json.loads(raw)
            order = Order(id=data["id"], customer_id=data["customer"], region=data["region"],
                          status=Status(data["status"]))
            order.lines = [OrderLine(l["sku"], l["qty"], l["unit_cents"]) for l in data["lines"]]
            order.created_at = dt.datetime.fromisoformat(data["created_at"])
            service.orders[order.id] = order
            n += 1
    return n
