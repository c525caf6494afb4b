// spanscope HTML report: draws the tables and charts from the embedded JSON.
// Hand-written on purpose: no library, no network, and every piece of data
// reaches the DOM through textContent or setAttribute -- never as markup.
(function () {
  "use strict";

  const SVG_NS = "http://www.w3.org/2000/svg";
  const DATA = JSON.parse(document.getElementById("spanscope-data").textContent);
  const LAYER_COLORS = {
    db: "#4e79a7", cache: "#f28e2b", template: "#59a14f", http: "#b07aa1",
    other: "#bab0ac", app: "#76b7b2", server: "#edc948",
  };
  const LAYER_LABELS = {
    db: "Database", cache: "Cache", template: "Templates", http: "Outgoing HTTP",
    other: "Other spans", app: "App (own time)", server: "Request",
  };
  const PERCENTILES = [
    { key: "p50", label: "p50", color: "#4e79a7" },
    { key: "p90", label: "p90", color: "#f28e2b" },
    { key: "p95", label: "p95", color: "#e15759" },
  ];

  // ---- DOM helpers --------------------------------------------------------
  function fill(node, attrs, children) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.setAttribute("class", value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children || []) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const h = (tag, attrs, ...children) => fill(document.createElement(tag), attrs, children);
  const s = (tag, attrs, ...children) => fill(document.createElementNS(SVG_NS, tag), attrs, children);

  // ---- formatting ---------------------------------------------------------
  const intFormat = new Intl.NumberFormat("en-US");
  function fmtMs(v) {
    if (v === null || v === undefined) return "\u2013";
    const a = Math.abs(v);
    if (a >= 10000) return (v / 1000).toFixed(1) + " s";
    if (a >= 1000) return (v / 1000).toFixed(2) + " s";
    if (a >= 100) return v.toFixed(0) + " ms";
    if (a >= 10) return v.toFixed(1) + " ms";
    return v.toFixed(2) + " ms";
  }
  const fmtInt = (v) => (v === null || v === undefined ? "\u2013" : intFormat.format(v));
  function fmtNum(v, digits) {
    if (v === null || v === undefined) return "\u2013";
    return v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  }
  function fmtPct(v) {
    if (v === null || v === undefined) return "\u2013";
    if (v === 0) return "0 %";
    return fmtNum(v * 100, v < 0.1 ? 2 : 1) + " %";
  }
  const pad = (n) => String(n).padStart(2, "0");
  function fmtDate(ms) {
    const d = new Date(ms);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) +
      " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + " UTC";
  }
  function fmtClock(ms, spanMs, intervalS) {
    const d = new Date(ms);
    const hm = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    const time = intervalS < 60 ? hm + ":" + pad(d.getUTCSeconds()) : hm;
    return spanMs > 86400000 ? pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + time : time;
  }
  function fmtInterval(seconds) {
    if (seconds % 86400 === 0) return seconds / 86400 + " d";
    if (seconds % 3600 === 0) return seconds / 3600 + " h";
    if (seconds % 60 === 0) return seconds / 60 + " min";
    return seconds + " s";
  }
  function fmtCode(code) {
    if (!code) return null;
    const where = code.line === null || code.line === undefined ? code.file : code.file + ":" + code.line;
    return code.function ? where + " in " + code.function : where;
  }
  function shorten(text, n) {
    return text.length > n ? text.slice(0, n - 1) + "\u2026" : text;
  }
  function niceTicks(max, count) {
    if (!(max > 0)) max = 1;
    const raw = max / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
    const top = Math.ceil(max / step - 1e-9) * step;
    const ticks = [];
    for (let i = 0; i * step <= top + step / 2; i++) ticks.push(i * step);
    return { top: top, ticks: ticks };
  }

  // ---- page structure -----------------------------------------------------
  const main = document.getElementById("main");
  const toc = document.getElementById("toc");
  function section(id, title, lead) {
    const card = h("section", { class: "card", id: id, "aria-labelledby": id + "-h" },
      h("h2", { id: id + "-h", text: title }),
      lead ? h("p", { class: "lead", text: lead }) : null);
    main.appendChild(card);
    toc.appendChild(h("a", { href: "#" + id, text: title }));
    return card;
  }
  function legend(items) {
    return h("div", { class: "legend" }, ...items.map((item) => {
      const swatch = h("i", { class: item.line ? "line" : null });
      swatch.style.background = item.color;
      return h("span", null, swatch, item.label);
    }));
  }
  function endpointSelect(id, names, onChange) {
    const select = h("select", { id: id });
    for (const name of names) select.appendChild(h("option", { value: name, text: name }));
    select.addEventListener("change", () => onChange(select.value));
    return select;
  }

  // ---- sortable table -----------------------------------------------------
  // columns: {key, label, numeric, value(row) -> sort key, cell(row) -> node|string, cls}
  function sortableTable(id, columns, rows, sortKey, descending) {
    const table = h("table", { id: id });
    const headRow = h("tr");
    const tbody = h("tbody");
    let state = { key: sortKey, desc: descending };
    const indexed = rows.map((row, i) => ({ row: row, i: i }));

    function render() {
      const column = columns.find((c) => c.key === state.key);
      const sign = state.desc ? -1 : 1;
      indexed.sort((a, b) => {
        const va = column.value(a.row);
        const vb = column.value(b.row);
        if (va === vb) return a.i - b.i;
        if (va === null || va === undefined) return 1;
        if (vb === null || vb === undefined) return -1;
        return (va < vb ? -1 : 1) * sign;
      });
      tbody.replaceChildren(...indexed.map(({ row }) => h("tr", null,
        ...columns.map((c) => h("td", { class: c.cls || (c.numeric ? null : "text") }, c.cell(row))))));
      for (const th of headRow.children) {
        th.setAttribute("aria-sort", th.dataset.key === state.key
          ? (state.desc ? "descending" : "ascending") : "none");
      }
    }
    for (const c of columns) {
      const button = h("button", { type: "button", text: c.label, title: c.title || null });
      button.addEventListener("click", () => {
        state = state.key === c.key ? { key: c.key, desc: !state.desc } : { key: c.key, desc: !!c.numeric };
        render();
      });
      const th = h("th", { scope: "col", class: c.numeric ? null : "text", "data-key": c.key }, button);
      headRow.appendChild(th);
    }
    table.appendChild(h("thead", null, headRow));
    table.appendChild(tbody);
    render();
    return h("div", { class: "table-scroll", id: id + "-scroll" }, table);
  }

  // ---- header -------------------------------------------------------------
  function renderHeader() {
    const input = DATA.input;
    const endpointCount = DATA.endpoints.rows.length + DATA.endpoints.omitted;
    const meta = [];
    if (input.first_ms !== null) meta.push(fmtDate(input.first_ms) + " \u2192 " + fmtDate(input.last_ms));
    meta.push(fmtInt(input.spans) + " spans in " + fmtInt(input.traces) + " traces");
    if (input.files) meta.push(fmtInt(input.files) + (input.files === 1 ? " file" : " files"));
    document.getElementById("meta").textContent = meta.join("  \u00b7  ");
    const nPlusOne = DATA.n_plus_one.findings.length + DATA.n_plus_one.omitted;
    const errorRate = input.requests ? input.errors / input.requests : null;
    const tiles = [
      ["Requests", fmtInt(input.requests)],
      ["Endpoints", fmtInt(endpointCount)],
      ["Mean response", fmtMs(input.mean_ms)],
      ["p95 response", fmtMs(input.p95_ms)],
      ["Error rate", fmtPct(errorRate), errorRate > 0.01],
      ["N+1 findings", fmtInt(nPlusOne), nPlusOne > 0],
    ];
    const box = document.getElementById("tiles");
    for (const [label, value, bad] of tiles) {
      box.appendChild(h("div", { class: bad ? "tile bad" : "tile" },
        h("div", { class: "label", text: label }), h("div", { class: "value", text: value })));
    }
  }

  // ---- endpoints ----------------------------------------------------------
  function renderEndpoints() {
    const card = section("endpoints", "Endpoints",
      "Every endpoint (HTTP method and Django route) ranked by the total time its requests took. " +
      "Click a column header to sort.");
    const cols = DATA.endpoints.columns;
    const rows = DATA.endpoints.rows.map((r) => Object.fromEntries(cols.map((c, i) => [c, r[i]])));
    if (!rows.length) {
      card.appendChild(h("p", { class: "empty", text: "No requests (server spans) in this input." }));
      return;
    }
    const allTime = rows.reduce((sum, r) => sum + r.total_ms, 0) || 1;
    const num = (key, label, fmt, title) => ({
      key: key, label: label, numeric: true, title: title,
      value: (r) => r[key], cell: (r) => fmt(r[key]),
    });
    const columns = [
      { key: "endpoint", label: "Endpoint", value: (r) => r.endpoint.toLowerCase(),
        cell: (r) => h("span", { title: r.endpoint, text: r.endpoint }), cls: "endpoint" },
      num("requests", "Requests", fmtInt),
      { key: "errors", label: "Errors", numeric: true, value: (r) => r.errors / r.requests,
        title: "Share of requests with HTTP status 500 or more, or an error status",
        cell: (r) => r.errors ? h("span", { class: "pill bad", title: fmtInt(r.errors) + " of " + fmtInt(r.requests),
          text: fmtPct(r.errors / r.requests) }) : "0" },
      num("mean_ms", "Mean", fmtMs),
      num("p50_ms", "p50", fmtMs),
      num("p95_ms", "p95", fmtMs),
      num("max_ms", "Max", fmtMs),
      { key: "total_ms", label: "Time share", numeric: true, value: (r) => r.total_ms,
        title: "Share of the summed duration of all requests",
        cell: (r) => {
          const fg = h("span", { class: "bar-fg" });
          fg.style.width = (100 * r.total_ms / allTime).toFixed(1) + "%";
          return h("span", { title: fmtMs(r.total_ms) + " in total" },
            fmtPct(r.total_ms / allTime), h("span", { class: "bar-bg" }, fg));
        } },
      num("db_ms", "DB / req", fmtMs, "Mean time in database queries per request"),
      num("app_ms", "App / req", fmtMs, "Mean time in the request's own code per request"),
      num("queries_per_request", "Queries / req", (v) => fmtNum(v, 1)),
      num("apdex", "Apdex", (v) => fmtNum(v, 2),
        "Apdex against T = " + fmtMs(DATA.endpoints.apdex_ms) +
        ": (satisfied + tolerating / 2) / requests; errors count as frustrated"),
      { key: "n_plus_one", label: "N+1", numeric: true, value: (r) => r.n_plus_one,
        cell: (r) => r.n_plus_one ? h("span", { class: "pill bad", text: fmtInt(r.n_plus_one) }) : h("span", { class: "pill ok", text: "none" }) },
    ];
    card.appendChild(sortableTable("endpoint-table", columns, rows, "total_ms", true));
    if (DATA.endpoints.omitted) {
      card.appendChild(h("p", { class: "empty",
        text: "+" + fmtInt(DATA.endpoints.omitted) + " less busy endpoints not listed." }));
    }
  }

  // ---- latency over time --------------------------------------------------
  function renderLatency() {
    const latency = DATA.latency;
    const card = section("latency", "Response time over time",
      latency ? "Percentiles of the response time per " + fmtInterval(latency.interval_s) +
        " bucket; the bars below count requests. Gaps are buckets without requests." : null);
    if (!latency) {
      card.appendChild(h("p", { class: "empty", text: "No requests to chart." }));
      return;
    }
    const names = Object.keys(latency.series);
    const box = h("div", { class: "chart-box" });
    const select = endpointSelect("latency-endpoint", names, (name) => draw(name));
    card.appendChild(h("div", { class: "controls" },
      h("label", { for: "latency-endpoint", text: "Endpoint" }), select,
      legend(PERCENTILES.map((p) => ({ label: p.label, color: p.color, line: true })))));
    card.appendChild(box);

    function draw(name) {
      box.replaceChildren(lineChart(latency, latency.series[name]));
    }
    draw(names[0]);
  }

  function lineChart(latency, data) {
    const W = 960, H = 250, TH = 70, GAP = 22, L = 64, R = 16, T = 10;
    const n = Math.max(latency.buckets, 1);
    const spanMs = n * latency.interval_s * 1000;
    const x = (b) => L + (n === 1 ? (W - L - R) / 2 : (b / (n - 1)) * (W - L - R));
    const maxY = Math.max(0, ...data.p95.filter((v) => v !== null), ...data.p90.filter((v) => v !== null));
    const yt = niceTicks(maxY, 5);
    const y = (v) => T + H - (v / yt.top) * H;
    const ct = niceTicks(Math.max(1, ...data.count), 2);
    const cBase = T + H + GAP + TH;
    const cy = (v) => cBase - (v / ct.top) * TH;
    const svg = s("svg", { class: "chart", viewBox: "0 0 " + W + " " + (cBase + 26), role: "img",
      "aria-label": "Response time percentiles over time" });

    for (const v of yt.ticks) {
      svg.appendChild(s("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      svg.appendChild(s("text", { x: L - 8, y: y(v) + 4, "text-anchor": "end", text: fmtMs(v) }));
    }
    svg.appendChild(s("line", { class: "axis", x1: L, x2: W - R, y1: T + H, y2: T + H }));
    svg.appendChild(s("text", { x: L - 8, y: cBase - TH + 4, "text-anchor": "end", text: fmtInt(ct.top) }));
    svg.appendChild(s("text", { x: L - 8, y: cBase + 4, "text-anchor": "end", text: "0" }));
    svg.appendChild(s("line", { class: "axis", x1: L, x2: W - R, y1: cBase, y2: cBase }));

    const ticks = Math.min(6, n);
    for (let k = 0; k < ticks; k++) {
      const b = ticks === 1 ? 0 : Math.round((k * (n - 1)) / (ticks - 1));
      const label = fmtClock(latency.start_ms + b * latency.interval_s * 1000, spanMs, latency.interval_s);
      svg.appendChild(s("text", { x: x(b), y: cBase + 18, "text-anchor": k === 0 && n > 1 ? "start" : k === ticks - 1 && n > 1 ? "end" : "middle", text: label }));
    }

    // Throughput bars.
    const barW = Math.min(40, Math.max(1, ((W - L - R) / n) * 0.7));
    const bars = s("g", { fill: "#c5cde0" });
    data.bucket.forEach((b, i) => {
      const top = cy(data.count[i]);
      bars.appendChild(s("rect", { x: x(b) - barW / 2, y: top, width: barW, height: Math.max(cBase - top, 0.5) }));
    });
    svg.appendChild(bars);

    // One path per percentile, broken where buckets are missing.
    for (const p of PERCENTILES) {
      let d = "";
      const dots = [];
      data.bucket.forEach((b, i) => {
        const v = data[p.key][i];
        if (v === null) return;
        const joined = i > 0 && data.bucket[i - 1] === b - 1 && data[p.key][i - 1] !== null;
        const next = i + 1 < data.bucket.length && data.bucket[i + 1] === b + 1;
        d += (joined ? "L" : "M") + x(b).toFixed(1) + " " + y(v).toFixed(1);
        if (!joined && !next) dots.push([x(b), y(v)]);
      });
      if (d) svg.appendChild(s("path", { d: d, fill: "none", stroke: p.color, "stroke-width": 2, "stroke-linejoin": "round" }));
      for (const [cx, cyy] of dots) svg.appendChild(s("circle", { cx: cx, cy: cyy, r: 3, fill: p.color }));
    }

    // Hover read-out: nearest bucket under the pointer.
    const guide = s("line", { x1: 0, x2: 0, y1: T, y2: cBase, stroke: "#8a93a6", "stroke-dasharray": "3 3", visibility: "hidden" });
    svg.appendChild(guide);
    const overlay = s("rect", { x: L, y: T, width: W - L - R, height: cBase - T, fill: "transparent" });
    svg.appendChild(overlay);
    const tip = h("div", { class: "tooltip", hidden: true });
    overlay.addEventListener("mousemove", (event) => {
      const rect = svg.getBoundingClientRect();
      const px = ((event.clientX - rect.left) / rect.width) * W;
      let best = 0;
      data.bucket.forEach((b, i) => { if (Math.abs(x(b) - px) < Math.abs(x(data.bucket[best]) - px)) best = i; });
      if (!data.bucket.length) return;
      const b = data.bucket[best];
      guide.setAttribute("x1", x(b));
      guide.setAttribute("x2", x(b));
      guide.setAttribute("visibility", "visible");
      tip.replaceChildren(
        h("div", { text: fmtDate(latency.start_ms + b * latency.interval_s * 1000) }),
        ...PERCENTILES.map((p) => h("div", { text: p.label + "  " + fmtMs(data[p.key][best]) })),
        h("div", { text: fmtInt(data.count[best]) + " requests" }));
      tip.hidden = false;
      const left = (x(b) / W) * rect.width;
      tip.style.left = (left > rect.width / 2 ? left - tip.offsetWidth - 12 : left + 12) + "px";
      tip.style.top = "8px";
    });
    overlay.addEventListener("mouseleave", () => { tip.hidden = true; guide.setAttribute("visibility", "hidden"); });
    return h("div", null, svg, tip);
  }

  // ---- breakdown ----------------------------------------------------------
  function renderBreakdown() {
    const data = DATA.breakdown;
    const card = section("breakdown", "Where the time goes",
      "Mean time per request by layer: database queries, other instrumented layers, and the " +
      "request's own code (time covered by no child span).");
    if (!data.rows.length) {
      card.appendChild(h("p", { class: "empty", text: "No requests to break down." }));
      return;
    }
    const used = data.layers.filter((_, j) => data.rows.some((row) => row.values[j] > 0));
    card.appendChild(h("div", { class: "controls" },
      legend(used.map((l) => ({ label: LAYER_LABELS[l] || l, color: LAYER_COLORS[l] || "#999" })))));
    const W = 960, LABEL = 300, VALUE = 80, ROW = 26;
    const barMax = Math.max(...data.rows.map((r) => r.values.reduce((a, b) => a + (b || 0), 0)), 1e-9);
    const scale = (v) => (v / barMax) * (W - LABEL - VALUE);
    const svg = s("svg", { class: "chart", id: "breakdown-chart", viewBox: "0 0 " + W + " " + (data.rows.length * ROW + 4),
      role: "img", "aria-label": "Mean time per request by layer and endpoint" });
    data.rows.forEach((row, i) => {
      const y0 = i * ROW + 4;
      const label = s("text", { x: LABEL - 10, y: y0 + 15, "text-anchor": "end", class: "mono", text: shorten(row.endpoint, 44) });
      label.appendChild(s("title", { text: row.endpoint }));
      svg.appendChild(label);
      let x0 = LABEL;
      const total = row.values.reduce((a, b) => a + (b || 0), 0);
      row.values.forEach((v, j) => {
        if (!v) return;
        const w = scale(v);
        const rect = s("rect", { x: x0, y: y0 + 3, width: Math.max(w, 0.5), height: ROW - 8, fill: LAYER_COLORS[data.layers[j]] || "#999" });
        rect.appendChild(s("title", { text: (LAYER_LABELS[data.layers[j]] || data.layers[j]) + ": " + fmtMs(v) +
          " (" + fmtPct(total ? v / total : 0) + ")" }));
        svg.appendChild(rect);
        x0 += w;
      });
      svg.appendChild(s("text", { x: x0 + 8, y: y0 + 15, text: fmtMs(row.mean_ms) }));
    });
    card.appendChild(svg);
  }

  // ---- findings -----------------------------------------------------------
  function facts(pairs) {
    const dl = h("dl", { class: "facts" });
    for (const [label, value, cls] of pairs) {
      if (value === null || value === undefined || value === "") continue;
      dl.appendChild(h("dt", { text: label }));
      dl.appendChild(h("dd", { class: cls || null }, value));
    }
    return dl;
  }
  function stat(label, value) {
    return h("span", { class: "stat" }, label + " ", h("b", { text: value }));
  }

  // One card per repeated-work finding (SQL or HTTP): the head, what repeats, the facts.
  function findingCard(f, repeated, moreFacts) {
    return h("div", { class: "finding" },
      h("div", { class: "finding-head" },
        h("span", { class: "endpoint", text: f.endpoint }),
        h("span", { class: "pill bad", text: fmtInt(f.repeats) + "\u00d7 per request" }),
        stat("in", fmtInt(f.requests) + (f.requests === 1 ? " request" : " requests")),
        stat("wasted", fmtMs(f.wasted_ms))),
      h("pre", { class: "sql", text: repeated }),
      facts([
        ...moreFacts,
        [f.level === "request" ? "Spread over" : "Runs under",
          f.parent ? f.parent + (f.level === "request" ? " (the most common of several parent spans)" : "") : null],
        ["Example trace", f.example_trace_id ? h("code", { text: f.example_trace_id }) : null],
      ]));
  }

  function findingsSection(data, id, title, intro, none, card) {
    const section_ = section(id, title, intro);
    if (!data.findings.length) {
      section_.appendChild(h("p", { class: "empty", text: none }));
      return;
    }
    for (const f of data.findings) section_.appendChild(card(f));
    if (data.omitted) section_.appendChild(h("p", { class: "empty", text: "+" + fmtInt(data.omitted) + " smaller findings not shown." }));
  }

  function renderNPlusOne() {
    findingsSection(DATA.n_plus_one, "n-plus-one", "N+1 queries",
      "The same statement template run at least " + DATA.min_repeats + " times under one parent span " +
      "in a request: one query per row instead of one query for all rows.",
      "No N+1 query pattern found.",
      (f) => findingCard(f, f.statement, [
        ["Fix", f.suggestion ? h("code", { text: f.suggestion }) : "load the rows in one query (select_related / prefetch_related, or a join)", "fix"],
        ["Code", f.code ? h("code", { text: fmtCode(f.code) }) : null],
        ["Relation", f.relation ? f.relation + (f.relation_kind ? " (" + f.relation_kind + ")" : "") : null],
      ]));
  }

  function renderNPlusOneHttp() {
    findingsSection(DATA.n_plus_one_http, "n-plus-one-http", "N+1 backend calls",
      "The same outgoing HTTP call (method and URL with ids as {id}) made at least " + DATA.min_repeats +
      " times in a request, under one parent span or spread over sibling spans: one call per row " +
      "instead of one batch call.",
      "No repeated backend call found.",
      (f) => findingCard(f, f.method + " " + f.url, []));
  }

  function renderStatements() {
    const rows = DATA.statements;
    const card = section("queries", "Slow and costly queries",
      "Statement templates ranked by the total time spent in them. A statement is flagged slow when " +
      "one execution took 500 ms or more.");
    if (!rows.length) {
      card.appendChild(h("p", { class: "empty", text: "No database spans in this input." }));
      return;
    }
    const num = (key, label, fmt) => ({ key: key, label: label, numeric: true, value: (r) => r[key], cell: (r) => fmt(r[key]) });
    const columns = [
      { key: "statement", label: "Statement", value: (r) => r.statement, cls: "text",
        cell: (r) => h("div", null, r.slow ? h("span", { class: "pill warn", text: "slow" }) : null,
          h("pre", { class: "sql", text: r.statement })) },
      num("calls", "Calls", fmtInt),
      num("total_ms", "Total", fmtMs),
      num("mean_ms", "Mean", fmtMs),
      num("p95_ms", "p95", fmtMs),
      num("max_ms", "Max", fmtMs),
      { key: "where", label: "Where", value: (r) => fmtCode(r.code) || "", cls: "where",
        cell: (r) => facts([
          ["Code", r.code ? h("code", { text: fmtCode(r.code) }) : null],
          ["Endpoints", r.endpoints.length ? r.endpoints.join(", ") : null],
          ["Fix", r.fix, "fix"],
        ]) },
    ];
    card.appendChild(sortableTable("statement-table", columns, rows, "total_ms", true));
  }

  // ---- waterfall ----------------------------------------------------------
  function renderWaterfalls() {
    const data = DATA.waterfalls;
    const names = Object.keys(data);
    const card = section("traces", "Representative slow traces",
      "For each endpoint, the request whose duration is closest to the endpoint's p95, span by span. " +
      "Click a query to see its statement and code location.");
    if (!names.length) {
      card.appendChild(h("p", { class: "empty", text: "No traces to show." }));
      return;
    }
    const box = h("div");
    const info = h("div", { class: "stat" });
    card.appendChild(h("div", { class: "controls" },
      h("label", { for: "trace-endpoint", text: "Endpoint" }),
      endpointSelect("trace-endpoint", names, (name) => draw(name)), info));
    card.appendChild(h("div", { class: "controls" },
      legend(["server", "db", "cache", "template", "http", "other"].map((l) => ({ label: LAYER_LABELS[l], color: LAYER_COLORS[l] })))));
    card.appendChild(box);

    function draw(name) {
      const wf = data[name];
      info.replaceChildren("trace ", h("code", { text: wf.trace_id }), " \u00b7 " + fmtMs(wf.duration_ms) +
        " (endpoint p95 " + fmtMs(wf.p95_ms) + ") \u00b7 " + fmtInt(wf.spans.length + wf.more) + " spans");
      box.replaceChildren(waterfall(wf));
    }
    draw(names[0]);
  }

  function waterfall(wf) {
    const extent = Math.max(1e-6, ...wf.spans.map((sp) => sp[1] + sp[2]));
    const ticks = niceTicks(extent, 5).ticks.filter((t) => t <= extent);
    const root = h("div", { class: "wf", id: "waterfall" });
    const axis = h("div", { class: "wf-track" });
    for (const t of ticks) {
      const tick = h("div", { class: t / extent > 0.9 ? "wf-tick end" : "wf-tick" }, h("span", { text: fmtMs(t) }));
      tick.style.left = ((t / extent) * 100).toFixed(3) + "%";
      axis.appendChild(tick);
    }
    root.appendChild(h("div", { class: "wf-row head" }, h("div", { class: "wf-name", text: "Span" }), axis));
    for (const [depth, offset, duration, layer, nameIndex, detailIndex, error] of wf.spans) {
      const name = wf.strings[nameIndex];
      const detail = detailIndex >= 0 ? wf.strings[detailIndex] : null;
      const colorKey = depth === 0 ? "server" : layer;
      const chip = h("span", { class: "chip" });
      chip.style.background = LAYER_COLORS[colorKey] || LAYER_COLORS.other;
      const snippet = detail ? detail.split("\n")[0] : null;
      const label = h("div", { class: "wf-name", title: detail ? name + "\n" + detail : name }, chip, name,
        snippet && snippet !== name ? h("span", { class: "wf-snippet", text: snippet }) : null);
      label.style.paddingLeft = 8 + Math.min(depth, 24) * 14 + "px";
      const track = h("div", { class: "wf-track" });
      const left = (offset / extent) * 100;
      const width = (duration / extent) * 100;
      const bar = h("div", { class: error ? "wf-bar error" : "wf-bar", title: fmtMs(duration) });
      bar.style.left = left.toFixed(3) + "%";
      bar.style.width = Math.max(width, 0.15).toFixed(3) + "%";
      bar.style.background = LAYER_COLORS[colorKey] || LAYER_COLORS.other;
      const label2 = h("span", { class: "wf-dur", text: fmtMs(duration) });
      if (left + width > 82) label2.style.right = (100 - left + 0.5).toFixed(3) + "%";
      else label2.style.left = (left + width + 0.5).toFixed(3) + "%";
      track.append(bar, label2);
      const row = h("div", { class: detail ? "wf-row clickable" : "wf-row" }, label, track);
      if (detail) {
        row.setAttribute("tabindex", "0");
        const toggle = () => {
          const open = row.lastChild.classList && row.lastChild.classList.contains("wf-detail");
          if (open) row.removeChild(row.lastChild);
          else row.appendChild(h("div", { class: "wf-detail", text: detail }));
        };
        row.addEventListener("click", toggle);
        row.addEventListener("keydown", (event) => { if (event.key === "Enter") toggle(); });
      }
      root.appendChild(row);
    }
    if (wf.more) {
      root.appendChild(h("div", { class: "wf-more",
        text: "+" + fmtInt(wf.more) + " more spans, starting later, not shown" }));
    }
    return root;
  }

  // ---- correlation ------------------------------------------------------
  const KIND_LABELS = { layer: "Layer time", endpoint_time: "Endpoint time", endpoint_throughput: "Throughput" };
  function fmtP(v) {
    if (v === null || v === undefined) return "\u2013";
    return v < 0.001 ? v.toExponential(1) : v.toFixed(3);
  }
  function fmtR(v) {
    return v === null || v === undefined ? "\u2013" : (v > 0 ? "+" : "") + v.toFixed(2);
  }
  function seriesLabel(row) {
    return (KIND_LABELS[row.kind] || row.kind) + ": " + row.name;
  }

  function renderCorrelation() {
    const data = DATA.correlation;
    if (!data) return;
    const card = section("correlation", "What moves with the response time",
      "Requests bucketed per " + fmtInterval(data.interval_s) + "; each series " +
      (data.differenced ? "first-differenced (so a shared trend does not count) and " : "") +
      "correlated with the mean response time, ranked by Pearson p-value. q is the " +
      "Benjamini\u2013Hochberg adjusted p-value: call a row significant on q, not p.");
    const rows = data.results.map((row, i) => Object.assign({ rank: i + 1 }, row));
    const rBar = (v) => {
      const bg = h("span", { class: "bar-bg" });
      const fg = h("span", { class: "bar-fg" });
      fg.style.width = (Math.abs(v || 0) * 100).toFixed(0) + "%";
      fg.style.background = v < 0 ? "#e15759" : "#4e79a7";
      bg.appendChild(fg);
      return h("span", null, fmtR(v), bg);
    };
    const columns = [
      { key: "rank", label: "#", numeric: true, value: (r) => r.rank, cell: (r) => String(r.rank) },
      { key: "name", label: "Series", value: (r) => seriesLabel(r).toLowerCase(), cls: "text",
        cell: (r) => h("span", null, h("span", { class: "pill muted", text: KIND_LABELS[r.kind] || r.kind }), " ",
          h("span", { class: "mono", text: r.name })) },
      { key: "r", label: "r", numeric: true, value: (r) => r.r, cell: (r) => rBar(r.r) },
      { key: "p_value", label: "p", numeric: true, value: (r) => r.p_value, cell: (r) => fmtP(r.p_value) },
      { key: "q_value", label: "q", numeric: true, value: (r) => r.q_value,
        cell: (r) => h("span", { class: r.significant ? "pill ok" : "pill muted", text: fmtP(r.q_value) }) },
      { key: "r_undifferenced", label: "r (levels)", numeric: true, value: (r) => r.r_undifferenced,
        title: "Correlation of the raw levels: high here but not after differencing means a shared trend only",
        cell: (r) => fmtR(r.r_undifferenced) },
      { key: "n", label: "n", numeric: true, value: (r) => r.n, cell: (r) => fmtInt(r.n) },
      { key: "note", label: "Note", value: (r) => r.note || "", cls: "text", cell: (r) => r.note || "" },
    ];
    card.appendChild(sortableTable("correlation-table", columns, rows, "rank", false));
    const plotted = rows.filter((r) => r.series);
    if (!plotted.length || !data.target) return;
    const box = h("div", { class: "chart-box" });
    const names = plotted.map(seriesLabel);
    let mode = data.differenced ? "diff" : "level";
    const modeSelect = h("select", { id: "correlation-mode" },
      h("option", { value: "diff", text: "changes from bucket to bucket" }),
      h("option", { value: "level", text: "levels" }));
    modeSelect.value = mode;
    const pick = endpointSelect("correlation-series", names, () => draw());
    modeSelect.addEventListener("change", () => { mode = modeSelect.value; draw(); });
    card.appendChild(h("div", { class: "controls" },
      h("label", { for: "correlation-series", text: "Plot" }), pick,
      h("label", { for: "correlation-mode", text: "as" }), modeSelect,
      legend([{ label: "mean response time", color: "#1d2433", line: true },
        { label: "selected series", color: "#e15759", line: true }])));
    card.appendChild(box);
    function draw() {
      const row = plotted[names.indexOf(pick.value)];
      box.replaceChildren(pairChart(data, data.target, row.series, mode === "diff"));
    }
    draw();
  }

  function differences(values) {
    return values.map((v, i) => (i === 0 || v === null || values[i - 1] === null ? null : v - values[i - 1]));
  }

  function pairChart(data, target, series, diff) {
    // Each line is scaled to its own range: the eye compares shapes, not units.
    const W = 960, H = 220, L = 16, R = 16, T = 10;
    const a = diff ? differences(target) : target;
    const b = diff ? differences(series) : series;
    const n = a.length;
    const x = (i) => L + (n <= 1 ? 0 : (i / (n - 1)) * (W - L - R));
    const svg = s("svg", { class: "chart", id: "correlation-chart", viewBox: "0 0 " + W + " " + (T + H + 26), role: "img",
      "aria-label": "The mean response time and the selected series over time" });
    svg.appendChild(s("line", { class: "axis", x1: L, x2: W - R, y1: T + H, y2: T + H }));
    for (const [values, color] of [[a, "#1d2433"], [b, "#e15759"]]) {
      const defined = values.filter((v) => v !== null);
      if (!defined.length) continue;
      const lo = Math.min(...defined), hi = Math.max(...defined);
      const y = (v) => T + H - (hi === lo ? 0.5 : (v - lo) / (hi - lo)) * H;
      let d = "";
      values.forEach((v, i) => {
        if (v === null) return;
        d += (i > 0 && values[i - 1] !== null ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1);
      });
      svg.appendChild(s("path", { d: d, fill: "none", stroke: color, "stroke-width": 1.8, "stroke-linejoin": "round" }));
    }
    const spanMs = n * data.interval_s * 1000;
    const ticks = Math.min(6, n);
    for (let k = 0; k < ticks; k++) {
      const i = ticks === 1 ? 0 : Math.round((k * (n - 1)) / (ticks - 1));
      svg.appendChild(s("text", { x: x(i), y: T + H + 18, "text-anchor": k === 0 ? "start" : k === ticks - 1 ? "end" : "middle",
        text: fmtClock(data.start_ms + i * data.interval_s * 1000, spanMs, data.interval_s) }));
    }
    return svg;
  }

  // ---- footer -------------------------------------------------------------
  function renderFooter() {
    const foot = document.getElementById("foot");
    foot.appendChild(h("p", { text: "Generated by spanscope " + DATA.spanscope_version + " on " +
      fmtDate(DATA.generated_ms) + ". This file is self-contained and makes no network requests." }));
    const limits = DATA.limits;
    foot.appendChild(h("p", { text: "Bounded for size: charts for the " + limits.chart_endpoints +
      " busiest endpoints, waterfalls for " + limits.waterfalls + " with up to " + limits.waterfall_spans +
      " spans each, up to " + limits.n_plus_one + " N+1 findings and " + limits.statements + " statements." }));
    if (DATA.trimmed.length) {
      foot.appendChild(h("p", { text: "Left out to keep the file small: " +
        DATA.trimmed.map((t) => t.section + " of " + t.endpoint).join("; ") + "." }));
    }
  }

  renderHeader();
  renderEndpoints();
  renderLatency();
  renderBreakdown();
  renderNPlusOne();
  renderNPlusOneHttp();
  renderStatements();
  renderWaterfalls();
  renderCorrelation();
  renderFooter();
  document.documentElement.setAttribute("data-rendered", "true");
})();
