/* Koordinator pages: live regions and auto-submitting selects (the scan station: scan.js).
   No framework, no build step. */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // Sizes from the server: the Content-Security-Policy forbids style="..." attributes, so
  // templates write data-width / data-left (percent) and data-indent (levels) instead.
  function sizes(root) {
    function each(attr, apply) {
      Array.prototype.forEach.call(root.querySelectorAll("[" + attr + "]"), function (el) {
        var n = parseFloat(el.getAttribute(attr));
        if (isFinite(n)) apply(el.style, n);
      });
    }
    each("data-width", function (s, n) { s.width = n + "%"; });
    each("data-left", function (s, n) { s.left = n + "%"; });
    each("data-indent", function (s, n) { s.marginLeft = (n * 1.5) + "em"; });
  }

  // Live regions: <div data-live="/url"> is refreshed from its fragment URL every second.
  function live(el) {
    var url = el.getAttribute("data-live"), last = null, busy = false, stopped = false;
    function tick() {
      if (stopped || busy || document.hidden) return;
      busy = true;
      fetch(url, {credentials: "same-origin", redirect: "manual",
                  headers: {"X-Requested-With": "fetch"}})
        .then(function (r) {
          if (r.type === "opaqueredirect" || r.status === 401 || r.status === 403) {
            stopped = true; return null;
          }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html !== null && html !== last) {
            el.innerHTML = html;
            sizes(el);
            el.setAttribute("data-updated", String(Date.now()));
            last = html;
          }
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }
    setInterval(tick, 1000);
  }

  // The plant floor: <div data-floor-live="/floor/live" data-version="..."> asks every
  // second for the tiles changed since the floor version it holds; the answer lists every
  // station in order, with markup for a changed tile and null for one to keep as it is.
  function floorLive(el) {
    var url = el.getAttribute("data-floor-live"), busy = false, stopped = false;
    function tick() {
      if (stopped || busy || document.hidden) return;
      busy = true;
      var since = el.getAttribute("data-version") || "";
      fetch(url + "?since=" + encodeURIComponent(since),
            {credentials: "same-origin", redirect: "manual",
             headers: {"X-Requested-With": "fetch"}})
        .then(function (r) {
          if (r.type === "opaqueredirect" || r.status === 401 || r.status === 403) {
            stopped = true; return null;
          }
          return r.ok ? r.json() : null;
        })
        .then(function (body) {
          if (body) apply(body);
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }
    function apply(body) {
      var grid = el.querySelector(".floor-grid");
      if (!grid) return;
      var shown = {}, before = [];
      Array.prototype.forEach.call(grid.querySelectorAll(":scope > .tile"), function (t) {
        shown[t.getAttribute("data-station")] = t;
        before.push(t);
      });
      var next = [], changed = [];
      for (var i = 0; i < body.tiles.length; i++) {
        var code = body.tiles[i][0], html = body.tiles[i][1], node;
        if (html === null) {
          node = shown[code];
          if (!node) { el.removeAttribute("data-version"); return; }  // all of it next time
        } else {
          var made = document.createElement("template");
          made.innerHTML = html;
          node = made.content.firstElementChild;
          changed.push([shown[code], node]);
        }
        next.push(node);
      }
      var same = next.length === before.length;
      for (var j = 0; same && j < before.length; j++) {
        var had = before[j].getAttribute("data-station");
        same = had === body.tiles[j][0];
      }
      if (same) {
        changed.forEach(function (pair) { pair[0].replaceWith(pair[1]); });
      } else if (next.length) {
        grid.replaceChildren.apply(grid, next);
      } else {
        grid.innerHTML = body.empty;
      }
      el.setAttribute("data-version", body.version);
      if (changed.length || !same) el.setAttribute("data-updated", String(Date.now()));
    }
    setInterval(tick, 1000);
  }

  function autosubmit(sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  }

  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_m, k) { return values[k]; });
  }

  function postJSON(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
                       headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
                       body: JSON.stringify(body)});
  }

  // The label template editor: the design is the form; every change re-draws the preview
  // (POST /api/label-templates/preview answers SVG) and "save" posts a new version.
  function templateEditor(form) {
    var rows = form.querySelector("#boxes tbody");
    var rowTemplate = document.getElementById("box-row");
    var preview = document.getElementById("label-preview");
    var problem = document.getElementById("preview-error");
    var status = document.getElementById("template-status");
    var design = JSON.parse(document.getElementById("template-design").textContent || "{}");
    var timer = null, seq = 0, lastUrl = null;

    function addRow(box) {
      var tr = rowTemplate.content.firstElementChild.cloneNode(true);
      ["field", "x", "y", "w", "h", "align"].forEach(function (k) {
        if (box[k] !== undefined) tr.querySelector("[name=" + k + "]").value = box[k];
      });
      tr.querySelector("[name=bold]").checked = !!box.bold;
      tr.querySelector("[name=text]").value = box.text == null ? "" : box.text;
      rows.appendChild(tr);
    }
    function read() {
      var boxes = Array.prototype.map.call(rows.querySelectorAll("tr"), function (tr) {
        var box = {field: tr.querySelector("[name=field]").value,
                   align: tr.querySelector("[name=align]").value,
                   bold: tr.querySelector("[name=bold]").checked};
        ["x", "y", "w", "h"].forEach(function (k) {
          box[k] = parseFloat(tr.querySelector("[name=" + k + "]").value) || 0;
        });
        var text = tr.querySelector("[name=text]").value;
        if (text !== "") box.text = text;
        return box;
      });
      return {width: parseFloat(form.width.value) || 0, height: parseFloat(form.height.value) || 0,
              dpi: parseInt(form.dpi.value, 10), symbology: form.symbology.value, boxes: boxes};
    }
    function draw() {
      var mine = ++seq;
      postJSON(form.getAttribute("data-preview"), {design: read(), format: "svg"})
        .then(function (r) {
          if (r.ok) return r.blob().then(function (b) { return {blob: b}; });
          return r.json().catch(function () { return {}; }).then(function (j) { return {error: j}; });
        })
        .then(function (res) {
          if (mine !== seq) return;
          if (res.blob) {
            if (lastUrl) URL.revokeObjectURL(lastUrl);
            lastUrl = URL.createObjectURL(res.blob);
            preview.src = lastUrl;
            preview.setAttribute("data-version", String(mine));
            problem.hidden = true;
          } else {
            problem.textContent = (res.error && res.error.message) || "?";
            problem.hidden = false;
          }
        });
    }
    function later() { clearTimeout(timer); timer = setTimeout(draw, 150); }

    form.width.value = design.width || 50.8;
    form.height.value = design.height || 25.4;
    form.dpi.value = String(design.dpi || 203);
    form.symbology.value = design.symbology || "code128";
    (design.boxes || [{field: "symbol", x: 0, y: 0, w: 100, h: 60}]).forEach(addRow);
    form.size.addEventListener("change", function () {
      if (!form.size.value) return;
      var wh = form.size.value.split("x");
      form.width.value = wh[0]; form.height.value = wh[1];
    });
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    rows.addEventListener("click", function (e) {
      if (e.target.hasAttribute("data-remove")) { e.target.closest("tr").remove(); later(); }
    });
    document.getElementById("add-box").addEventListener("click", function () {
      addRow({field: "text", x: 0, y: 0, w: 100, h: 12, align: "middle"});
      later();
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      postJSON(form.getAttribute("data-save"), {name: form.name.value.trim(), design: read()})
        .then(function (r) { return r.json().then(function (j) { return {ok: r.ok, json: j}; }); })
        .then(function (r) {
          status.textContent = r.ok ? fill(form.getAttribute("data-text-saved"), r.json)
            : form.getAttribute("data-text-failed") + ": " + (r.json.message || "");
          status.className = r.ok ? "flash" : "flash error";
        });
    });
    draw();
  }

  // The print page: POST /api/print-sheets starts a sheet drawn in the background; the
  // progress bar follows GET /api/print-sheets/<id> until the PDF is ready.
  function printSheets(form) {
    var bar = document.getElementById("sheet-progress");
    var status = document.getElementById("sheet-status");
    var link = document.getElementById("sheet-link");
    function mode() { return form.querySelector("input[name=mode]:checked").value; }
    function showMode() {
      Array.prototype.forEach.call(form.querySelectorAll("fieldset[data-mode]"), function (f) {
        f.hidden = f.getAttribute("data-mode") !== mode();
        f.disabled = f.hidden;
      });
    }
    function report(state) {
      bar.hidden = false;
      bar.max = Math.max(state.total, 1);
      bar.value = state.done;
      var key = {running: "data-text-running", done: "data-text-done", failed: "data-text-failed"};
      status.textContent = fill(form.getAttribute(key[state.state]), state) +
        (state.error ? ": " + state.error : "");
      status.setAttribute("data-state", state.state);
    }
    function poll(url, id) {
      fetch(url + "/" + id, {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (state) {
          report(state);
          if (state.state === "running") { setTimeout(function () { poll(url, id); }, 250); return; }
          if (state.state === "done") {
            link.href = url + "/" + id + "/pdf";
            link.hidden = false;
          }
        });
    }
    function body() {
      var out = {};
      if (form.stock.value) out.stock = form.stock.value;
      if (mode() === "commands") {
        out.commands = form.commands.value;
        return Promise.resolve(out);
      }
      ["order", "product", "lot"].forEach(function (k) {
        var v = form[k].value.trim();
        if (v) out[k] = v;
      });
      var codes = form.codes.value.split(/[\s,;]+/).filter(Boolean);
      if (codes.length) out.codes = codes;
      out.template = form.template.value;
      var file = form.csv.files && form.csv.files[0];
      if (!file) return Promise.resolve(out);
      return file.text().then(function (text) { out.csv = text; return out; });
    }
    form.addEventListener("change", function (e) { if (e.target.name === "mode") showMode(); });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      link.hidden = true;
      var url = form.getAttribute("data-start");
      body().then(function (b) { return postJSON(url, b); })
        .then(function (r) { return r.json().then(function (j) { return {ok: r.ok, json: j}; }); })
        .then(function (r) {
          if (!r.ok) {
            bar.hidden = true;
            status.textContent = form.getAttribute("data-text-failed") + ": " + (r.json.message || "");
            status.setAttribute("data-state", "refused");
            return;
          }
          report(r.json);
          poll(url, r.json.id);
        });
    });
    showMode();
  }

  // The schedule timeline: drag a bar to move an order (start and due together), or a grip
  // at either end to move only its start or its due day. On release the new dates are
  // posted (the same edit and checks as PATCH /api/orders/<number>); the answer is shown in
  // #timeline-status and the timeline is drawn again from the server. The date fields of
  // each row do the same without a pointer.
  function timeline(root) {
    var status = document.getElementById("timeline-status");
    var days = parseInt(root.getAttribute("data-days"), 10) || 1;
    var drag = null;
    function addDays(iso, n) {
      var d = new Date(iso + "T00:00:00Z");
      d.setUTCDate(d.getUTCDate() + n);
      return d.toISOString().slice(0, 10);
    }
    function say(text, ok) {
      status.textContent = text;
      status.className = ok ? "flash" : "flash error";
      status.setAttribute("data-state", ok ? "moved" : "refused");
      status.hidden = false;
    }
    function redraw() {
      return fetch(root.getAttribute("data-refresh"), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html !== null) { root.innerHTML = html; sizes(root); }
          root.setAttribute("data-updated", String(Date.now()));
        });
    }
    root.addEventListener("pointerdown", function (e) {
      var bar = e.target.closest(".gantt-bar");
      if (!bar || e.button !== 0) return;
      e.preventDefault();
      var grip = e.target.closest(".gantt-grip");
      drag = {bar: bar, x: e.clientX, edge: grip ? grip.getAttribute("data-edge") : "both",
              left: parseFloat(bar.getAttribute("data-left")),
              width: parseFloat(bar.getAttribute("data-width")),
              dayPx: bar.parentNode.getBoundingClientRect().width / days, moved: 0};
      bar.classList.add("dragging");
      bar.setPointerCapture(e.pointerId);
    });
    root.addEventListener("pointermove", function (e) {
      if (!drag) return;
      var n = Math.round((e.clientX - drag.x) / drag.dayPx), step = 100 / days, s = drag.bar.style;
      drag.moved = n;
      if (drag.edge === "both") s.left = (drag.left + n * step) + "%";
      if (drag.edge === "start") { s.left = (drag.left + n * step) + "%"; s.width = Math.max(drag.width - n * step, step / 2) + "%"; }
      if (drag.edge === "due") s.width = Math.max(drag.width + n * step, step / 2) + "%";
    });
    function drop() {
      if (!drag) return;
      var d = drag, bar = d.bar;
      drag = null;
      bar.classList.remove("dragging");
      if (!d.moved) return;
      var start = bar.getAttribute("data-start"), due = bar.getAttribute("data-due");
      if (d.edge !== "due") start = addDays(start, d.moved);
      if (d.edge !== "start") due = addDays(due, d.moved);
      postJSON(bar.getAttribute("data-move"), {start: start, due: due})
        .then(function (r) { return r.json().catch(function () { return {}; }); })
        .then(function (j) {
          say(j.message || root.getAttribute("data-text-failed"), !!j.ok);
          return redraw();
        });
    }
    root.addEventListener("pointerup", drop);
    root.addEventListener("pointercancel", drop);
  }


  // The notification area: the unread alerts' count in the header, kept live (every 5 s).
  function alertCount(link) {
    var url = link.getAttribute("data-alerts"), count = link.querySelector("[data-unread]");
    function tick() {
      if (document.hidden) return;
      fetch(url, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          if (!body) return;
          count.textContent = String(body.unread);
          link.classList.toggle("has-unread", body.unread > 0);
          if (body.alerts.length) link.title = body.alerts[0].text;
        })
        .catch(function () {});
    }
    setInterval(tick, 5000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    sizes(document);
    var alertsLink = document.getElementById("alerts-link");
    if (alertsLink) alertCount(alertsLink);
    Array.prototype.forEach.call(document.querySelectorAll("[data-live]"), live);
    Array.prototype.forEach.call(document.querySelectorAll("[data-floor-live]"), floorLive);
    Array.prototype.forEach.call(document.querySelectorAll("select[data-autosubmit]"), autosubmit);
    var editor = document.getElementById("template-form");
    if (editor) templateEditor(editor);
    var sheets = document.getElementById("print-form");
    if (sheets) printSheets(sheets);
    var gantt = document.getElementById("timeline");
    if (gantt && gantt.hasAttribute("data-refresh")) timeline(gantt);
  });
})();
