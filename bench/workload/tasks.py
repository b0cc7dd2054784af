"""The 50 tasks of the mixed workload, in the order a developer would do them over a few days on
the stockroom project (bench/workload/project): 40 Mini-class single-step tasks and 10
Full-class tasks (see README.md for why this mix).

Each task names the file, the line to put the cursor on (`at`: the first line containing that
text; `at2` ends a selection), the words after `:Frugal`, an optional editor diagnostic, and
the model's answer. Answers are built from the code the host will send (the scope that
`frugal context` reports), so an edit's fenced block really is the function with the change:
  ("sub", [(old, new), ...])   the scope with these replacements (fix, refactor, implement)
  ("doc", text)                the scope with this documentation comment added (docs)
  ("tests", lang, code)        one fenced block of tests
  ("review", [(offset, severity, message), ...])  "LINE: [severity] message" lines; LINE is
                               the scope's first line + offset
  ("words", n, code)           n words of prose (the server's generator), then optionally a
                               fenced block (optimize's replacements)
"""

MINI, FULL = "mini", "full"


def T(cls, action, file, at, cmd, answer, at2=None, diag=None):
    return {"cls": cls, "action": action, "file": file, "at": at, "at2": at2, "cmd": cmd,
            "answer": answer, "diag": diag}


RINGBUF_READ_LINE = """  long nl = ringbuf_find(rb, '\\n');
  if (nl < 0 || dstlen == 0) {
    if (dstlen > 0) {
      dst[0] = '\\0';
    }
    return 0;
  }
  size_t line_len = (size_t)nl;
  size_t keep = line_len < dstlen - 1 ? line_len : dstlen - 1;
  ringbuf_read(rb, dst, keep);
  dst[keep] = '\\0';
  /* drop what did not fit, then the newline itself */
  ringbuf_skip(rb, line_len - keep + 1);
  return keep;
"""

CSV_TRIM = """  size_t changed = 0;
  for (size_t i = 0; i < r->nfields; i++) {
    char *f = r->fields[i];
    size_t len = strlen(f);
    size_t start = 0;
    while (start < len && (f[start] == ' ' || f[start] == '\\t')) {
      start++;
    }
    size_t end = len;
    while (end > start && (f[end - 1] == ' ' || f[end - 1] == '\\t')) {
      end--;
    }
    if (start == 0 && end == len) {
      continue;
    }
    memmove(f, f + start, end - start);
    f[end - start] = '\\0';
    changed++;
  }
  return changed;
"""

SPLIT_EVENLY = """    if parts < 1:
        raise PricingError(f"cannot split into {parts} parts")
    sign = -1 if total_cents < 0 else 1
    base, extra = divmod(abs(total_cents), parts)
    return [sign * (base + (1 if i < extra else 0)) for i in range(parts)]
"""

MERGE_DRAFTS = """        drafts = [o for o in self.orders_for_customer(customer_id, Status.DRAFT)]
        if not drafts:
            return None
        kept, others = drafts[0], drafts[1:]
        by_sku = {line.sku: line for line in kept.lines}
        for order in others:
            for line in order.lines:
                if line.sku in by_sku:
                    by_sku[line.sku].quantity += line.quantity
                else:
                    moved = OrderLine(line.sku, line.quantity, line.unit_cents)
                    kept.lines.append(moved)
                    by_sku[line.sku] = moved
            del self.orders[order.id]
        if others:
            kept.updated_at = dt.datetime.now(dt.timezone.utc)
            log.info("order %s: merged %d drafts", kept.id, len(others))
        return kept
"""

FORMAT_SKU = """  if (typeof sku !== 'string') {
    throw new TypeError(`sku must be a string, got ${typeof sku}`);
  }
  const clean = sku.replace(/[\\s-]+/g, '').toUpperCase();
  if (clean === '') {
    throw new TypeError('sku is empty');
  }
  const blocks = clean.match(/.{1,4}/g);
  return blocks.join('-');
"""

SUMMARY_TEXT = """    const count = this.itemCount();
    if (count === 0) {
      return 'Cart empty';
    }
    return `${pluralize(count, 'item')} · ${formatCents(this.totalCents(), currency)}`;
"""

VELOCITY = """	if days <= 0 {
		return 0
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	since := s.now().Add(-time.Duration(days) * 24 * time.Hour)
	shipped := 0
	for _, m := range s.journal {
		if m.SKU != sku || m.Delta >= 0 || m.At.Before(since) {
			continue
		}
		if strings.HasPrefix(m.Reason, "ship") {
			shipped += -m.Delta
		}
	}
	return float64(shipped) / float64(days)
"""

SORT_ROWS_OLD = """  for (size_t i = 1; i < t->n; i++) {
    stock_row key = t->rows[i];
    size_t j = i;
    while (j > 0) {
      const stock_row *p = &t->rows[j - 1];
      int c = strcmp(p->location, key.location);
      if (c < 0 || (c == 0 && strcmp(p->sku, key.sku) <= 0)) {
        break;
      }
      t->rows[j] = t->rows[j - 1];
      j--;
    }
    t->rows[j] = key;
  }"""
