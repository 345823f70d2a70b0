/* Koordinator pages: live regions, auto-submitting selects, and the scan station.
   No framework, no build step. */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

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
    var seq = 0;
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
      if (!after) return res.message;
      if (kind === "op") {
        return after.operator ? fill(T.signed_in, after.operator)
                              : fill(T.signed_out_again, before.operator);
      }
      if (kind === "out") return before.operator ? fill(T.signed_out, before.operator) : res.message;
      if (kind === "ord") return fill(T.order_selected, after.order);
      if (kind === "act") return fill(T.action_selected, after.action_text);
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

    function wording(res) {
      if (res.status === "rejected") {
        var text = T.reasons[res.reason] || res.message || res.reason;
        // English pages add the core's detail ("Cannot move a raw item that is new")
        if (T.lang === "en" && res.message && res.message !== text) text += " — " + res.message;
        return text;
      }
      if (T.lang === "en" || !res.action) return res.message;
      if (res.action.indexOf("command") === 0) return T.command + ": " + res.message;
      var said = T.actions[res.action] || res.action;
      if (res.stage) said += " → " + (T.stages[res.stage] || res.stage);
      return said;
    }

    function show(ok, status, message, code) {
      answer.className = "answer " + (ok ? "ok" : "bad");
      answer.querySelector(".answer-status").textContent = status;
      answer.querySelector(".answer-message").textContent = message;
      beep(ok);
      var li = document.createElement("li");
      li.className = ok ? "accepted" : "rejected";
      var c = document.createElement("span"); c.className = "code"; c.textContent = code.slice(0, 32);
      var m = document.createElement("span"); m.textContent = message;
      var t = document.createElement("small"); t.textContent = new Date().toLocaleTimeString();
      li.appendChild(c); li.appendChild(m); li.appendChild(t);
      recent.insertBefore(li, recent.firstChild);
      while (recent.children.length > 10) recent.removeChild(recent.lastChild);
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

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-live]"), live);
    Array.prototype.forEach.call(document.querySelectorAll("select[data-autosubmit]"), autosubmit);
    var scan = document.querySelector(".scan[data-scanner]");
    if (scan) scanStation(scan);
  });
})();
