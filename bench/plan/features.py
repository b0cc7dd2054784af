"""The multi-step features of bench/plan, on bench/workload/project.

FEATURES: eight features of 3-4 steps, each step one function doing its real share of the
goal, in the file's own style. A step is

  {"action": "fix" | "refactor" | "implement" | "docs",
   "path": the file,
   "anchor": text of the step's line (the first line holding it is the step's LINE),
   "instruction": the plan's words for this step (what is specific to it, no code),
   "subs": [(old, new), ...]  applied in order to the scope's text (`frugal context
                              PATH:LINE --action ACTION`); each `old` occurs exactly once,
   "append": None, or a new function placed right after the scope (the step is then an
             `implement` whose LINE is inside the existing function it follows, and the
             scope itself stays as it is)}

The features run one after another on the same copy of the project, so a later feature sees
an earlier one's edits (every anchor is looked up again when its feature starts). None needs
a type or a header changed: the helpers they add are static (C), module-level (Python, Go) or
methods, and the new parameters are passed by the callers the same feature edits.

MINIMAL: the first version's features, one line added at the top of a function's body per
step (calls to helpers that do not exist), kept for comparison (`run.py --minimal`).
"""

STEP_ACTIONS = ("fix", "refactor", "implement", "docs")


def S(action, path, anchor, instruction, subs=(), append=None):
    assert action in STEP_ACTIONS, action
    assert bool(subs) != (append is not None), (path, anchor)
    assert append is None or action == "implement", (path, anchor)
    return {"action": action, "path": path, "anchor": anchor, "instruction": instruction,
            "subs": list(subs), "append": append}


# ---- 1. C: tracing the report's output buffer -------------------------------------------------

FLUSH_RING = """/* Writes everything buffered in rb to out. With trace set, reports the flush there: how
 * many bytes of the buffer's capacity were held, and why it was flushed. */
static void flush_ring(ringbuf *rb, FILE *out, FILE *trace, const char *why)
{
  size_t held = ringbuf_len(rb);
  char block[4096];
  size_t got;
  while ((got = ringbuf_read(rb, block, sizeof(block))) > 0) {
    fwrite(block, 1, got, out);
  }
  if (trace) {
    fprintf(trace, "report: flushed %zu of %zu bytes (%s)\\n", held, rb->cap, why);
  }
}
"""

F1 = {
    "goal": "Trace the report's output buffering: with REPORT_TRACE set in the environment, "
            "every flush of print_report's ring buffer is reported on stderr (bytes held, "
            "capacity, why), so slow output can be told apart from a slow export.",
    "steps": [
        S("implement", "src/report.c", "static stock_summary summarize(",
          "Write static void flush_ring(ringbuf *rb, FILE *out, FILE *trace, const char *why) "
          "after summarize: copy everything buffered in rb to out in 4 KiB blocks, then, when "
          "trace is not NULL, print one line on it with the bytes held before the flush, the "
          "buffer's capacity and why.",
          append=FLUSH_RING),
        S("fix", "src/report.c", "static int print_report(",
          "print_report: take a last parameter FILE *trace (NULL: no tracing) and replace both "
          "copy loops with flush_ring: the one when a line does not fit (why \"full\") and the "
          "final one after the summary line (why \"end\").",
          subs=[("static int print_report(FILE *out, const stock_table *t, const stock_summary "
                 "*s, long low_stock)\n",
                 "static int print_report(FILE *out, const stock_table *t, const stock_summary "
                 "*s, long low_stock,\n                        FILE *trace)\n"),
                ("""    if (ringbuf_space(&rb) < (size_t)n) {
      char block[4096];
      size_t got;
      while ((got = ringbuf_read(&rb, block, sizeof(block))) > 0) {
        fwrite(block, 1, got, out);
      }
    }
""", """    if (ringbuf_space(&rb) < (size_t)n) {
      flush_ring(&rb, out, trace, "full");
    }
"""),
                ("""  char block[4096];
  size_t got;
  while ((got = ringbuf_read(&rb, block, sizeof(block))) > 0) {
    fwrite(block, 1, got, out);
  }
  ringbuf_free(&rb);
""", """  flush_ring(&rb, out, trace, "end");
  ringbuf_free(&rb);
""")]),
        S("fix", "src/report.c", "int main(int argc",
          "main: trace to stderr when the REPORT_TRACE environment variable is set (else NULL), "
          "print the number of rows loaded and the low-stock threshold there before the "
          "report, and pass the stream to print_report.",
          subs=[("  rc = print_report(stdout, &t, &s, low_stock);\n",
                 """  FILE *trace = getenv("REPORT_TRACE") ? stderr : NULL;
  if (trace) {
    fprintf(trace, "report: %zu rows loaded, low stock at %ld\\n", t.n, low_stock);
  }
  rc = print_report(stdout, &t, &s, low_stock, trace);
""")]),
    ]}