SORT_ROWS_NEW = """  qsort(t->rows, t->n, sizeof(t->rows[0]), compare_rows);"""
SORT_ROWS_CMP = """static int compare_rows(const void *a, const void *b)
{
  const stock_row *x = a, *y = b;
  int c = strcmp(x->location, y->location);
  return c != 0 ? c : strcmp(x->sku, y->sku);
}

/* Sorts the rows by location, then by SKU, for the printed report. */"""

PY_TESTS_LINE_TOTAL = '''from stock.pricing import line_total_cents


def test_line_total_without_bulk_discount():
    assert line_total_cents(250, 4) == 1000


def test_line_total_at_twenty_units_gets_no_discount_yet():
    assert line_total_cents(100, 20) == 2000


def test_line_total_above_twenty_units_gets_three_percent():
    assert line_total_cents(100, 21) == 2037


def test_line_total_above_fifty_units_gets_six_percent():
    assert line_total_cents(1000, 51) == 47940


def test_line_total_above_hundred_units_gets_ten_percent():
    assert line_total_cents(199, 101) == 18091


def test_line_total_of_zero_units_is_zero():
    assert line_total_cents(999, 0) == 0


def test_line_total_rejects_negative_quantity():
    with pytest.raises(PricingError, match="negative quantity"):
        line_total_cents(100, -1)


def test_line_total_rejects_negative_price():
    with pytest.raises(PricingError, match="negative unit price"):
        line_total_cents(-1, 3)
'''

C_TESTS_GROW = '''static void grow_keeps_unread_bytes_in_order(void **state)
{
  (void)state;
  ringbuf rb;
  assert_int_equal(ringbuf_init(&rb, 64), 0);
  uint8_t fill[60];
  for (size_t i = 0; i < sizeof(fill); i++) {
    fill[i] = (uint8_t)i;
  }
  assert_int_equal(ringbuf_write(&rb, fill, 40), 40);
  uint8_t skip[30];
  assert_int_equal(ringbuf_read(&rb, skip, 30), 30);
  assert_int_equal(ringbuf_write(&rb, fill, 50), 50); /* wraps around */
  assert_int_equal(ringbuf_grow(&rb, 200), 0);
  assert_int_equal(rb.cap, 256);
  assert_int_equal(ringbuf_len(&rb), 60);
  uint8_t out[60];
  assert_int_equal(ringbuf_read(&rb, out, 60), 60);
  assert_memory_equal(out, fill + 30, 10);
  assert_memory_equal(out + 10, fill, 50);
  ringbuf_free(&rb);
}

static void grow_to_a_smaller_capacity_does_nothing(void **state)
{
  (void)state;
  ringbuf rb;
  assert_int_equal(ringbuf_init(&rb, 128), 0);
  uint8_t *before = rb.data;
  assert_int_equal(ringbuf_grow(&rb, 100), 0);
  assert_ptr_equal(rb.data, before);
  assert_int_equal(rb.cap, 128);
  ringbuf_free(&rb);
}

static void grow_beyond_the_maximum_is_refused(void **state)
{
  (void)state;
  ringbuf rb;
  assert_int_equal(ringbuf_init(&rb, 64), 0);
  assert_int_equal(ringbuf_grow(&rb, ((size_t)1 << 30) + 1), -EINVAL);
  assert_int_equal(rb.cap, 64);
  ringbuf_free(&rb);
}
'''

JS_TESTS_TRUNCATE = '''describe('truncate at word boundaries', () => {
  test('returns text that fits unchanged', () => {
    expect(truncate('twelve chars', 12)).toBe('twelve chars');
  });

  test('cuts at the last space when it is past the middle', () => {
    expect(truncate('the quick brown fox jumps', 16)).toBe('the quick brown…');
  });

  test('cuts inside a word when the last space is too early', () => {
    expect(truncate('a verylongwordwithoutspaces', 10)).toBe('a verylon…');
  });

  test('uses a custom ellipsis and counts its length', () => {
    expect(truncate('the quick brown fox', 12, '...')).toBe('the quick...');
  });

  test('handles an empty string', () => {
    expect(truncate('', 5)).toBe('');
  });
});
'''

GO_TESTS_TRANSFER = '''func TestTransferMovesStockBetweenWarehouses(t *testing.T) {
	s := NewStore(0)
	if _, err := s.Apply(Movement{SKU: "B2", Warehouse: "W1", Delta: 10}); err != nil {
		t.Fatal(err)
	}
	if err := s.Transfer("B2", "W1", "W2", 4, "ana"); err != nil {
		t.Fatal(err)
	}
	from, _ := s.Get("B2", "W1")
	to, _ := s.Get("B2", "W2")
	if from.Quantity != 6 || to.Quantity != 4 {
		t.Fatalf("W1=%d W2=%d, want 6 and 4", from.Quantity, to.Quantity)
	}
	if h := s.History("B2", time.Time{}); len(h) != 3 {
		t.Fatalf("journal has %d entries, want 3", len(h))
	}
}

func TestTransferRefusesNonPositiveQuantity(t *testing.T) {
	s := NewStore(0)
	for _, q := range []int{0, -3} {
		if err := s.Transfer("B2", "W1", "W2", q, "ana"); err == nil {
			t.Fatalf("Transfer(%d) succeeded", q)
		}
	}
}

func TestTransferRefusesMoreThanAvailable(t *testing.T) {
	s := NewStore(0)
	s.Apply(Movement{SKU: "B2", Warehouse: "W1", Delta: 2})
	err := s.Transfer("B2", "W1", "W2", 3, "ana")
	if !errors.Is(err, ErrInsufficient) {
		t.Fatalf("got %v, want ErrInsufficient", err)
	}
	if got := s.Total("B2"); got != 2 {
		t.Fatalf("Total = %d, want 2", got)
	}
}

func TestTransferHonoursTheDeltaLimit(t *testing.T) {
	s := NewStore(5)
	s.Apply(Movement{SKU: "B2", Warehouse: "W1", Delta: 5})
	if err := s.Transfer("B2", "W1", "W2", 6, "ana"); err == nil {
		t.Fatal("a transfer above the limit succeeded")
	}
}
'''

