/* Koordinator pages: live regions, auto-submitting selects, and the scan station.
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

  function autosubmit(sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  }

  // The scan station.
  function beep(ok) {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      var ctx = beep.ctx || (beep.ctx = new Ctx());
      var tones = ok ? [[1320, 0, 0.12]] : [[220, 0, 0.18], [180, 0.24, 0.3]];
      tones.forEach(function (t) {
        var osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.type = ok ? "sine" : "square";
        osc.frequency.value = t[0];
        gain.gain.setValueAtTime(0.25, ctx.currentTime + t[1]);
        gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + t[1] + t[2]);
        osc.connect(gain); gain.connect(ctx.destination);
        osc.start(ctx.currentTime + t[1]); osc.stop(ctx.currentTime + t[1] + t[2] + 0.02);
      });
    } catch (e) { /* no sound is better than no answer */ }
  }

  function scanStation(root) {
    var T = JSON.parse(document.getElementById("scan-catalogue").textContent);
    var input = document.getElementById("scan-input");
    var form = root.querySelector(".scan-form");
    var answer = document.getElementById("answer");
    var recent = document.getElementById("recent");
    var scanner = root.getAttribute("data-scanner");
    var url = root.getAttribute("data-scan-url");
    var contextUrl = root.getAttribute("data-context-url");
    var head = document.getElementById("scan-ctx");
    var signout = document.getElementById("scan-signout");
    var seq = 0, shownAnswers = 0;
    // the scanner's context as the header shows it; asked again after every answer
    var context = {operator: signout && !signout.hidden ? "?" : null};

    function fetchContext() {
      return fetch(contextUrl, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .catch(function () { return null; })
        .then(function (ctx) {
          if (ctx) {
            head.textContent = ctx.text;
            signout.hidden = !ctx.operator;
          }
          return ctx;
        });
    }
    fetchContext().then(function (ctx) { if (ctx) context = ctx; });

    function fill(template, value) { return template.replace("{name}", value || ""); }

    // a command's answer, worded from what the scanner's context became
    function commandWording(res, before, after) {
      var kind = res.action.slice("command:".length);
      if (!after) return T.lang.split(/[-_]/)[0] === "en" ? res.message : (T.commands[res.action] || T.command);
      if (kind === "op") {
        return after.operator ? fill(T.signed_in, after.operator)
                              : fill(T.signed_out_again, before.operator);
      }
      if (kind === "out") return before.operator ? fill(T.signed_out, before.operator) : res.message;
      if (kind === "ord") return fill(T.order_selected, after.order);
      if (kind === "act") return fill(T.action_selected, after.action_text);
      if (kind === "why") return fill(T.reason_selected, after.reason_text);
      if (kind === "qc") return after.action === "hold" ? T.qc_fail : T.qc_pass;
      return T.defaults;
    }

    // keep the wedge scanner's keystrokes in the input, unless a person uses another control
    function keepFocus() {
      var a = document.activeElement;
      if (a === input) return;
      if (a && a !== document.body && /^(SELECT|BUTTON|INPUT|TEXTAREA|A)$/.test(a.tagName)) return;
      input.focus();
    }
    input.addEventListener("blur", function () { setTimeout(keepFocus, 50); });
    document.addEventListener("click", keepFocus);
    setInterval(keepFocus, 1000);
    keepFocus();

    // English pages show the core's own message; other languages word the answer from
    // its reason code and parameters (action, stage), never from the English text.
    function wording(res) {
      var en = T.lang.split(/[-_]/)[0] === "en";
      if (res.status === "rejected") {
        var text = T.reasons[res.reason] || (en ? res.message : "") || res.reason;
        // the core's detail: translated when the catalogue has it whole ("This item is new
        // (never received): receive it first"), on English pages as it is, else worded
        // from the refused action and the item's stage
        var detail = (T.messages || {})[res.message];
        if (!detail && en) detail = res.message;
        if (!detail && res.reason === "illegal_transition" && res.action && res.stage) {
          detail = T.illegal.replace("%(action)s", T.verbs[res.action] || res.action)
            .replace("%(stage)s", T.stages[res.stage] || res.stage);
        }
        if (detail && detail !== text) text += " — " + detail;
        return text;
      }
      if (en || !res.action) return res.message;
      var said = T.actions[res.action] || res.action;
      if (res.stage) said += " → " + (T.stages[res.stage] || res.stage);
      return said;
    }

    function show(ok, status, message, code) {
      answer.className = "answer " + (ok ? "ok" : "bad");
      answer.setAttribute("data-seq", String(++shownAnswers));
      answer.querySelector(".answer-status").textContent = status;
      answer.querySelector(".answer-message").textContent = message;
      beep(ok);
      var li = document.createElement("li");
      li.className = ok ? "accepted" : "rejected";
      var c = document.createElement("span"); c.className = "code"; c.textContent = code.slice(0, 32);
      var m = document.createElement("span"); m.textContent = message;
      var t = document.createElement("small"); t.textContent = new Date().toLocaleTimeString(T.lang);
      li.appendChild(c); li.appendChild(m); li.appendChild(t);
      recent.insertBefore(li, recent.firstChild);
      while (recent.children.length > 10) recent.removeChild(recent.lastChild);
    }

    // the answer names the item's code only: the product's name is looked up for pages
    // that cannot show the core's English message
    var itemUrl = root.getAttribute("data-item-url");
    function productOf(item) {
      var shown = answer.getAttribute("data-seq");
      fetch(itemUrl.replace("CODE", encodeURIComponent(item)), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          if (!j || !j.product || answer.getAttribute("data-seq") !== shown) return;
          var m = answer.querySelector(".answer-message");
          m.textContent = j.product + " · " + m.textContent;
          var first = recent.firstChild && recent.firstChild.children[1];
          if (first) first.textContent = m.textContent;
        })
        .catch(function () {});
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var code = input.value.trim();
      input.value = "";
      if (code) send(code);
    });
    signout.addEventListener("click", function () { send("CMD-OUT"); input.focus(); });

    function send(code) {
      seq += 1;
      var body = {
        scan_id: "web-" + scanner + "-" + Date.now().toString(36) + "-" + seq + "-" +
          Math.random().toString(36).slice(2, 8),
        scanner_id: scanner, code: code, scanned_at: new Date().toISOString(), source: "barcode"
      };
      answer.classList.add("busy");
      fetch(url, {method: "POST", credentials: "same-origin",
                  headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
                  body: JSON.stringify(body)})
        .then(function (r) {
          return r.json().catch(function () { return {}; }).then(function (j) {
            return {http: r.status, json: j};
          });
        })
        .then(function (r) {
          var res = r.json || {};
          var before = context;
          if (res.status === "accepted" && res.action && res.action.indexOf("command:") === 0) {
            // the header and the answer both follow the context the command left
            return fetchContext().then(function (after) {
              if (after) context = after;
              var status = T.accepted + (res.duplicate ? " · " + T.duplicate : "");
              show(true, status, commandWording(res, before, after), code);
            });
          }
          if (res.status === "accepted" || res.status === "rejected") {
            var ok = res.status === "accepted";
            var status = ok ? T.accepted : T.rejected;
            if (res.duplicate) status += " · " + T.duplicate;
            show(ok, status, wording(res), code);
            if (ok && res.item && res.action && res.action.indexOf("command") !== 0 &&
                T.lang.split(/[-_]/)[0] !== "en") productOf(res.item);
          } else {
            var reason = res.error || "server_error";
            show(false, T.rejected, T.reasons[reason] || res.message || reason, code);
          }
          // another scanner's badge or a supervisor may have changed this context too
          return fetchContext().then(function (after) { if (after) context = after; });
        })
        .catch(function () { show(false, T.rejected, T.reasons.network, code); });
    }
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

  document.addEventListener("DOMContentLoaded", function () {
    sizes(document);
    Array.prototype.forEach.call(document.querySelectorAll("[data-live]"), live);
    Array.prototype.forEach.call(document.querySelectorAll("select[data-autosubmit]"), autosubmit);
    var scan = document.querySelector(".scan[data-scanner]");
    if (scan) scanStation(scan);
    var editor = document.getElementById("template-form");
    if (editor) templateEditor(editor);
    var sheets = document.getElementById("print-form");
    if (sheets) printSheets(sheets);
  });
})();