# ---- 2. C: skip bad rows instead of failing the report ---------------------------------------

SKIP_BAD_ROW = """/* Reports a row that could not be parsed and counts it in *skipped. Returns 0 to go on with
 * the next row, or -1 at the 100th bad row (the input is then not a usable export). */
static int skip_bad_row(const csv_reader *r, csv_status ps, size_t *skipped)
{
  enum { MAX_BAD_ROWS = 100 };
  fprintf(stderr, "report: line %ld: %s (row skipped)\\n", r->line, csv_status_str(ps));
  if (++*skipped >= MAX_BAD_ROWS) {
    fprintf(stderr, "report: %zu bad rows, giving up\\n", *skipped);
    return -1;
  }
  return 0;
}
"""

F2 = {
    "goal": "A bad row no longer stops the report: load_table reports it with its line and "
            "the reason and goes on, gives up after 100 bad rows, names the line of a record "
            "the reader cannot parse, and main says how many rows were skipped.",
    "steps": [
        S("implement", "src/report.c", "static int table_push(",
          "Write static int skip_bad_row(const csv_reader *r, csv_status ps, size_t *skipped) "
          "after table_push: print \"line N: reason (row skipped)\" on stderr with "
          "csv_status_str, count the row, and return -1 with a final message at the 100th bad "
          "row, else 0.",
          append=SKIP_BAD_ROW),
        S("fix", "src/report.c", "static int load_table(",
          "load_table: add a size_t *skipped parameter; a row csv_parse_stock_row refuses goes "
          "to skip_bad_row and the loop continues, stopping with -1 only when it says so. When "
          "csv_next ends with an error, print its line and status before returning -1. Update "
          "the comment.",
          subs=[("""/* Loads every row of the export; prints the first bad line and returns -1 on error. */
static int load_table(FILE *in, stock_table *t)
""", """/* Loads every row of the export. A row that does not parse is reported and skipped (counted
 * in *skipped); returns -1 on a read or parse error of the file, when memory runs out, or
 * after 100 bad rows. */
static int load_table(FILE *in, stock_table *t, size_t *skipped)
"""),
                ("""    if (ps != CSV_OK) {
      fprintf(stderr, "report: line %ld: %s\\n", r.line, csv_status_str(ps));
      csv_close(&r);
      return -1;
    }
""", """    if (ps != CSV_OK) {
      if (skip_bad_row(&r, ps, skipped) != 0) {
        csv_close(&r);
        return -1;
      }
      continue;
    }
"""),
                ("""  csv_close(&r);
  return s == CSV_EOF ? 0 : -1;
""", """  if (s != CSV_EOF) {
    fprintf(stderr, "report: line %ld: %s\\n", r.line, csv_status_str(s));
  }
  csv_close(&r);
  return s == CSV_EOF ? 0 : -1;
""")]),
        S("fix", "src/report.c", "int main(int argc",
          "main: pass load_table a skipped-row counter starting at 0, and after a successful "
          "load print the number of rows skipped on stderr when there were any; the exit "
          "status stays as it is.",
          subs=[("""  int rc = load_table(in, &t);
""", """  size_t skipped = 0;
  int rc = load_table(in, &t, &skipped);
"""),
                ("""    return 1;
  }
  sort_rows(&t);
""", """    return 1;
  }
  if (skipped > 0) {
    fprintf(stderr, "report: bad rows skipped: %zu\\n", skipped);
  }
  sort_rows(&t);
""")]),
    ]}

# ---- 3. C: blank lines in an export are not records -------------------------------------------

