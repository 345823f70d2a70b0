/* The scan station page: the browser as a scanner agent.

   Every scan gets its scan_id the moment it is scanned (the agent's layout: the time in
   milliseconds, 12 hex digits, then 80 random bits, 20 hex digits), goes into an outbox in
   IndexedDB and leaves it only when the server has answered (POST /api/scans dedupes by
   scan_id, so a resend after a lost answer gets the first answer again, marked duplicate).
   The outbox is sent one scan at a time in the order scanned, so each scanner's scans
   reach the ledger in order; it survives a reload and a sign-in. A service worker
   (/scan/sw.js) keeps the page and its files so the page loads while the server is away.

   A camera module (scan-camera.js) hands its reads in as a `kz:scan` event on the
   `.scan[data-scanner]` element: {detail: {code, source}}; they go through the same outbox.
   No framework, no build step, nothing inline (the Content-Security-Policy forbids it). */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var DB_NAME = "koordinator-scan", STORE = "outbox";

  function hex(bytes) {
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return s;
  }

  // 32 hex digits, time-ordered: as scanner_agent/outbox.py new_scan_id()
  function newScanId() {
    var ms = Date.now().toString(16);
    while (ms.length < 12) ms = "0" + ms;
    var rnd = new Uint8Array(10);
    crypto.getRandomValues(rnd);
    return ms + hex(rnd);
  }

  // --- the outbox (IndexedDB) ----------------------------------------------------------
  function req(r) {
    return new Promise(function (resolve, reject) {
      r.onsuccess = function () { resolve(r.result); };
      r.onerror = function () { reject(r.error); };
    });
  }
  var dbp = null;
  function openDb() {
    if (dbp) return dbp;
    var r = indexedDB.open(DB_NAME, 1);
    r.onupgradeneeded = function () {
      r.result.createObjectStore(STORE, {keyPath: "seq", autoIncrement: true});
    };
    dbp = req(r);
    return dbp;
  }
  function tx(mode, fn) {
    return openDb().then(function (db) {
      var t = db.transaction(STORE, mode);
      var out = fn(t.objectStore(STORE));
      return new Promise(function (resolve, reject) {
        t.oncomplete = function () { resolve(out && out.result !== undefined ? out.result : out); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error); };
      });
    });
  }
  var outbox = {
    add: function (rec) { return tx("readwrite", function (s) { return s.add(rec); }); },
    remove: function (seq) { return tx("readwrite", function (s) { s.delete(seq); }); },
    first: function () {
      return tx("readonly", function (s) { return s.openCursor(); }).then(function (c) {
        return c ? c.value : null;
      });
    },
    count: function () { return tx("readonly", function (s) { return s.count(); }); },
    bump: function (rec) { return tx("readwrite", function (s) { s.put(rec); }); }
  };

  // one tab sends at a time: two tabs sending the same outbox would still be safe (dedupe)
  // but could pass each other
  function exclusive(fn) {
    if (navigator.locks && navigator.locks.request) {
      return navigator.locks.request("koordinator-outbox", fn);
    }
    return fn();
  }

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
    var en = T.lang.split(/[-_]/)[0] === "en";
    var input = document.getElementById("scan-input");
    var form = root.querySelector(".scan-form");
    var answer = document.getElementById("answer");
    var recent = document.getElementById("recent");
    var scanner = root.getAttribute("data-scanner");
    var url = root.getAttribute("data-scan-url");
    var contextUrl = root.getAttribute("data-context-url");
    var head = document.getElementById("scan-ctx");
    var signout = document.getElementById("scan-signout");
    var pendingEl = document.getElementById("pending");
    var offlineEl = document.getElementById("offline");
    var signinEl = document.getElementById("signin-again");
    var qtyEl = document.getElementById("scan-qty");
    var reasonEl = document.getElementById("scan-reason");
    var extraNow = document.getElementById("extra-now");
    var shownAnswers = 0;
    var offline = false, sessionEnded = false, sending = false, drainAgain = false;
    var retryTimer = null, backoff = 500;
    var context = {operator: signout && !signout.hidden ? "?" : null};

    // --- the header: the scanner's context, after every answer and every few seconds ----
    function showContext(ctx) {
      head.textContent = ctx.text;
      signout.hidden = !ctx.operator;
      Array.prototype.forEach.call(root.querySelectorAll("[data-ctx]"), function (dd) {
        var v = ctx[dd.getAttribute("data-ctx")];
        dd.textContent = v || "–";
        if (dd.getAttribute("data-ctx") === "location") dd.parentNode.hidden = !v;
      });
      root.setAttribute("data-context-at", String(Date.now()));
    }
    function fetchContext() {
      return fetch(contextUrl, {credentials: "same-origin", redirect: "manual",
                                headers: {"X-Requested-With": "fetch"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .catch(function () { return null; })
        .then(function (ctx) {
          if (ctx) { context = ctx; showContext(ctx); }
          return ctx;
        });
    }
    fetchContext();
    setInterval(function () {
      if (!document.hidden && !offline && !sessionEnded) fetchContext();
    }, 3000);

    function fill(template, value) { return template.replace("{name}", value || ""); }

    // a command's answer, worded from what the scanner's context became
    function commandWording(res, before, after) {
      var kind = res.action.slice("command:".length);
      if (!after) return en ? res.message : (T.commands[res.action] || T.command);
      if (kind === "op") {
        return after.operator ? fill(T.signed_in, after.operator)
                              : fill(T.signed_out_again, before.operator);
      }
      if (kind === "out") return before.operator ? fill(T.signed_out, before.operator) : res.message;
      if (kind === "ord") return fill(T.order_selected, after.order);
      if (kind === "act") return fill(T.action_selected, after.action_text);
      if (kind === "why") return fill(T.reason_selected, after.reason_text);
      if (kind === "qc") return after.action === "hold" ? T.qc_fail : T.qc_pass;
      if (kind === "loc") return fill(T.location_selected, after.location);
      if (kind === "shp") return en ? res.message : fill(T.shipment_selected, res.message.split(":")[0].replace("Shipment ", ""));
      if (kind === "count") return en ? res.message : fill(T.count_mode, after.count);
      return T.defaults;
    }

    // keep the wedge scanner's keystrokes in the input, unless a person uses another control
    function keepFocus() {
      var a = document.activeElement;
      if (a === input) return;
      if (a && a !== document.body && /^(SELECT|BUTTON|INPUT|TEXTAREA|A|SUMMARY)$/.test(a.tagName)) return;
      input.focus();
    }
    input.addEventListener("blur", function () { setTimeout(keepFocus, 50); });
    document.addEventListener("click", keepFocus);
    setInterval(keepFocus, 1000);
    keepFocus();

    // English pages show the core's own message; other languages word the answer from
    // its reason code and parameters (action, stage), never from the English text.
    function wording(res) {
      if (res.status === "rejected") {
        var text = T.reasons[res.reason] || (en ? res.message : "") || res.reason;
        var detail = (T.messages || {})[res.message];
        if (!detail && en) detail = res.message;
        if (!detail && res.reason === "illegal_transition" && res.action && res.stage) {
          detail = T.illegal.replace("%(action)s", T.verbs[res.action] || res.action)
            .replace("%(stage)s", T.stages[res.stage] || res.stage);
        }
        if (detail && detail !== text) text += " — " + detail;
        var next = (T.next || {})[res.reason];
        if (next && text.indexOf(next) < 0) text += " " + next;
        return text;
      }
      // where the item is now (a location's code, the same in every language)
      var at = res.location && res.action ? " · " + res.location : "";
      if (en || !res.action) {
        return res.message + (res.message.indexOf("→ " + res.location) < 0 ? at : "");
      }
      var said = T.actions[res.action] || res.action;
      if (res.stage) said += " → " + (T.stages[res.stage] || res.stage);
      said += at;
      // a station's print rule queued the label: say where it prints
      (res.warnings || []).forEach(function (w) {
        if (w.code === "label_printing" && T.label_printing) {
          said += " - " + T.label_printing.replace("{printer}", w.printer || "");
        }
      });
      return said;
    }

    function show(kind, status, message, code) {
      answer.className = "answer " + kind;
      answer.setAttribute("data-seq", String(++shownAnswers));
      answer.querySelector(".answer-status").textContent = status;
      answer.querySelector(".answer-message").textContent = message;
      if (kind !== "saved") {
        beep(kind === "ok");
        if (navigator.vibrate) navigator.vibrate(kind === "ok" ? 80 : [120, 80, 120]);
      }
      var li = document.createElement("li");
      li.className = kind === "ok" ? "accepted" : kind === "saved" ? "saved" : "rejected";
      var c = document.createElement("span"); c.className = "code"; c.textContent = code.slice(0, 32);
      var m = document.createElement("span"); m.textContent = message;
      var t = document.createElement("small"); t.textContent = new Date().toLocaleTimeString(T.lang);
      li.appendChild(c); li.appendChild(m); li.appendChild(t);
      recent.insertBefore(li, recent.firstChild);
      while (recent.children.length > 10) recent.removeChild(recent.lastChild);
      return li;
    }

    // the product's name, for rejections in every language and for accepted answers on
    // pages that cannot show the core's English message
    var itemUrl = root.getAttribute("data-item-url");
    function productOf(item, li) {
      var shown = answer.getAttribute("data-seq");
      fetch(itemUrl.replace("CODE", encodeURIComponent(item)), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          if (!j || !j.product) return;
          var text = li.children[1].textContent;
          if (text.indexOf(j.product) >= 0) return;
          // the lot too: which lot a bare GTIN took (FEFO)
          var what = j.product + (j.lot ? " · " + T.lot + " " + j.lot : "");
          li.children[1].textContent = what + " · " + text;
          if (answer.getAttribute("data-seq") === shown) {
            answer.querySelector(".answer-message").textContent = li.children[1].textContent;
          }
        })
        .catch(function () {});
    }

    // --- quantity and reason for the next scan -------------------------------------
    function extraText() {
      var parts = [];
      if (qtyEl.value) parts.push(T.qty_label + " " + qtyEl.value);
      if (reasonEl.value) parts.push(reasonEl.options[reasonEl.selectedIndex].textContent);
      extraNow.textContent = parts.join(" · ");
      root.classList.toggle("has-extra", parts.length > 0);
    }
    document.getElementById("keypad").addEventListener("click", function (ev) {
      var key = ev.target.getAttribute && ev.target.getAttribute("data-key");
      if (!key) return;
      if (key === "C") qtyEl.value = qtyEl.value.slice(0, -1);
      else if (key === "." && qtyEl.value.indexOf(".") >= 0) return;
      else if (qtyEl.value.length < 12) qtyEl.value += key;
      extraText();
      input.focus();  // the next scan is the wedge's keystrokes
    });
    reasonEl.addEventListener("change", function () { extraText(); input.focus(); });
    document.getElementById("extra-clear").addEventListener("click", function () {
      qtyEl.value = ""; reasonEl.value = ""; extraText(); input.focus();
    });
    function takeExtra(code) {
      var extra = {};
      if (/^CMD-/i.test(code)) {
        // a reason label also sets the picker: the next scan carries it even offline
        var why = /^CMD-WHY-(.+)$/i.exec(code);
        if (why) {
          var v = why[1].toUpperCase();
          if (Array.prototype.some.call(reasonEl.options, function (o) { return o.value === v; })) {
            reasonEl.value = v; extraText();
          }
        }
        return extra;
      }
      var q = parseFloat(qtyEl.value);
      if (isFinite(q) && q > 0) extra.qty = q;
      if (reasonEl.value) extra.reason = reasonEl.value;
      if (qtyEl.value || reasonEl.value) { qtyEl.value = ""; reasonEl.value = ""; extraText(); }
      return extra;
    }

    // --- the outbox ------------------------------------------------------------------
    function countPending() {
      return outbox.count().then(function (n) {
        pendingEl.textContent = String(n);
        pendingEl.setAttribute("data-count", String(n));
        root.classList.toggle("has-pending", n > 0);
        return n;
      });
    }
    function setOffline(on) {
      offline = on;
      offlineEl.hidden = !on;
      root.classList.toggle("is-offline", on);
    }
    function setSessionEnded(on) {
      sessionEnded = on;
      signinEl.hidden = !on;
      if (on) setOffline(false);
    }

    function enqueue(code, source) {
      var rec = Object.assign({
        scan_id: newScanId(), scanner_id: scanner, code: code,
        scanned_at: new Date().toISOString(), source: source || "barcode", attempts: 0
      }, takeExtra(code));
      return outbox.add(rec).then(function () {
        countPending();
        if (offline || sessionEnded) {
          show("saved", T.saved, sessionEnded ? T.saved_signin : T.saved_detail, code);
        }
        kick(0);
      }).catch(function () {
        // no IndexedDB (a private window that refuses it): send without keeping
        show("bad", T.rejected, T.no_outbox, code);
      });
    }

    function kick(delay) {
      if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
      if (delay) { retryTimer = setTimeout(function () { retryTimer = null; drain(); }, delay); }
      else drain();
    }

    // a request with no answer in this time is given up and sent again (the server dedupes
    // by scan_id): a connection that died without closing must not hold the outbox
    var SEND_TIMEOUT_MS = 10000;
    function post(rec) {
      var body = {scan_id: rec.scan_id, scanner_id: rec.scanner_id, code: rec.code,
                  scanned_at: rec.scanned_at, source: rec.source};
      if (rec.qty !== undefined) body.qty = rec.qty;
      if (rec.reason !== undefined) body.reason = rec.reason;
      var ctl = new AbortController();
      var timer = setTimeout(function () { ctl.abort(); }, SEND_TIMEOUT_MS);
      return fetch(url, {method: "POST", credentials: "same-origin", redirect: "manual",
                         headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
                         body: JSON.stringify(body), signal: ctl.signal})
        .then(function (r) {
          return r.json().catch(function () { return {}; }).then(function (j) {
            return {http: r.status, type: r.type, json: j || {}};
          });
        })
        .finally(function () { clearTimeout(timer); });
    }

    // "answered": the server decided (kept in the ledger, or refused as malformed);
    // "auth": sign in again; "retry": no answer (network, server restarting)
    function outcome(r) {
      if (r.type === "opaqueredirect" || r.http === 401) return "auth";
      if (r.http === 400 && r.json.error === "csrf_failed") return "auth";
      if (r.http === 0 || r.http === 408 || r.http === 429 || r.http >= 500) return "retry";
      return "answered";
    }

    // one sender at a time; a scan queued while it runs (after it found the outbox empty)
    // asks for another pass, or it would wait for the next scan to be sent
    function drain() {
      if (sessionEnded) return;
      if (sending) { drainAgain = true; return; }
      sending = true;
      drainAgain = false;
      exclusive(function () { return loop(); }).catch(function () {}).then(function () {
        sending = false;
        if (drainAgain) drain();
      });
    }

    function loop() {
      return outbox.first().then(function (rec) {
        if (!rec) { backoff = 500; return countPending(); }
        return post(rec).then(function (r) {
          var what = outcome(r);
          if (what === "auth") { setSessionEnded(true); return countPending(); }
          if (what === "retry") return failed(rec);
          setOffline(false);
          backoff = 500;
          return outbox.remove(rec.seq).then(function () {
            countPending();
            if (rec.scanner_id === scanner) answered(rec, r);
            return loop();
          });
        }, function () { return failed(rec); });
      });
    }

    function failed(rec) {
      var first = !offline;
      setOffline(true);
      rec.attempts = (rec.attempts || 0) + 1;
      if (first && rec.scanner_id === scanner) show("saved", T.saved, T.saved_detail, rec.code);
      backoff = Math.min(backoff * 2, 5000);
      kick(backoff);
      return outbox.bump(rec).then(countPending);
    }

    function answered(rec, r) {
      var res = r.json, code = rec.code;
      var before = context;
      if (res.status === "accepted" && res.action && res.action.indexOf("command:") === 0) {
        return fetchContext().then(function (after) {
          var status = T.accepted + (res.duplicate ? " · " + T.duplicate : "");
          show("ok", status, commandWording(res, before, after), code);
        });
      }
      if (res.status === "accepted" || res.status === "rejected") {
        var ok = res.status === "accepted";
        var status = ok ? T.accepted : T.rejected;
        if (res.duplicate) status += " · " + T.duplicate;
        var li = show(ok ? "ok" : "bad", status, wording(res), code);
        if (res.item && (!ok || !en)) productOf(res.item, li);
      } else {
        var reason = res.error || "server_error";
        show("bad", T.rejected, T.reasons[reason] || res.message || reason, code);
      }
      refreshSoon();
    }

    var refreshTimer = null;
    function refreshSoon() {
      if (refreshTimer) return;
      refreshTimer = setTimeout(function () { refreshTimer = null; fetchContext(); }, 300);
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var code = input.value.trim();
      input.value = "";
      if (code) enqueue(code, "barcode");
    });
    signout.addEventListener("click", function () { enqueue("CMD-OUT", "barcode"); input.focus(); });
    root.addEventListener("kz:scan", function (ev) {
      var d = ev.detail || {};
      var code = String(d.code || "").trim();
      if (code) enqueue(code, d.source || "barcode");
    });
    window.addEventListener("online", function () { kick(0); });
    window.addEventListener("offline", function () { setOffline(true); });
    document.getElementById("signin-link").addEventListener("click", function () {
      // the outbox stays in IndexedDB: the page after sign-in sends it
    });

    extraText();
    // a scan made while the page was loading, before this script ran, was sent by the
    // browser itself as the form's GET (?code=): it joins the outbox like any other scan,
    // and leaves the address so that a reload does not scan it again
    var early = new URLSearchParams(location.search).get("code");
    if (early !== null) history.replaceState(null, "", location.pathname);
    if (early && early.trim()) enqueue(early.trim(), "barcode");
    countPending().then(function () { kick(0); });

    // the service worker keeps this page and its files for a load without the server
    var sw = root.getAttribute("data-sw-url");
    if (sw && navigator.serviceWorker) {
      navigator.serviceWorker.register(sw, {scope: sw.replace(/[^/]*$/, "")}).then(function () {
        return navigator.serviceWorker.ready;
      }).then(function (reg) {
        var files = [location.pathname];
        Array.prototype.forEach.call(document.querySelectorAll("script[src], link[rel=stylesheet]"),
          function (el) { files.push(el.getAttribute("src") || el.getAttribute("href")); });
        if (!reg.active) return;
        var ch = new MessageChannel();
        ch.port1.onmessage = function (ev) { root.setAttribute("data-sw", String(ev.data)); };
        reg.active.postMessage({keep: files}, [ch.port2]);
      }).catch(function () { root.setAttribute("data-sw", "none"); });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var scan = document.querySelector(".scan[data-scanner]");
    if (scan) scanStation(scan);
  });
})();
