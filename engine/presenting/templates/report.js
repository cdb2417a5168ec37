// The library report's list of cases: filter, sort, find by id, open a case.  The cases come from the
// page's JSON data block and are drawn a page at a time with DOM calls (text stays text).
(function () {
  "use strict";
  var source = document.getElementById("report-data");
  if (!source) { return; }
  var data = JSON.parse(source.textContent);
  var crit = data.criteria;
  var form = document.getElementById("filters");
  var table = document.getElementById("case-table");
  var body = document.getElementById("case-rows");
  var count = document.getElementById("shown-count");
  var pager = document.getElementById("pager");
  var more = document.getElementById("more");
  var PAGE = 100;
  var WORDS = {
    outcome: { approved: "approved", partially_approved: "partially approved", denied: "denied", error: "could not be decided" },
    action: { certify: "certify", pend: "pend for information", refer: "refer to a physician reviewer" },
    det: { fusion: "fusion", decompression_only: "decompression only", none: "none",
           not_addressed: "not addressed (manual review)", medically_necessary: "medically necessary",
           not_medically_necessary: "not medically necessary" },
    status: { not_met: "not met", not_documented: "not documented" },
  };
  var GLYPH = { certify: "\u2713", pend: "\u2016", refer: "\u2691", not_met: "\u2717", not_documented: "?" };
  var RANK = { outcome: { approved: 0, partially_approved: 1, denied: 2, error: 3 }, action: { certify: 0, pend: 1, refer: 2 } };
  var cases = data.cases.map(function (c, i) {
    var rec = { index: i + 1, source: c[0], id: c[1], outcome: c[2] };
    if (c[2] === "error") { rec.message = c[3]; rec.action = ""; rec.rows = []; rec.notices = []; return rec; }
    rec.action = c[3]; rec.undecided = c[4]; rec.notices = c[5]; rec.rows = c[6];
    return rec;
  });
  cases.forEach(function (rec) {
    rec.levels = {}; rec.items = {}; rec.criteria = {}; rec.blocked = 0;
    rec.rows.forEach(function (r) {
      if (r[0] === "level") { rec.levels[r[1]] = true; } else { rec.items[r[1].split("@")[0]] = true; }
      r[6].forEach(function (b) { rec.criteria[b[1]] = true; rec.blocked += 1; });
    });
  });
  var shown = [];
  var drawn = 0;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function badge(kind, name, words) {
    var s = el("span", kind + " " + kind + "-" + name);
    var g = el("span", "glyph", GLYPH[name] || "");
    g.setAttribute("aria-hidden", "true");
    s.appendChild(g);
    s.appendChild(document.createTextNode(" " + words));
    return s;
  }
  function det(name) { return el("span", "det det-" + name, WORDS.det[name] || name); }
  function cref(id, at) {
    var s = el("span", "cref");
    var info = crit[id] || ["", ""];
    if (info[1]) { s.setAttribute("data-cite", info[1]); }
    var r = el("span", "ref", id);
    if (info[1]) { r.title = info[1]; }
    s.appendChild(r);
    if (info[0]) { s.appendChild(document.createTextNode(" ")); s.appendChild(el("span", "ctitle", info[0])); }
    if (at) { s.appendChild(document.createTextNode(" ")); s.appendChild(el("span", "at", "at " + at)); }
    return s;
  }

  function matches(rec, f) {
    if (f.q && (rec.id || rec.source).toLowerCase().indexOf(f.q) < 0) { return false; }
    if (f.outcome && rec.outcome !== f.outcome) { return false; }
    if (f.action && rec.action !== f.action) { return false; }
    if (f.level && !rec.levels[f.level]) { return false; }
    if (f.item && !rec.items[f.item]) { return false; }
    if (f.criterion && !rec.criteria[f.criterion]) { return false; }
    return true;
  }
  function sorter(key) {
    if (key === "case") { return function (a, b) { return (a.id || a.source) < (b.id || b.source) ? -1 : (a.id || a.source) > (b.id || b.source) ? 1 : a.index - b.index; }; }
    if (key === "outcome" || key === "action") {
      return function (a, b) { return ((RANK[key][a[key]] || 0) - (RANK[key][b[key]] || 0)) || a.index - b.index; };
    }
    if (key === "blocked") { return function (a, b) { return (b.blocked - a.blocked) || a.index - b.index; }; }
    return function (a, b) { return a.index - b.index; };
  }
  function filters() {
    var f = {};
    ["outcome", "action", "level", "item", "criterion", "sort"].forEach(function (n) { f[n] = form.elements[n].value; });
    f.q = form.elements.q.value.trim().toLowerCase();
    return f;
  }

  function row(rec) {
    var tr = el("tr");
    tr.setAttribute("data-record", String(rec.index));
    if (rec.id !== null) { tr.setAttribute("data-case", rec.id); }
    tr.setAttribute("data-outcome", rec.outcome);
    tr.appendChild(el("td", "num", String(rec.index)));
    var th = el("th");
    th.scope = "row";
    var open = el("button", "open", rec.id !== null ? rec.id : rec.source);
    open.type = "button";
    open.setAttribute("aria-expanded", "false");
    open.id = "case-" + rec.index;
    th.appendChild(open);
    tr.appendChild(th);
    var answer = el("td");
    if (rec.outcome === "error") {
      answer.appendChild(el("span", "det det-none", "could not be decided"));
    } else {
      answer.appendChild(el("span", "det det-" + rec.outcome, WORDS.outcome[rec.outcome]));
      if (rec.undecided) { answer.appendChild(document.createTextNode(rec.undecided)); }
      answer.appendChild(document.createTextNode(" "));
      answer.appendChild(badge("act", rec.action, WORDS.action[rec.action]));
    }
    tr.appendChild(answer);
    var parts = el("td", "answers");
    rec.rows.forEach(function (r, i) {
      var a = el("span", "answer");
      a.appendChild(document.createTextNode(r[2] + " "));
      a.appendChild(det(r[4]));
      parts.appendChild(a);
      if (i < rec.rows.length - 1) { parts.appendChild(document.createTextNode(" \u00b7 ")); }
    });
    tr.appendChild(parts);
    open.addEventListener("click", function () { toggle(rec, tr, open); });
    return tr;
  }

  function detail(rec) {
    var td = el("td");
    td.colSpan = 4;
    var wrap = el("section", "case");
    wrap.setAttribute("aria-label", "the review of " + (rec.id || rec.source));
    wrap.appendChild(el("p", "source", rec.source));
    if (rec.outcome === "error") {
      wrap.appendChild(el("pre", "error", rec.message));
      td.appendChild(wrap);
      return td;
    }
    rec.notices.forEach(function (n) { wrap.appendChild(el("p", "notice", "\u26a0 " + n)); });
    var t = el("table", "summary");
    var head = el("thead");
    var hr = el("tr");
    ["Service requested", "Determined and review action", "Blocked by"].forEach(function (h) {
      var c = el("th", "", h); c.scope = "col"; hr.appendChild(c);
    });
    head.appendChild(hr);
    t.appendChild(head);
    var tb = el("tbody");
    rec.rows.forEach(function (r) {
      var tr = el("tr");
      tr.setAttribute("data-" + r[0], r[1]);
      tr.setAttribute("data-determination", r[4]);
      var th = el("th", "", r[2]);
      th.scope = "row";
      if (r[0] === "level") { th.appendChild(document.createTextNode(" ")); th.appendChild(el("span", "asked", r[3])); }
      tr.appendChild(th);
      var d = el("td", "answer-cell");
      d.appendChild(det(r[4]));
      if (r[5]) { d.appendChild(document.createTextNode(" ")); d.appendChild(badge("act", r[5], WORDS.action[r[5]])); }
      tr.appendChild(d);
      var b = el("td", "blocked");
      if (r[4] === "not_addressed") {
        b.appendChild(el("span", "hint", "the policy has no criterion for it: manual review"));
      } else if (!r[6].length && !r[7].length) {
        b.appendChild(el("span", "hint", "nothing"));
      }
      ["not_met", "not_documented"].forEach(function (st) {
        var group = r[6].filter(function (x) { return x[0] === st; });
        if (!group.length) { return; }
        var div = el("div", "blockers");
        div.appendChild(badge("badge", st, WORDS.status[st]));
        div.className = "blockers";
        div.firstChild.className = "badge st-" + st;
        var ul = el("ul", "refs");
        group.forEach(function (x) { var li = el("li"); li.appendChild(cref(x[1], x[2])); ul.appendChild(li); });
        div.appendChild(document.createTextNode(" "));
        div.appendChild(ul);
        b.appendChild(div);
      });
      if (r[7].length) { b.appendChild(el("span", "blockers also", "criteria judged at " + r[7].join(", "))); }
      tr.appendChild(b);
      tb.appendChild(tr);
    });
    t.appendChild(tb);
    wrap.appendChild(t);
    td.appendChild(wrap);
    return td;
  }

  function toggle(rec, tr, button) {
    var next = tr.nextSibling;
    if (next && next.classList && next.classList.contains("detail")) {
      next.parentNode.removeChild(next);
      button.setAttribute("aria-expanded", "false");
      return;
    }
    var d = el("tr", "detail");
    d.appendChild(detail(rec));
    tr.parentNode.insertBefore(d, tr.nextSibling);
    button.setAttribute("aria-expanded", "true");
  }

  function drawMore() {
    var end = Math.min(shown.length, drawn + PAGE);
    var frag = document.createDocumentFragment();
    for (var i = drawn; i < end; i++) { frag.appendChild(row(shown[i])); }
    body.appendChild(frag);
    drawn = end;
    pager.hidden = drawn >= shown.length;
    more.textContent = "Show the next " + Math.min(PAGE, shown.length - drawn) + " of " + (shown.length - drawn) + " more";
  }
  function update() {
    var f = filters();
    shown = cases.filter(function (rec) { return matches(rec, f); }).sort(sorter(f.sort));
    body.textContent = "";
    drawn = 0;
    drawMore();
    count.textContent = shown.length + " of " + cases.length + " case" + (cases.length === 1 ? "" : "s") + " shown";
  }

  form.hidden = false;
  table.hidden = false;
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  form.addEventListener("reset", function () { setTimeout(update, 0); });
  more.addEventListener("click", drawMore);
  document.querySelectorAll("a.crit-filter").forEach(function (a) {
    a.addEventListener("click", function () {
      form.reset();
      form.elements.criterion.value = a.getAttribute("data-criterion");
      update();
    });
  });
  function fromHash() {
    var m = /^#case-(\d+)$/.exec(location.hash);
    if (!m) { return; }
    var rec = cases[Number(m[1]) - 1];
    if (!rec) { return; }
    form.reset();
    form.elements.q.value = rec.id || rec.source;
    update();
    var button = document.getElementById("case-" + rec.index);
    if (button) { button.click(); button.focus(); }
  }
  update();
  window.addEventListener("hashchange", fromHash);
  if (location.hash) { fromHash(); }
  document.body.setAttribute("data-ready", "true");
})();