SKIP_BLANK_LINES = """/* Skips empty lines (LF, CRLF or a lone CR) before a record, counting them in r->line. */
static void skip_blank_lines(csv_reader *r)
{
  int c;
  while ((c = fgetc(r->in)) == '\\n' || c == '\\r') {
    if (c == '\\r') {
      int n = fgetc(r->in);
      if (n != '\\n' && n != EOF) {
        ungetc(n, r->in);
      }
    }
    r->line++;
  }
  if (c != EOF) {
    ungetc(c, r->in);
  }
}
"""

F3 = {
    "goal": "Blank lines in a stock export are not records: the CSV reader skips empty lines "
            "(LF, CRLF or CR) before a record and at the end of the file, keeps the line "
            "numbers of later records right, and csv_count_records no longer counts them.",
    "steps": [
        S("implement", "src/csv.c", "static csv_status end_field(",
          "Write static void skip_blank_lines(csv_reader *r) after end_field: read and drop "
          "line ends (LF, CRLF or a lone CR), adding 1 to r->line for each, and push the first "
          "other byte back with ungetc; EOF ends it.",
          append=SKIP_BLANK_LINES),
        S("fix", "src/csv.c", "csv_status csv_next(csv_reader *r)",
          "csv_next: call skip_blank_lines right after the line counter is advanced for the "
          "new record, so an empty line is neither a record of one empty field nor counted "
          "as the record's line; say so in its comment.",
          subs=[("/* Reads the next record. Fields stay valid until the next call. */\n",
                 "/* Reads the next record, skipping blank lines before it. Fields stay valid "
                 "until the next\n * call. */\n"),
                ("  r->line++;\n  int c;\n", "  r->line++;\n  skip_blank_lines(r);\n  int c;\n")]),
        S("docs", "src/csv.c", "long csv_count_records(",
          "csv_count_records: document that blank lines are not counted and that the result "
          "is -1 when the reader cannot be opened or a record does not parse.",
          subs=[("/* Counts the records left in the stream without keeping them (used for "
                 "progress bars). */\n",
                 "/* Counts the records left in the stream without keeping them (used for "
                 "progress bars);\n * blank lines are not records. Returns -1 when the reader "
                 "cannot be opened or a record\n * does not parse. */\n")]),
    ]}

# ---- 4. Python: an audit trail for order state changes ----------------------------------------

AUDIT = '''    def _audit(self, order: Order, action: str, operator: str, detail: str = "") -> None:
        """Logs who changed an order and how, for the audit trail the log collector keeps."""
        log.info("audit: order %s %s by %s%s", order.id, action, operator,
                 f" ({detail})" if detail else "")
'''

F4 = {
    "goal": "An audit trail for order state changes: reserve, cancel and ship take the "
            "operator who asks for them and, once the change is done, log the order, the "
            "action, the operator and the details through the module logger.",
    "steps": [
        S("implement", "stock/orders.py", "    def _transition(",
          "Write OrderService._audit(self, order, action, operator, detail=\"\") after "
          "_transition: one log.info line \"audit: order ID ACTION by OPERATOR\" followed by "
          "the detail in parentheses when there is one; it returns None.",
          append=AUDIT),
        S("fix", "stock/orders.py", "    def reserve(self, order_id",
          "reserve: add a parameter operator: str = \"system\" and, after the transition to "
          "RESERVED, audit action \"reserve\" with the number of lines reserved as detail. "
          "Nothing is logged when a line cannot be reserved.",
          subs=[("    def reserve(self, order_id: str) -> None:\n",
                 "    def reserve(self, order_id: str, operator: str = \"system\") -> None:\n"),
                ("        self._transition(order, Status.RESERVED)\n",
                 "        self._transition(order, Status.RESERVED)\n"
                 "        self._audit(order, \"reserve\", operator, f\"lines: {len(done)}\")\n")]),
        S("fix", "stock/orders.py", "    def cancel(self, order_id",
          "cancel: add operator: str = \"system\" after reason; remember whether the order "
          "was reserved (its stock is released) and after the transition audit \"cancel\" "
          "with the reason, plus \"; stock released\" in that case.",
          subs=[("    def cancel(self, order_id: str, reason: str) -> None:\n"
                 "        order = self.get(order_id)\n"
                 "        if order.status == Status.RESERVED:\n",
                 "    def cancel(self, order_id: str, reason: str, operator: str = \"system\") "
                 "-> None:\n"
                 "        order = self.get(order_id)\n"
                 "        released = order.status == Status.RESERVED\n"
                 "        if released:\n"),
                ("        self._transition(order, Status.CANCELLED, reason)\n",
                 "        self._transition(order, Status.CANCELLED, reason)\n"
                 "        self._audit(order, \"cancel\", operator,\n"
                 "                    f\"{reason}; stock released\" if released else reason)\n")]),
        S("fix", "stock/orders.py", "    def ship(self, order_id",
          "ship: add a last parameter operator: str = \"system\" and audit \"ship\" with the "
          "carrier and tracking number once the stock has been taken, just before the result "
          "is returned.",
          subs=[("    def ship(self, order_id: str, carrier: str, tracking: str) -> dict:\n",
                 "    def ship(self, order_id: str, carrier: str, tracking: str,\n"
                 "             operator: str = \"system\") -> dict:\n"),
                ("        return {\"order\": order.id,",
                 "        self._audit(order, \"ship\", operator, f\"{carrier} {tracking}\")\n"
                 "        return {\"order\": order.id,")]),
    ]}

