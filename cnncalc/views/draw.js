// cnncalc draw: pan, zoom, collapse/expand and the side panel of the page `cnncalc draw -o x.html`
// writes. Every figure shown comes from the report embedded as JSON (#report); nothing is computed
// here, and nothing is fetched: the file works offline.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report").textContent);
  var view = document.getElementById("view");
  var panel = document.getElementById("panel");
  var svg = view.querySelector("svg");
  var NS = "http://www.w3.org/2000/svg";
  var root = svg.querySelector("g");  // dot's graph group: it carries the drawing's transform
  var base = svg.viewBox.baseVal;
  var whole = {x: base.x, y: base.y, w: base.width, h: base.height};
  var vb = {x: whole.x, y: whole.y, w: whole.w, h: whole.h};
  svg.removeAttribute("width");
  svg.removeAttribute("height");

  function apply() { svg.setAttribute("viewBox", vb.x + " " + vb.y + " " + vb.w + " " + vb.h); }
  function fit(readable) {  // the whole drawing, with the view's proportions (so a pixel is square);
    // `readable`: no smaller than legible text allows, from the top (a tall network is then scrolled)
    var cw = view.clientWidth || 800, ch = view.clientHeight || 600;
    var s = Math.max(whole.w / cw, whole.h / ch);
    var top = readable === true && s > 1.4;
    if (top) s = Math.max(1.4, whole.w / cw);
    vb = {w: cw * s, h: ch * s, x: 0, y: 0};
    vb.x = whole.x - (vb.w - whole.w) / 2;
    vb.y = top ? whole.y : whole.y - (vb.h - whole.h) / 2;
    apply();
  }

  // pan: drag; zoom: the wheel, about the pointer
  var drag = null, moved = false;
  svg.addEventListener("mousedown", function (e) { drag = {x: e.clientX, y: e.clientY, vx: vb.x, vy: vb.y}; moved = false; });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    var s = vb.w / (view.clientWidth || 1);
    if (Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) > 3) moved = true;
    vb.x = drag.vx - (e.clientX - drag.x) * s;
    vb.y = drag.vy - (e.clientY - drag.y) * s;
    apply();
  });
  window.addEventListener("mouseup", function () { drag = null; });
  svg.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = svg.getBoundingClientRect();
    var f = Math.exp(Math.max(-1, Math.min(1, e.deltaY * 0.002)));
    var px = vb.x + (e.clientX - r.left) / r.width * vb.w, py = vb.y + (e.clientY - r.top) / r.height * vb.h;
    vb = {x: px - (px - vb.x) * f, y: py - (py - vb.y) * f, w: vb.w * f, h: vb.h * f};
    apply();
  }, {passive: false});
  window.addEventListener("keydown", function (e) { if (e.key === "0") fit(); });
  window.addEventListener("resize", function () { fit(true); });

  // the side panel: a layer's row, as `cnncalc shapes --explain --json` has it
  function text(tag, content, cls) {
    var el = document.createElement(tag);
    el.textContent = content;
    if (cls) el.className = cls;
    return el;
  }
  function shape(s) { return s.join("\u00d7"); }
  function number(n) { return typeof n === "number" ? n.toLocaleString("en-US") : String(n); }
  function show(title, fields, formula) {
    panel.textContent = "";
    panel.appendChild(text("h2", title));
    var table = document.createElement("table");
    fields.forEach(function (f) {
      if (f[1] === undefined || f[1] === null || f[1] === "") return;
      var tr = document.createElement("tr");
      tr.appendChild(text("th", f[0]));
      tr.appendChild(text("td", f[1]));
      table.appendChild(tr);
    });
    panel.appendChild(table);
    if (formula) { panel.appendChild(text("h3", "formula")); panel.appendChild(text("pre", formula)); }
  }
  function showRow(i) {
    var r = data.layers[i];
    var rf = r.receptive_field === null ? "the whole input" : Array.isArray(r.receptive_field) ? r.receptive_field.join("\u00d7") : r.receptive_field;
    show(r.name, [["kind", r.kind], ["path", r.path], ["line", r.line], ["reads", r.reads.join(", ")],
                  ["input", shape(r.input)], ["output", shape(r.output)], ["params", number(r.params)],
                  ["MACs", number(r.macs)], ["receptive field", rf],
                  ["backward MACs", r.backward_macs === undefined ? null : number(r.backward_macs)],
                  ["saved bytes", r.saved_bytes === undefined ? null : number(r.saved_bytes)]], r.formula);
  }
  function showGroup(k) {
    var g = data.groups[k];
    show(g.label, [["path", g.path], ["layers", g.rows.length], ["output", g.lines[1]], ["figures", g.lines[2]]],
         g.rows.map(function (i) { return data.layers[i].name + ": " + data.layers[i].formula; }).join("\n"));
  }

  // collapse and expand: a collapsed block is one box over its place (nothing else moves)
  var collapsed = {};
  var group = data.groups.map(function (g, k) { return document.getElementById("g" + k); });
  var boxes = svg.ownerDocument.createElementNS(NS, "g");
  boxes.setAttribute("id", "boxes");
  root.appendChild(boxes);
  function outermost(i) {  // the outermost collapsed group holding row i, or -1
    var best = -1;
    data.groups.forEach(function (g, k) {
      if (collapsed[k] && (best < 0 || data.groups[best].level > g.level) && g.rowset[i]) best = k;
    });
    return best;
  }
  data.groups.forEach(function (g) { g.rowset = {}; g.rows.forEach(function (i) { g.rowset[i] = true; }); });
  function render() {
    var owner = data.layers.map(function (_, i) { return outermost(i); });
    data.layers.forEach(function (_, i) {
      var n = document.getElementById("n" + i);
      if (n) n.style.display = owner[i] >= 0 ? "none" : "";
    });
    data.edges.forEach(function (e, k) {
      var el = document.getElementById("e" + k);
      if (!el) return;
      var a = e[0].charAt(0) === "n" ? owner[+e[0].slice(1)] : -1, b = e[1].charAt(0) === "n" ? owner[+e[1].slice(1)] : -1;
      el.style.display = a >= 0 && a === b ? "none" : "";
    });
    while (boxes.firstChild) boxes.removeChild(boxes.firstChild);
    data.groups.forEach(function (g, k) {
      var inside = g.parent !== null && (function () { for (var p = g.parent; p !== null; p = data.groups[p].parent) if (collapsed[p]) return true; return false; })();
      var el = group[k];
      if (!el) return;
      el.style.display = inside ? "none" : "";
      if (!collapsed[k] || inside) return;
      var outline = el.querySelector("path, polygon");
      var bb = outline.getBBox();
      var box = svg.ownerDocument.createElementNS(NS, "g");
      box.setAttribute("class", "collapsed-box");
      box.setAttribute("id", "box" + k);
      var rect = svg.ownerDocument.createElementNS(NS, "rect");
      ["x", "y", "width", "height"].forEach(function (a, j) { rect.setAttribute(a, [bb.x, bb.y, bb.width, bb.height][j]); });
      rect.setAttribute("rx", 6);
      rect.setAttribute("fill", g.fill);
      box.appendChild(rect);
      var longest = Math.max.apply(null, g.lines.map(function (l) { return l.length; }));
      var size = Math.max(6, Math.min(0.9 * bb.width / (0.6 * longest), bb.height / 4.5, 24));
      g.lines.forEach(function (line, j) {
        var t = svg.ownerDocument.createElementNS(NS, "text");
        t.setAttribute("x", bb.x + bb.width / 2);
        t.setAttribute("y", bb.y + bb.height / 2 + (j - 1) * size * 1.3);
        t.setAttribute("text-anchor", "middle");
        t.setAttribute("font-size", size);
        t.setAttribute("fill", g.font);
        t.textContent = line;
        box.appendChild(t);
      });
      var title = svg.ownerDocument.createElementNS(NS, "title");
      title.textContent = g.tooltip;
      box.appendChild(title);
      box.addEventListener("click", function (e) { if (!moved) { e.stopPropagation(); toggle(k); showGroup(k); } });
      boxes.appendChild(box);
    });
  }
  function toggle(k) { collapsed[k] = !collapsed[k]; render(); }

  data.layers.forEach(function (_, i) {
    var n = document.getElementById("n" + i);
    if (n) n.addEventListener("click", function (e) { if (!moved) { e.stopPropagation(); showRow(i); } });
  });
  group.forEach(function (el, k) {
    if (!el) return;
    var label = el.querySelector("text");
    if (label) {
      label.setAttribute("class", "block-label");
      label.addEventListener("click", function (e) { if (!moved) { e.stopPropagation(); toggle(k); showGroup(k); } });
    }
  });

  function setAll(level) {  // collapse every block at `level` (null: expand all)
    collapsed = {};
    data.groups.forEach(function (g, k) { if (level !== null && g.level === level) collapsed[k] = true; });
    render();
  }
  var bar = document.getElementById("toolbar");
  bar.querySelector("[data-act=fit]").addEventListener("click", function () { fit(); });
  bar.querySelector("[data-act=expand]").addEventListener("click", function () { setAll(null); });
  bar.querySelector("[data-act=collapse]").addEventListener("click", function () { setAll(0); });

  setAll(data.depth === null ? null : data.depth);
  fit(true);
  window.cnncalcDraw = {collapse: setAll, fit: fit};
})();