PY_TESTS_ADD_LINE = '''import pytest

from stock.orders import ConflictError, Inventory, NotFoundError, OrderError, OrderService


@pytest.fixture
def service():
    return OrderService(Inventory(), {"A-1": 1250, "B-2": 399})


def test_add_line_creates_a_line_with_the_catalog_price(service):
    order = service.create("c1", "DE")
    line = service.add_line(order.id, "A-1", 2)
    assert (line.sku, line.quantity, line.unit_cents) == ("A-1", 2, 1250)
    assert order.lines == [line]


def test_add_line_adds_to_an_existing_line_of_the_same_sku(service):
    order = service.create("c1", "DE")
    service.add_line(order.id, "B-2", 1)
    line = service.add_line(order.id, "B-2", 3)
    assert line.quantity == 4
    assert len(order.lines) == 1


@pytest.mark.parametrize("qty", [0, -1])
def test_add_line_rejects_non_positive_quantities(service, qty):
    order = service.create("c1", "DE")
    with pytest.raises(OrderError, match="quantity must be positive"):
        service.add_line(order.id, "A-1", qty)


def test_add_line_rejects_unknown_skus(service):
    order = service.create("c1", "DE")
    with pytest.raises(NotFoundError, match="unknown sku Z-9"):
        service.add_line(order.id, "Z-9", 1)


def test_add_line_rejects_unknown_orders(service):
    with pytest.raises(NotFoundError):
        service.add_line("missing", "A-1", 1)


def test_add_line_refuses_orders_that_are_no_longer_drafts(service):
    order = service.create("c1", "DE")
    service.add_line(order.id, "A-1", 1)
    service.place(order.id)
    with pytest.raises(ConflictError, match="not a draft"):
        service.add_line(order.id, "A-1", 1)
'''

C_TESTS_WRITE_FIELD = '''#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../src/csv.h"

/* Runs csv_write_field into a memory stream and returns what it wrote (caller frees). */
static char *written(const char *field, char delim, int *rc)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  assert_non_null(out);
  *rc = csv_write_field(out, field, delim);
  fclose(out);
  return buf;
}

static void plain_fields_are_written_as_they_are(void **state)
{
  (void)state;
  int rc;
  char *s = written("widget 42", ',', &rc);
  assert_int_equal(rc, 0);
  assert_string_equal(s, "widget 42");
  free(s);
}

static void a_field_with_the_delimiter_is_quoted(void **state)
{
  (void)state;
  int rc;
  char *s = written("a,b", ',', &rc);
  assert_string_equal(s, "\\"a,b\\"");
  free(s);
}

static void quotes_inside_a_field_are_doubled(void **state)
{
  (void)state;
  int rc;
  char *s = written("12\\" pipe", ',', &rc);
  assert_string_equal(s, "\\"12\\"\\" pipe\\"");
  free(s);
}

static void line_breaks_force_quoting(void **state)
{
  (void)state;
  int rc;
  char *s = written("two\\nlines", ';', &rc);
  assert_string_equal(s, "\\"two\\nlines\\"");
  free(s);
}

static void another_delimiter_leaves_commas_unquoted(void **state)
{
  (void)state;
  int rc;
  char *s = written("a,b", ';', &rc);
  assert_string_equal(s, "a,b");
  free(s);
}

static void an_empty_field_writes_nothing(void **state)
{
  (void)state;
  int rc;
  char *s = written("", ',', &rc);
  assert_int_equal(rc, 0);
  assert_string_equal(s, "");
  free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(plain_fields_are_written_as_they_are),
    cmocka_unit_test(a_field_with_the_delimiter_is_quoted),
    cmocka_unit_test(quotes_inside_a_field_are_doubled),
    cmocka_unit_test(line_breaks_force_quoting),
    cmocka_unit_test(another_delimiter_leaves_commas_unquoted),
    cmocka_unit_test(an_empty_field_writes_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
'''

OPT_DUPLICATES = """static int compare_sku_ptr(const void *a, const void *b)
{
  const stock_row *const *x = a, *const *y = b;
  return strcmp((*x)->sku, (*y)->sku);
}

/* Counts rows whose SKU appeared on an earlier row. */
static size_t count_duplicates(const stock_table *t)
{
  if (t->n < 2) {
    return 0;
  }
  const stock_row **byid = malloc(t->n * sizeof(*byid));
  if (!byid) {
    return 0;
  }
  for (size_t i = 0; i < t->n; i++) {
    byid[i] = &t->rows[i];
  }
  qsort(byid, t->n, sizeof(*byid), compare_sku_ptr);
  size_t dups = 0;
  for (size_t i = 1; i < t->n; i++) {
    if (strcmp(byid[i]->sku, byid[i - 1]->sku) == 0) {
      dups++;
    }
  }
  free(byid);
  return dups;
}
"""