# ---- 5. Python: unknown regions are an error everywhere in pricing ----------------------------

CHECK_REGION = '''def check_region(region: str) -> None:
    """Raises PricingError unless `region` is one we have a tax rate for (where we ship)."""
    if region not in TAX_RATES:
        known = ", ".join(sorted(TAX_RATES))
        raise PricingError(f"unknown region {region!r} (known: {known})")
'''

F5 = {
    "goal": "Unknown regions are an error everywhere in pricing: tax_cents, shipping_cents and "
            "price_order refuse a region without a tax rate with one PricingError that names "
            "it and the known regions, instead of pricing US-style or failing late.",
    "steps": [
        S("implement", "stock/pricing.py", "def apply_coupon(",
          "Write check_region(region: str) -> None after apply_coupon: raise PricingError "
          "\"unknown region 'XX' (known: DE, FR, ...)\" when region is not a key of TAX_RATES, "
          "listing the known regions sorted; return None otherwise.",
          append=CHECK_REGION),
        S("fix", "stock/pricing.py", "def tax_cents(",
          "tax_cents: call check_region first and then index TAX_RATES directly, instead of "
          "the get() with its own error message; the rounding stays as it is.",
          subs=[("""    rate = TAX_RATES.get(region)
    if rate is None:
        raise PricingError(f"no tax rate for region {region}")
""", """    check_region(region)
    rate = TAX_RATES[region]
""")]),
        S("fix", "stock/pricing.py", "def shipping_cents(",
          "shipping_cents: after the weight check, call check_region so an unknown region "
          "is refused instead of priced as non-US; compute region.startswith(\"US\") once "
          "for base and per_kg.",
          subs=[("""        raise PricingError("weight must be positive")
    base = 490 if region.startswith("US") else 390
    per_kg = 120 if region.startswith("US") else 95
""", """        raise PricingError("weight must be positive")
    check_region(region)
    us = region.startswith("US")
    base = 490 if us else 390
    per_kg = 120 if us else 95
""")]),
        S("fix", "stock/pricing.py", "def price_order(",
          "price_order: call check_region before pricing any line, so an unknown region is "
          "the error reported even when the coupon or the lines are wrong too; say so in the "
          "docstring.",
          subs=[('''    """Prices an order of (unit_cents, quantity) lines; returns every component in cents."""
''', '''    """Prices an order of (unit_cents, quantity) lines; returns every component in cents.

    Raises PricingError for an unknown region before anything else is checked.
    """
    check_region(region)
''')]),
    ]}

# ---- 6. Python: shipping charged at checkout --------------------------------------------------

