// Formatting helpers shared by the cart, the checkout page and the order history.
'use strict';

const CURRENCY_SYMBOLS = { EUR: '€', USD: '$', GBP: '£' };

function formatCents(cents, currency = 'EUR', locale = 'de-DE') {
  if (!Number.isInteger(cents)) {
    throw new TypeError(`cents must be an integer, got ${cents}`);
  }
  const value = cents / 100;
  return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(value);
}

function shortCurrency(cents, currency = 'EUR') {
  const sym = CURRENCY_SYMBOLS[currency] || currency + ' ';
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  if (abs >= 100000000) {
    return `${sign}${sym}${(abs / 100000000).toFixed(1)}M`;
  }
  if (abs >= 100000) {
    return `${sign}${sym}${(abs / 100000).toFixed(1)}k`;
  }
  return `${sign}${sym}${(abs / 100).toFixed(2)}`;
}

function pluralize(n, singular, plural) {
  return `${n} ${n === 1 ? singular : plural || singular + 's'}`;
}

function relativeTime(date, now = new Date()) {
  const seconds = Math.round((now.getTime() - date.getTime()) / 1000);
  if (seconds < 45) {
    return 'just now';
  }
  const minutes = Math.round(seconds / 60);
  if (minutes < 45) {
    return `${pluralize(minutes, 'minute')} ago`;
  }
  const hours = Math.round(minutes / 60);
  if (hours < 22) {
    return `${pluralize(hours, 'hour')} ago`;
  }
  const days = Math.round(hours / 24);
  if (days < 26) {
    return `${pluralize(days, 'day')} ago`;
  }
  return date.toISOString().slice(0, 10);
}

function truncate(text, max, ellipsis = '…') {
  if (text.length <= max) {
    return text;
  }
  const cut = text.slice(0, max - ellipsis.length);
  const space = cut.lastIndexOf(' ');
  return (space > max / 2 ? cut.slice(0, space) : cut) + ellipsis;
}

function escapeHtml(s) {
  return String(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

// Formats a SKU for display: upper case, grouped in blocks of four ("ABCD-1234-XY").
function formatSku(sku) {
  // TODO: implement. Strip spaces and dashes, upper-case, then join blocks of 4 characters
  // with '-'. Throw a TypeError for anything that is not a string or is empty after cleaning.
  return sku;
}

function parseQuantity(input) {
  const trimmed = String(input).trim();
  if (!/^\d+$/.test(trimmed)) {
    return null;
  }
  const n = parseInt(trimmed, 10);
  return n > 0 && n <= 9999 ? n : null;
}

function addressLines(addr) {
  const lines = [addr.name];
  if (addr.company) lines.push(addr.company);
  lines.push(addr.street);
  if (addr.street2) lines.push(addr.street2);
  lines.push(`${addr.postcode} ${addr.city}`);
  if (addr.country && addr.country !== 'DE') lines.push(addr.country);
  return lines;
}

function statusBadge(status) {
  const map = {
    draft: ['Draft', 'grey'],
    placed: ['Placed', 'blue'],
    reserved: ['Reserved', 'amber'],
    shipped: ['Shipped', 'green'],
    cancelled: ['Cancelled', 'red'],
  };
  const [label, colour] = map[status] || ['Unknown', 'grey'];
  return `<span class="badge badge-${colour}">${escapeHtml(label)}</span>`;
}

module.exports = {
  formatCents,
  shortCurrency,
  pluralize,
  relativeTime,
  truncate,
  escapeHtml,
  formatSku,
  parseQuantity,
  addressLines,
  statusBadge,
};