OPT_SNAPSHOT = """	sort.Slice(out, func(i, j int) bool {
		if out[i].SKU != out[j].SKU {
			return out[i].SKU < out[j].SKU
		}
		return out[i].Warehouse < out[j].Warehouse
	})
	return out
"""

OPT_RESTOCK = """    def restock_report(self, threshold: int = 5) -> list[dict]:
        pending: dict[str, int] = defaultdict(int)
        for order in self.orders.values():
            if order.status in (Status.DRAFT, Status.PLACED):
                for line in order.lines:
                    pending[line.sku] += line.quantity
        report = []
        for sku in self.catalog:
            avail = self.inventory.available(sku)
            if avail <= threshold:
                report.append({"sku": sku, "available": avail, "pending": pending[sku],
                               "order_qty": max(0, pending[sku] - avail + threshold * 2)})
        return sorted(report, key=lambda r: r["available"])
"""

REVIEW_ALL_ORDERS = """stock/orders.py:163: [error] ship() releases the reservation, then takes line.quantity from every warehouse instead of the remainder, so stock is removed several times for one line: track the units still to take
stock/orders.py:138: [warning] place() records the coupon as used only after the transition; if quote() succeeds and the transition fails the coupon stays reusable, and two concurrent place() calls can both use a single-use coupon
stock/pricing.py:63: [error] bulk_discount_rate uses quantity > threshold, so exactly 20, 50 and 100 units miss their tier although the catalogue promises "from 20 units": use >=
stock/orders.py:147: [warning] quote() passes the customer's used codes, so quoting an already placed order raises "coupon was already used" for its own coupon: exclude the order's own code
stock/pricing.py:124: [warning] average_unit_price divides by the unit count without a guard; an order whose lines were all removed raises decimal.DivisionByZero
stock/orders.py:222: [error] export_json calls isoformat() on updated_at, which is None until the first transition
stock/orders.py:206: [warning] daily_revenue re-prices every order through quote(), which applies today's coupon state instead of the totals charged at placement: store the totals on the order
stock/pricing.py:93: [info] apply_coupon computes percent_off on the subtotal before amount_off_cents; say so in the docstring, the cart in web/cart.js does the same and must stay in step
stock/orders.py:250: [warning] load_orders drops updated_at, history and coupon, so a round trip through export_json loses the coupon and the next quote charges more
stock/pricing.py:152: [info] repricing_candidates raises PricingError for an item with price 0 instead of reporting it as a candidate
stock/orders.py:231: [info] restock_report scans every order for every low SKU: O(skus x orders x lines); build the pending counts once
stock/orders.py:97: [info] create() never validates the region, so the tax error surfaces only at place(): check it against TAX_RATES up front
"""

REVIEW_ALL_REPORT = """src/report.c:143: [error] snprintf's result is used as the byte count for ringbuf_write; a truncated line makes n larger than the buffer and ringbuf_write copies past the end of line
src/ringbuf.c:118: [error] ringbuf_find loops while i <= len and reads one byte beyond the unread data
src/csv.c:44: [warning] put() rebases fields[] after realloc, but start_field() for the field being started stores the old pointer if the realloc happens on its first byte
src/report.c:62: [warning] load_table reports the header's missing column by index, not by name; print the column name so users can fix the export
src/csv.c:220: [warning] csv_parse_stock_row returns CSV_ERR_TOO_MANY for a field that is too long and CSV_ERR_QUOTE for a bad number, so report.c prints misleading messages: add CSV_ERR_VALUE
src/report.c:84: [warning] count_duplicates is O(n^2) on the number of rows; exports have 200k rows in production
src/ringbuf.c:160: [info] ringbuf_grow doubles by rounding up min_cap but report.c never grows its buffer; the flush-when-full logic in print_report duplicates what a growing buffer would do
src/report.c:176: [warning] strtol without an end pointer accepts "5x" and negative thresholds silently
src/csv.c:262: [info] parse_price accepts exponents and "inf"; reject non-finite prices
src/report.c:155: [info] fwrite results are ignored; ferror is only checked at the end, after the ring buffer was freed
"""