F6 = {
    "goal": "Charge shipping at checkout: OrderService.quote and place take the parcel weight "
            "and an express flag and pass them on to price_order, which refuses express "
            "shipping without a weight instead of silently charging nothing.",
    "steps": [
        S("fix", "stock/pricing.py", "def price_order(",
          "price_order: when express is true and weight_grams is 0, raise a PricingError "
          "saying express shipping needs the parcel weight, just before the shipping is "
          "computed; without express, no weight still means no shipping.",
          subs=[("    ship = shipping_cents(weight_grams, region, express) if weight_grams else 0\n",
                 "    if express and not weight_grams:\n"
                 "        raise PricingError(\"express shipping needs the parcel weight\")\n"
                 "    ship = shipping_cents(weight_grams, region, express) if weight_grams else 0\n")]),
        S("fix", "stock/orders.py", "    def quote(self, order_id",
          "OrderService.quote: add weight_grams: int = 0 and express: bool = False and pass "
          "them to price_order by keyword; a PricingError still becomes an OrderError. Give it "
          "a one-line docstring saying shipping is included when a weight is given.",
          subs=[("""    def quote(self, order_id: str) -> dict[str, int]:
        order = self.get(order_id)
""", """    def quote(self, order_id: str, weight_grams: int = 0,
              express: bool = False) -> dict[str, int]:
        \"\"\"Prices the order; with a parcel weight the shipping is in the total.\"\"\"
        order = self.get(order_id)
"""),
                ("""                               self.used_coupons[order.customer_id])
""", """                               self.used_coupons[order.customer_id],
                               weight_grams=weight_grams, express=express)
""")]),
        S("fix", "stock/orders.py", "    def place(self, order_id",
          "OrderService.place: take the same weight_grams: int = 0 and express: bool = False "
          "and pass them to quote, so the totals it returns include the shipping charged.",
          subs=[("    def place(self, order_id: str) -> dict[str, int]:\n",
                 "    def place(self, order_id: str, weight_grams: int = 0,\n"
                 "              express: bool = False) -> dict[str, int]:\n"),
                ("        totals = self.quote(order_id)\n",
                 "        totals = self.quote(order_id, weight_grams, express)\n")]),
    ]}

# ---- 7. Go: filters for the low-stock endpoint ------------------------------------------------

QUERY_INT = """// queryInt reads the non-negative integer query parameter name, or def when it is absent.
func queryInt(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a non-negative integer", name)
	}
	return n, nil
}
"""

F7 = {
    "goal": "Filters for the stock service's low-stock endpoint: GET /low takes warehouse= "
            "and limit= besides threshold=, Store.LowStock can keep one warehouse, and one "
            "helper parses and checks the integer query parameters.",
    "steps": [
        S("implement", "svc/inventory.go", "func writeError(",
          "Write func queryInt(r *http.Request, name string, def int) (int, error) after "
          "writeError: def when the parameter is absent, the value when it is a non-negative "
          "integer, else an error \"NAME must be a non-negative integer\".",
          append=QUERY_INT),
        S("fix", "svc/inventory.go", "func (s *Store) LowStock(",
          "Store.LowStock: add a warehouse string parameter after threshold; a non-empty "
          "warehouse keeps only that warehouse's levels, \"\" keeps all. The order (lowest "
          "quantity first, then SKU) stays; update the doc comment.",
          subs=[("""// LowStock lists levels at or below threshold, lowest first.
func (s *Store) LowStock(threshold int) []Level {
""", """// LowStock lists levels at or below threshold, lowest first; a non-empty warehouse keeps
// only that warehouse's levels.
func (s *Store) LowStock(threshold int, warehouse string) []Level {
"""),
                ("""		for _, lvl := range byWh {
			if lvl.Quantity <= threshold {
""", """		for wh, lvl := range byWh {
			if lvl.Quantity <= threshold && (warehouse == "" || wh == warehouse) {
""")]),
        S("fix", "svc/inventory.go", "func (h *Handler) getLow(",
          "Handler.getLow: read threshold (default 5) and limit (default 0: no limit) with "
          "queryInt, answering 400 with the helper's message on a bad value, pass the "
          "warehouse parameter to LowStock and cut the list to limit entries.",
          subs=[("""	threshold := 5
	if t := r.URL.Query().Get("threshold"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "threshold must be a non-negative integer")
			return
		}
		threshold = n
	}
	writeJSON(w, http.StatusOK, h.Store.LowStock(threshold))
""", """	threshold, err := queryInt(r, "threshold", 5)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit, err := queryInt(r, "limit", 0)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	levels := h.Store.LowStock(threshold, r.URL.Query().Get("warehouse"))
	if limit > 0 && len(levels) > limit {
		levels = levels[:limit]
	}
	writeJSON(w, http.StatusOK, levels)
""")]),
    ]}

# ---- 8. JavaScript: quantity checks in the web cart -------------------------------------------

