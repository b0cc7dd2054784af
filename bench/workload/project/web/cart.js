// The shopping cart: state kept in localStorage, totals computed client-side for display only
// (the server prices the order again at checkout).
'use strict';

const { formatCents, escapeHtml, parseQuantity, pluralize } = require('./format');

const STORAGE_KEY = 'stockroom.cart.v2';
const MAX_LINES = 50;

class CartError extends Error {}

class Cart {
  constructor(storage, catalog) {
    this.storage = storage;
    this.catalog = catalog; // sku -> { name, unitCents, stock }
    this.lines = [];
    this.coupon = null;
    this.listeners = new Set();
    this.load();
  }

  load() {
    const raw = this.storage.getItem(STORAGE_KEY);
    if (!raw) {
      return;
    }
    try {
      const data = JSON.parse(raw);
      this.lines = (data.lines || []).filter((l) => this.catalog[l.sku]);
      this.coupon = data.coupon || null;
    } catch (e) {
      this.storage.removeItem(STORAGE_KEY);
    }
  }

  save() {
    this.storage.setItem(STORAGE_KEY, JSON.stringify({ lines: this.lines, coupon: this.coupon }));
    for (const fn of this.listeners) {
      fn(this);
    }
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  add(sku, quantity = 1) {
    const item = this.catalog[sku];
    if (!item) {
      throw new CartError(`unknown product ${sku}`);
    }
    const existing = this.lines.find((l) => l.sku === sku);
    const wanted = (existing ? existing.quantity : 0) + quantity;
    if (wanted > item.stock) {
      throw new CartError(`only ${pluralize(item.stock, 'unit')} of ${item.name} in stock`);
    }
    if (existing) {
      existing.quantity = wanted;
    } else {
      if (this.lines.length >= MAX_LINES) {
        throw new CartError('the cart is full');
      }
      this.lines.push({ sku, quantity });
    }
    this.save();
  }

  setQuantity(sku, input) {
    const quantity = parseQuantity(input);
    const line = this.lines.find((l) => l.sku === sku);
    if (!line) {
      throw new CartError(`${sku} is not in the cart`);
    }
    if (quantity === null) {
      this.lines = this.lines.filter((l) => l.sku !== sku);
    } else {
      line.quantity = Math.min(quantity, this.catalog[sku].stock);
    }
    this.save();
  }

  remove(sku) {
    this.lines = this.lines.filter((l) => l.sku !== sku);
    this.save();
  }

  clear() {
    this.lines = [];
    this.coupon = null;
    this.save();
  }

  subtotalCents() {
    let total = 0;
    for (const line of this.lines) {
      total += this.catalog[line.sku].unitCents * line.quantity;
    }
    return total;
  }

  discountCents() {
    if (!this.coupon) {
      return 0;
    }
    const subtotal = this.subtotalCents();
    if (subtotal < (this.coupon.minSubtotalCents || 0)) {
      return 0;
    }
    const pct = Math.round((subtotal * (this.coupon.percentOff || 0)) / 100);
    return Math.min(subtotal, pct + (this.coupon.amountOffCents || 0));
  }

  totalCents() {
    return this.subtotalCents() - this.discountCents();
  }

  itemCount() {
    return this.lines.reduce((n, l) => n + l.quantity, 0);
  }

  // Applies a coupon fetched from the server; rejects expired ones.
  async applyCoupon(code, fetchCoupon) {
    const coupon = await fetchCoupon(code.trim().toUpperCase());
    if (!coupon) {
      throw new CartError(`coupon ${code} does not exist`);
    }
    if (coupon.expiresAt && new Date(coupon.expiresAt) < new Date()) {
      throw new CartError(`coupon ${code} has expired`);
    }
    this.coupon = coupon;
    this.save();
    return this.discountCents();
  }

  // Lines whose quantity is above the current stock (stock changes while the cart is kept).
  staleLines() {
    return this.lines.filter((l) => l.quantity > this.catalog[l.sku].stock);
  }

  // Merges a cart saved on another device: quantities add up, capped at the stock.
  mergeFrom(other) {
    for (const line of other.lines) {
      const item = this.catalog[line.sku];
      if (!item) continue;
      const existing = this.lines.find((l) => l.sku === line.sku);
      if (existing) {
        existing.quantity = Math.min(item.stock, existing.quantity + line.quantity);
      } else if (this.lines.length < MAX_LINES) {
        this.lines.push({ sku: line.sku, quantity: Math.min(item.stock, line.quantity) });
      }
    }
    this.save();
  }

  // One-line summary for the header badge: "3 items · 42,50 €", or "Cart empty".
  summaryText(currency = 'EUR') {
    // TODO: implement with itemCount(), totalCents() and formatCents(); use pluralize for
    // "1 item" / "N items".
    return '';
  }

  toCheckoutPayload(customerId, region) {
    return {
      customer_id: customerId,
      region,
      coupon: this.coupon ? this.coupon.code : null,
      lines: this.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
    };
  }
}

function renderCart(cart, currency = 'EUR') {
  if (cart.lines.length === 0) {
    return '<p class="cart-empty">Your cart is empty.</p>';
  }
  const rows = cart.lines.map((line) => {
    const item = cart.catalog[line.sku];
    const lineTotal = item.unitCents * line.quantity;
    return (
      `<tr data-sku="${escapeHtml(line.sku)}">` +
      `<td>${escapeHtml(item.name)}</td>` +
      `<td><input class="qty" value="${line.quantity}" size="3"></td>` +
      `<td class="num">${formatCents(item.unitCents, currency)}</td>` +
      `<td class="num">${formatCents(lineTotal, currency)}</td>` +
      '</tr>'
    );
  });
  const discount = cart.discountCents();
  return [
    '<table class="cart">',
    '<thead><tr><th>Product</th><th>Qty</th><th>Price</th><th>Total</th></tr></thead>',
    `<tbody>${rows.join('')}</tbody>`,
    '<tfoot>',
    `<tr><td colspan="3">Subtotal</td><td class="num">${formatCents(cart.subtotalCents(), currency)}</td></tr>`,
    discount ? `<tr><td colspan="3">Discount</td><td class="num">-${formatCents(discount, currency)}</td></tr>` : '',
    `<tr><td colspan="3">Total</td><td class="num">${formatCents(cart.totalCents(), currency)}</td></tr>`,
    '</tfoot>',
    '</table>',
  ].join('\n');
}

// Groups cart lines by warehouse for the "ships in N parcels" hint.
function parcels(cart, warehouses) {
  const groups = {};
  for (const line of cart.lines) {
    for (const wh of warehouses) {
      if (wh.skus.indexOf(line.sku) !== -1) {
        groups[wh.id] = groups[wh.id] || [];
        groups[wh.id].push(line);
        break;
      }
    }
  }
  return Object.keys(groups).map((id) => ({ warehouse: id, lines: groups[id] }));
}

// Debounced save for quantity inputs typed quickly.
function debounce(fn, ms) {
  let timer = null;
  return function (...args) {
    clearTimeout(timer);
    timer = setTimeout(() => fn.apply(this, args), ms);
  };
}

function bindCart(root, cart) {
  const onInput = debounce((ev) => {
    const row = ev.target.closest('tr');
    cart.setQuantity(row.dataset.sku, ev.target.value);
  }, 250);
  root.addEventListener('input', (ev) => {
    if (ev.target.classList.contains('qty')) onInput(ev);
  });
  cart.subscribe(() => {
    root.innerHTML = renderCart(cart);
  });
  root.innerHTML = renderCart(cart);
}

module.exports = { Cart, CartError, renderCart, parcels, debounce, bindCart, STORAGE_KEY };