TASKS = [
    # ---- day 1: the C report tool ----------------------------------------------------------
    T(MINI, "explain", "src/csv.c", "csv_status csv_next(csv_reader *r)", "explain",
      ("words", 230, None)),
    T(MINI, "implement", "src/ringbuf.c", "size_t ringbuf_read_line(", "implement",
      ("sub", [("""  /* TODO: find the newline with ringbuf_find, copy at most dstlen - 1 bytes, skip the rest of
   * the line and the newline itself, and always NUL-terminate dst. */
  (void)rb;
  (void)dst;
  (void)dstlen;
  return 0;
""", RINGBUF_READ_LINE)])),
    T(MINI, "fix", "src/ringbuf.c", "for (size_t i = 0; i <= len; i++)", "fix",
      ("sub", [("i <= len", "i < len")]),
      diag={"message": "Array access (via field 'data') results in a read of unread data "
                       "one past the end: the loop bound 'i <= len' includes index len",
            "source": "clang-analyzer-core", "severity": 2}),
    T(MINI, "tests", "src/ringbuf.c", "int ringbuf_grow(ringbuf *rb", "tests",
      ("tests", "c", C_TESTS_GROW)),
    T(FULL, "design", "src/report.c", "static int load_table(", "design a streaming mode for "
      "report.c that handles exports larger than memory: read rows in batches through csv.c, "
      "keep only low-stock rows and per-location totals, and keep the printed output identical "
      "file=src/csv.c file=src/ringbuf.c",
      ("words", 950, None)),
    T(MINI, "refactor", "src/report.c", "static void sort_rows(stock_table *t)",
      "refactor use qsort with a named comparator instead of the insertion sort",
      ("sub", [(SORT_ROWS_OLD, SORT_ROWS_NEW),
               ("/* Sorts the rows by location, then by SKU, for the printed report. */",
                SORT_ROWS_CMP)])),
    T(MINI, "implement", "src/csv.c", "size_t csv_trim_fields(csv_reader *r)", "implement",
      ("sub", [("  /* TODO */\n  (void)r;\n  return 0;\n", CSV_TRIM)])),
    T(MINI, "review", "src/csv.c", "#include \"csv.h\"", "review",
      ("review", [(38, "warning", "put() moves the field pointers only for fields already "
                              "started; a realloc during the first byte of a field leaves "
                              "fields[nfields-1] dangling: rebase after start_field too"),
                  (83, "error", "a record that ends in a bare \\r followed by EOF is returned "
                            "as CSV_OK but the next call returns CSV_EOF only if no byte "
                            "was pushed back: check the ungetc result"),
                  (129, "warning", "r->line is incremented for every \\n inside a quoted field "
                               "but the start line of the record is then lost: keep a "
                               "separate start_line"),
                  (210, "warning", "cols[4] may be -1 (no location column); the cast to size_t "
                               "relies on csv_field's bounds check: test cols[4] >= 0 "
                               "explicitly"),
                  (231, "info", "parse_price accepts \"1e3\" and \"inf\"; reject exponents and "
                            "non-finite values for prices"),
                  (290, "info", "csv_count_records returns -1 for a parse error and for "
                            "out-of-memory alike; return the status so callers can tell "
                            "them apart")]),
      at2="long csv_count_records"),
    T(MINI, "fix", "src/report.c", "static int print_report(", "fix",
      ("sub", [("""    int n = snprintf(line, sizeof(line), "  %-12s %-40.40s %6ld  $%9.2f\\n", r->sku, r->name,
                     r->quantity, r->unit_price);
""", """    int n = snprintf(line, sizeof(line), "  %-12s %-40.40s %6ld  $%9.2f\\n", r->sku, r->name,
                     r->quantity, r->unit_price);
    if (n < 0) {
      continue;
    }
    if ((size_t)n >= sizeof(line)) {
      n = (int)sizeof(line) - 1; /* truncated: write what snprintf stored */
    }
""")]),
      diag={"message": "'snprintf' output may be truncated before the last format character; "
                       "the returned length is then used as the number of bytes to write",
            "source": "gcc -Wformat-truncation", "severity": 2, "at": "%-40.40s"}),
    T(MINI, "docs", "src/csv.c", "csv_status csv_open(csv_reader *r, FILE *in, char delim)", "docs",
      ("doc", """/**
 * @brief Prepares a reader for the CSV stream @p in.
 *
 * The reader does not take ownership of @p in: the caller closes it after csv_close().
 *
 * @param r      The reader to initialise; any previous state is discarded.
 * @param in     The stream to read records from, opened for reading.
 * @param delim  The field delimiter, or '\\0' for a comma.
 * @return CSV_OK, or CSV_ERR_NOMEM when the record buffer cannot be allocated (the reader
 *         must then not be used, but csv_close() on it is safe).
 */""")),
    T(FULL, "optimize", "src/report.c", "static size_t count_duplicates(",
      "optimize file=src/csv.c", ("words", 420, ("c", OPT_DUPLICATES))),
    T(MINI, "tests", "src/csv.c", "int csv_write_field(FILE *out", "tests",
      ("tests", "c", C_TESTS_WRITE_FIELD)),
    T(FULL, "refactor", "src/report.c", "static int load_table(",
      "refactor move the header column lookup into csv.c as csv_stock_columns(reader, cols) "
      "returning the index of the first missing column or -1, and call it here "
      "file=src/csv.c file=src/csv.h",
      ("sub", [("""  int cols[5] = {
    csv_header_index(&r, "sku"),      csv_header_index(&r, "name"),
    csv_header_index(&r, "quantity"), csv_header_index(&r, "unit_price"),
    csv_header_index(&r, "location"),
  };
  for (int i = 0; i < 4; i++) {
    if (cols[i] < 0) {
      fprintf(stderr, "report: the header lacks a required column (%d)\\n", i);
      csv_close(&r);
      return -1;
    }
  }
""", """  int cols[5];
  int missing = csv_stock_columns(&r, cols);
  if (missing >= 0) {
    fprintf(stderr, "report: the header lacks a required column (%d)\\n", missing);
    csv_close(&r);
    return -1;
  }
""")])),
    # ---- day 2: pricing and orders (Python) ------------------------------------------------
    T(MINI, "implement", "stock/pricing.py", "def split_evenly(", "implement",
      ("sub", [("""    # TODO: implement. Raise PricingError when parts < 1. The first (total % parts) shares get
    # the extra cent; negative totals are split the same way (every share negative).
    raise NotImplementedError
""", SPLIT_EVENLY)])),
    T(MINI, "ask", "stock/pricing.py", "def bulk_discount_rate(",
      "ask does bulk_discount_rate give the 3% rate for exactly 20 units? Answer yes or no, "
      "then name the line that decides it", ("words", 90, None)),
    T(MINI, "fix", "stock/pricing.py", "def average_unit_price(", "fix",
      ("sub", [("""    units = sum(q for _, q in lines)
""", """    units = sum(q for _, q in lines)
    if units == 0:
        raise PricingError("cannot average the price of an order without units")
""")]),
      diag={"message": "decimal.DivisionByZero: [<class 'decimal.DivisionByZero'>] raised by "
                       "test_pricing.py::test_average_of_empty_order", "source": "pytest",
            "severity": 1, "at": "return Decimal(total) / units"}),
    T(MINI, "tests", "stock/pricing.py", "def line_total_cents(", "tests",
      ("tests", "python", PY_TESTS_LINE_TOTAL)),
    T(MINI, "docs", "stock/pricing.py", "def shipping_cents(", "docs",
      ("doc", '''"""Shipping cost in cents for a parcel of `weight_grams` to `region`.

Args:
    weight_grams: The parcel's weight; every started kilogram after the first costs extra.
    region: A region code such as "DE" or "US-CA"; regions starting with "US" use the US
        rates.
    express: Doubles the cost and adds a 3.00 surcharge.

Returns:
    The cost in cents.

Raises:
    PricingError: If weight_grams is not positive.
"""''')),
    T(MINI, "refactor", "stock/pricing.py", "def repricing_candidates(",
      "refactor replace the loop with a list comprehension over a helper that computes the "
      "suggested price; keep the sort",
      ("sub", [("""    out = []
    for item in items:
        m = margin_pct(item["cost_cents"], item["price_cents"])
        if m < target_margin:
            needed = math.ceil(item["cost_cents"] / (1 - target_margin / 100))
            out.append({"sku": item["sku"], "margin": m, "suggested_cents": needed})
    out.sort(key=lambda r: r["margin"])
    return out
""", """    def suggested(cost_cents):
        return math.ceil(cost_cents / (1 - target_margin / 100))

    margins = ((item, margin_pct(item["cost_cents"], item["price_cents"])) for item in items)
    out = [{"sku": item["sku"], "margin": m, "suggested_cents": suggested(item["cost_cents"])}
           for item, m in margins if m < target_margin]
    out.sort(key=lambda r: r["margin"])
    return out
""")])),
    T(MINI, "explain", "stock/orders.py", "    def ship(self, order_id", "explain",
      ("words", 260, None)),
    T(MINI, "fix", "stock/orders.py", "    def export_json(", "fix",
      ("sub", [('''            "updated_at": order.updated_at.isoformat(),''',
                '''            "updated_at": order.updated_at.isoformat() if order.updated_at else None,''')]),
      diag={"message": 'Item "None" of "datetime | None" has no attribute "isoformat"  '
                       '[union-attr]', "source": "mypy", "severity": 1,
            "at": '"updated_at": order.updated_at.isoformat()'}),
    T(MINI, "implement", "stock/orders.py", "    def merge_drafts(", "implement",
      ("sub", [("""        # TODO: implement. Keep the oldest draft, move the lines of the others into it (adding
        # quantities for the same SKU), delete the merged orders from self.orders, and return
        # the kept order. Return None when the customer has no draft.
        raise NotImplementedError
""", MERGE_DRAFTS)])),
    T(MINI, "tests", "stock/orders.py", "    def add_line(", "tests",
      ("tests", "python", PY_TESTS_ADD_LINE)),
    T(FULL, "design", "stock/orders.py", "class OrderService:", "design a returns and refunds "
      "flow: partial returns per order line, restocking to the warehouse the units came from, "
      "refund amounts computed with pricing.py including coupons and tax "
      "file=stock/pricing.py",
      ("words", 1100, None)),
    T(MINI, "refactor", "stock/orders.py", "    def orders_for_customer(",
      "refactor use a list comprehension instead of the nested ifs",
      ("sub", [("""        result = []
        for order in self.orders.values():
            if order.customer_id == customer_id:
                if status is None or order.status == status:
                    result.append(order)
        return sorted(result, key=lambda o: o.created_at)
""", """        result = [o for o in self.orders.values()
                  if o.customer_id == customer_id and (status is None or o.status == status)]
        return sorted(result, key=lambda o: o.created_at)
""")])),
    T(MINI, "review", "stock/orders.py", '"""Orders: creation', "review",
      ("review", [(148, "error", "ship() releases the reservation and then takes each line's "
                                "full quantity from every warehouse: decrement the remaining "
                                "quantity as warehouses are drained"),
                  (222, "error", "export_json calls isoformat() on updated_at, which is None "
                                "until the first transition"),
                  (119, "warning", "place() quotes before the transition but records the "
                                  "coupon after it; a failure between leaves a placed order "
                                  "with a reusable coupon"),
                  (206, "warning", "daily_revenue re-prices every order on each call; cache "
                                  "the placed totals on the order"),
                  (250, "info", "load_orders ignores updated_at and history, so a round trip "
                               "loses them")]),
      at2="    return n"),
    T(FULL, "optimize", "stock/orders.py", "    def restock_report(",
      "optimize file=stock/pricing.py", ("words", 380, ("python", OPT_RESTOCK))),
    T(FULL, "refactor", "stock/orders.py", "    def quote(self, order_id",
      "refactor let pricing.price_order take the used coupon codes per customer directly "
      "and raise OrderError-compatible PricingError subclasses; update quote accordingly "
      "file=stock/pricing.py",
      ("sub", [("""        try:
            return price_order(lines, order.region, order.coupon,
                               self.used_coupons[order.customer_id])
        except PricingError as exc:
            raise OrderError(str(exc)) from exc
""", """        used = self.used_coupons[order.customer_id]
        try:
            return price_order(lines, order.region, order.coupon, used_codes=used)
        except PricingError as exc:
            raise OrderError(str(exc)) from exc
""")])),
    T(FULL, "review-all", "stock/orders.py", "    def place(self", "review-all "
      "file=stock/pricing.py", ("text", REVIEW_ALL_ORDERS)),
    # ---- day 3: the web cart (JavaScript) -------------------------------------------------
    T(MINI, "implement", "web/format.js", "function formatSku(sku)", "implement",
      ("sub", [("""  // TODO: implement. Strip spaces and dashes, upper-case, then join blocks of 4 characters
  // with '-'. Throw a TypeError for anything that is not a string or is empty after cleaning.
  return sku;
""", FORMAT_SKU)])),
    T(MINI, "docs", "web/format.js", "function relativeTime(", "docs",
      ("doc", """/**
 * Describes how long ago `date` was, for order history rows.
 *
 * @param {Date} date - The moment to describe.
 * @param {Date} [now=new Date()] - The reference time.
 * @returns {string} "just now", "N minutes ago", "N hours ago", "N days ago", or the ISO date
 *   (YYYY-MM-DD) for anything 26 days or older.
 */""")),
    T(MINI, "tests", "web/format.js", "function truncate(", "tests",
      ("tests", "javascript", JS_TESTS_TRUNCATE)),
    T(MINI, "fix", "web/cart.js", "  setQuantity(sku, input)", "fix",
      ("sub", [("""      line.quantity = Math.min(quantity, this.catalog[sku].stock);
""", """      const item = this.catalog[sku];
      if (!item) {
        this.lines = this.lines.filter((l) => l.sku !== sku);
      } else {
        line.quantity = Math.min(quantity, item.stock);
      }
""")]),
      diag={"message": "TypeError: Cannot read properties of undefined (reading 'stock') "
                       "(cart.test.js: setQuantity after a catalog refresh)",
            "source": "jest", "severity": 1, "at": "this.catalog[sku].stock);"}),
    T(MINI, "implement", "web/cart.js", "  summaryText(currency", "implement",
      ("sub", [("""    // TODO: implement with itemCount(), totalCents() and formatCents(); use pluralize for
    // "1 item" / "N items".
    return '';
""", SUMMARY_TEXT)])),
    T(MINI, "refactor", "web/cart.js", "  subtotalCents() {",
      "refactor use reduce instead of the for loop",
      ("sub", [("""    let total = 0;
    for (const line of this.lines) {
      total += this.catalog[line.sku].unitCents * line.quantity;
    }
    return total;
""", """    return this.lines.reduce(
      (total, line) => total + this.catalog[line.sku].unitCents * line.quantity, 0);
""")])),
    T(MINI, "explain", "web/cart.js", "function bindCart(", "explain", ("words", 210, None)),
    T(MINI, "review", "web/cart.js", "// The shopping cart", "review",
      ("review", [(30, "warning", "load() swallows a corrupt cart silently; log it so support "
                               "can tell why a cart vanished"),
                  (52, "error", "add() accepts a zero or negative quantity and can store a "
                             "line with quantity <= 0: validate it like setQuantity does"),
                  (128, "warning", "applyCoupon compares expiry with the client clock; the "
                                "server must check again at checkout"),
                  (209, "info", "parcels() uses indexOf in nested loops; build a sku -> "
                             "warehouse map once"),
                  (243, "warning", "bindCart re-renders with innerHTML on every change, which "
                                "drops the focus of the quantity input being typed in")]),
      at2="module.exports"),
    T(FULL, "design", "web/cart.js", "class Cart {", "design server-side cart sync across "
      "devices: conflict resolution when two devices change the same line offline, the API "
      "endpoints and the migration from the localStorage format file=web/format.js",
      ("words", 900, None)),
    T(MINI, "ask", "web/cart.js", "  discountCents() {",
      "ask in discountCents, is the percentage applied before or after amountOffCents, and "
      "does the result ever exceed the subtotal? Answer in 2 sentences", ("words", 70, None)),
    # ---- day 4: the Go stock service -------------------------------------------------------
    T(MINI, "implement", "svc/inventory.go", "func (s *Store) Velocity(", "implement",
      ("sub", [("""	// TODO: implement. Sum the negative deltas whose reason starts with "ship" within the last
	// `days` days (use s.now()), and divide the units by days. Return 0 when days <= 0.
	return 0
""", VELOCITY)])),
    T(MINI, "fix", "svc/inventory.go", "func writeJSON(", "fix",
      ("sub", [("""	json.NewEncoder(w).Encode(v)
""", """	if err := json.NewEncoder(w).Encode(v); err != nil {
		// the status line is already sent: all that is left is to stop writing
		return
	}
""")]),
      diag={"message": "Error return value of `(*encoding/json.Encoder).Encode` is not "
                       "checked", "source": "errcheck", "severity": 2,
            "at": "json.NewEncoder(w).Encode(v)"}),
    T(MINI, "fix", "svc/inventory.go", "func (h *Handler) getLevel(", "fix",
      ("sub", [("""		writeError(w, http.StatusNotFound, "unknown sku or warehouse")
		return
	}
""", """		writeError(w, http.StatusNotFound, "unknown sku or warehouse")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
""")]),
      diag={"message": "error is not checked after the errors.Is branch: lvl is used when "
                       "err != nil", "source": "nilness", "severity": 2,
            "at": "writeJSON(w, http.StatusOK, lvl)"}),
    T(MINI, "tests", "svc/inventory.go", "func (s *Store) Transfer(", "tests",
      ("tests", "go", GO_TESTS_TRANSFER)),
    T(MINI, "refactor", "svc/inventory.go", "func (s *Store) History(",
      "refactor preallocate the result with a capacity guess and skip other SKUs with an early "
      "continue",
      ("sub", [("""	var out []Movement
	for _, m := range s.journal {
		if m.SKU == sku && !m.At.Before(since) {
			out = append(out, m)
		}
	}
	return out
""", """	out := make([]Movement, 0, 16)
	for _, m := range s.journal {
		if m.SKU != sku || m.At.Before(since) {
			continue
		}
		out = append(out, m)
	}
	return out
""")])),
    T(MINI, "review", "svc/inventory.go", "func (s *Store) Apply(", "review",
      ("review", [(6, "warning", "the delta limit is checked before the lock but maxDelta is "
                              "never changed, so this is fine; the negative bound overflows "
                              "for math.MinInt: reject it explicitly"),
                  (25, "error", "a refused movement has already created an empty level and "
                             "map entry for an unknown SKU: create them only on success"),
                  (29, "info", "m.At from the client is trusted; clamp timestamps in the "
                            "future")])),
    T(FULL, "optimize", "svc/inventory.go", "func (s *Store) Snapshot(",
      "optimize file=svc/inventory_test.go", ("words", 300, ("go", OPT_SNAPSHOT))),
    T(FULL, "review-all", "src/report.c", "int main(int argc", "review-all file=src/csv.c "
      "file=src/ringbuf.c", ("text", REVIEW_ALL_REPORT)),
    # ---- day 5: odds and ends --------------------------------------------------------------
    T(MINI, "refactor", "src/csv.c", "int csv_header_index(",
      "refactor use strcasecmp from <strings.h> instead of the hand-written loop",
      ("sub", [("""    const char *a = r->fields[i], *b = name;
    while (*a && *b && tolower((unsigned char)*a) == tolower((unsigned char)*b)) {
      a++;
      b++;
    }
    if (*a == '\\0' && *b == '\\0') {
      return (int)i;
    }
""", """    if (strcasecmp(r->fields[i], name) == 0) {
      return (int)i;
    }
""")])),
    T(MINI, "docs", "stock/orders.py", "    def daily_revenue(", "docs",
      ("doc", '''"""Revenue in cents of the orders created on `day` that were not cancelled.

Each order is priced again with quote(), so coupons and tax are included.

Args:
    day: The calendar day, compared with each order's created_at date in UTC.

Returns:
    The sum of the orders' totals in cents (0 when there are none).

Raises:
    OrderError: If an order cannot be priced (for example an unknown tax region).
"""''')),
    T(MINI, "review", "src/report.c", "static int print_report(", "review",
      ("review", [(18, "warning", "snprintf's return value is used as a length without "
                               "checking for truncation or a negative result"),
                  (22, "info", "the flush loop is duplicated at the end of the function; "
                            "move it into a helper"),
                  (31, "warning", "fwrite's result is ignored; a short write is only noticed "
                               "through ferror at the end")])),
]

assert len(TASKS) == 50, len(TASKS)
assert sum(t["cls"] == MINI for t in TASKS) == 40


# ---- multi-file tasks with edits (bench/workload/multifile.py) ---------------------------------
# refactor-files from the command line: a rename across the files listed (the first is the file
# at the cursor, `line` a line of it); the runner builds the answer from the files themselves.
MULTIFILE_TASKS = [
    {"name": "c: csv_header_index", "files": ["src/csv.c", "src/csv.h", "src/report.c"],
     "line": 175, "old": "csv_header_index", "new": "csv_column_index"},
    {"name": "python: format_cents", "files": ["stock/pricing.py", "tests/test_pricing.py"],
     "line": 51, "old": "format_cents", "new": "format_money"},
    {"name": "javascript: formatCents", "files": ["web/format.js", "web/cart.js"],
     "line": 6, "old": "formatCents", "new": "formatMoney"},
    {"name": "go: Store.Apply", "files": ["svc/inventory.go", "svc/inventory_test.go"],
     "line": 59, "old": "Apply", "new": "ApplyMovement"},
]