CHECKED_QUANTITY = """  // A quantity given by code or typed by the user: a whole number from 1 to 9999.
  // Throws a CartError naming the rejected input.
  checkedQuantity(input) {
    const quantity = typeof input === 'number' ? input : parseQuantity(input);
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > 9999) {
      throw new CartError(`invalid quantity ${JSON.stringify(String(input))}`);
    }
    return quantity;
  }
"""

F8 = {
    "goal": "Validate quantities in the web cart: add and setQuantity accept only whole "
            "numbers from 1 to 9999 (an empty input or 0 still removes a line) and throw a "
            "CartError naming the rejected input, and the cart view marks a refused input.",
    "steps": [
        S("implement", "web/cart.js", "  subscribe(fn) {",
          "Write the Cart method checkedQuantity(input) after subscribe: a number must be an "
          "integer, text goes through parseQuantity; return the quantity when it is 1-9999, "
          "else throw a CartError \"invalid quantity\" quoting the input.",
          append=CHECKED_QUANTITY),
        S("fix", "web/cart.js", "  add(sku, quantity = 1) {",
          "Cart.add: check quantity with checkedQuantity after the unknown-product check and "
          "use the checked value for the stock comparison and the new line, so 0, -2 or 1.5 "
          "are refused before the cart changes.",
          subs=[("    const wanted = (existing ? existing.quantity : 0) + quantity;\n",
                 "    const count = this.checkedQuantity(quantity);\n"
                 "    const wanted = (existing ? existing.quantity : 0) + count;\n"),
                ("      this.lines.push({ sku, quantity });\n",
                 "      this.lines.push({ sku, quantity: count });\n")]),
        S("fix", "web/cart.js", "  setQuantity(sku, input) {",
          "Cart.setQuantity: an input that is empty or \"0\" after trimming removes the line "
          "as before; any other input goes through checkedQuantity (which throws for bad "
          "input) and is capped at the stock. Add a comment saying so.",
          subs=[("  setQuantity(sku, input) {\n    const quantity = parseQuantity(input);\n",
                 "  // An empty input or 0 removes the line; anything else must be a valid "
                 "quantity.\n  setQuantity(sku, input) {\n"),
                ("    if (quantity === null) {\n",
                 "    const text = String(input).trim();\n    if (text === '' || text === '0') {\n"),
                ("      line.quantity = Math.min(quantity, this.catalog[sku].stock);\n",
                 "      line.quantity = Math.min(this.checkedQuantity(text), "
                 "this.catalog[sku].stock);\n")]),
        S("fix", "web/cart.js", "function bindCart(",
          "bindCart: in the debounced input handler, catch a CartError from setQuantity, "
          "mark the input aria-invalid with the error message as its title and keep what was "
          "typed; rethrow any other error.",
          subs=[("""    cart.setQuantity(row.dataset.sku, ev.target.value);
""", """    try {
      cart.setQuantity(row.dataset.sku, ev.target.value);
    } catch (e) {
      if (!(e instanceof CartError)) {
        throw e;
      }
      // keep what was typed and say why it was refused; a valid input re-renders the cart
      ev.target.setAttribute('aria-invalid', 'true');
      ev.target.title = e.message;
    }
""")]),
    ]}

FEATURES = [F1, F2, F3, F4, F5, F6, F7, F8]


# ---- the first version: one line at the top of a function's body ------------------------------

def M(path, anchor, add):
    return {"action": "fix", "path": path, "anchor": anchor, "add": add,
            "instruction": None, "subs": None, "append": None}


