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

  function autosubmit(sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    sizes(document);
    Array.prototype.forEach.call(document.querySelectorAll("[data-live]"), live);
    Array.prototype.forEach.call(document.querySelectorAll("select[data-autosubmit]"), autosubmit);
  });
})();