MINIMAL = [
    {"goal": "Trace every ring buffer transfer: writes, reads and growth report their sizes "
             "through trace_event(name, bytes) so a stall can be found from the trace.",
     "steps": [M("src/ringbuf.c", "size_t ringbuf_write(", '  trace_event("ringbuf_write", n);'),
               M("src/ringbuf.c", "size_t ringbuf_read(", '  trace_event("ringbuf_read", n);'),
               M("src/ringbuf.c", "int ringbuf_grow(", '  trace_event("ringbuf_grow", min_cap);')]},
    {"goal": "Count CSV parse errors: every rejected record or row increments the reader's "
             "error counter, and the report's loader stops after 100 errors.",
     "steps": [M("src/csv.c", "csv_status csv_next(", "  r->errors_seen += r->pending_error;"),
               M("src/csv.c", "csv_status csv_parse_stock_row(", "  r_errors_checked(r);"),
               M("src/report.c", "static int load_table(", "  long error_budget = 100;")]},
    {"goal": "Low-stock warnings in the report: summarize counts rows under the threshold, "
             "print_report prints a warning line per such row, main takes --warn-only.",
     "steps": [M("src/report.c", "static stock_summary summarize(", "  long warn_rows = 0;"),
               M("src/report.c", "static int print_report(", "  int warned = 0;"),
               M("src/report.c", "int main(", "  int warn_only = 0;")]},
    {"goal": "An audit log for order state changes: reserve, cancel and ship each log the "
             "order id and the operator through the module logger before they change "
             "anything.",
     "steps": [M("stock/orders.py", "    def reserve(self, order_id", 'log.info("reserve %s", order_id)'),
               M("stock/orders.py", "    def cancel(self, order_id",
                 'log.info("cancel %s: %s", order_id, reason)'),
               M("stock/orders.py", "    def ship(self, order_id",
                 'log.info("ship %s via %s", order_id, carrier)')]},
    {"goal": "Unknown regions are an error everywhere in pricing: tax_cents, shipping_cents "
             "and price_order raise ValueError naming the region instead of falling back to "
             "a default.",
     "steps": [M("stock/pricing.py", "def tax_cents(", "_check_region(region)"),
               M("stock/pricing.py", "def shipping_cents(", "_check_region(region)"),
               M("stock/pricing.py", "def price_order(", "_check_region(region)")]},
    {"goal": "Revenue figures exclude cancelled orders and report margins: daily_revenue and "
             "top_skus skip cancelled orders, margin_pct refuses a zero price.",
     "steps": [M("stock/orders.py", "    def daily_revenue(", "skip = {Status.CANCELLED}"),
               M("stock/orders.py", "    def top_skus(", "skip = {Status.CANCELLED}"),
               M("stock/pricing.py", "def margin_pct(", "_require_positive(price_cents)")]},
    {"goal": "Metrics for the stock service: Apply, Transfer and LowStock count their calls "
             "and failures in the store's metrics map, exposed later by the handler.",
     "steps": [M("svc/inventory.go", "func (s *Store) Apply(", '\ts.count("apply")'),
               M("svc/inventory.go", "func (s *Store) Transfer(", '\ts.count("transfer")'),
               M("svc/inventory.go", "func (s *Store) LowStock(", '\ts.count("low_stock")'),
               M("svc/inventory.go", "func (h *Handler) postMovement(",
                 '\th.store.count("http_post")')]},
    {"goal": "Validate quantities in the web cart: add and setQuantity reject non-integer or "
             "negative quantities with a RangeError, and renderCart shows the rejected input.",
     "steps": [M("web/cart.js", "  add(sku, quantity = 1) {", "    assertQuantity(quantity);"),
               M("web/cart.js", "  setQuantity(sku, input) {", "    assertQuantity(Number(input));"),
               M("web/cart.js", "function renderCart(", "  const rejected = cart.rejectedInput || '';"),
               M("web/format.js", "function formatCents(", "  assertFinite(cents);")]},
]


def minimal_subs(scope, add):
    """The one-line step as a sub: everything up to the line opening the body, then `add` (a
    Python body line gets the body's indentation)."""
    lines = scope.split("\n")
    py = lines[0].lstrip().startswith("def ")
    for i, l in enumerate(lines):
        if (py and l.rstrip().endswith(":")) or (not py and l.rstrip().endswith("{")):
            if py:
                add = " " * (len(lines[0]) - len(lines[0].lstrip()) + 4) + add
            head = "\n".join(lines[:i + 1]) + "\n"
            return [(head, head + add + "\n")]
    raise RuntimeError("no body in %r" % lines[0])


def edited_scope(step, scope, sep):
    """The scope's text after the step: the subs applied in order, then the new function after
    it, `sep` (the blank lines that follow the scope in the file) between them."""
    subs = step["subs"] if step.get("add") is None else minimal_subs(scope, step["add"])
    out = scope
    for old, new in subs:
        assert out.count(old) == 1, ("%s: %r occurs %d times in the scope"
                                     % (step["path"], old[:60], out.count(old)))
        out = out.replace(old, new)
    if step["append"]:
        out = out + sep + step["append"]
    return out, subs
