/* The scan station's service worker (served as /scan/sw.js, scope /scan/).

   It keeps the scan pages and their static files so a scan page loads while the server
   is briefly unreachable; the scans themselves wait in the page's IndexedDB outbox
   (scan.js). Network first, the kept copy only when the network fails: a page served
   while the server is up is always the server's current one. The API and the header's
   context are never kept or answered from here. */
"use strict";
var CACHE = "koordinator-scan-v1";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (ev) {
  ev.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) {
      return n.indexOf("koordinator-scan-") === 0 && n !== CACHE;
    }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function keepable(r) { return r && r.ok && r.type === "basic" && !r.redirected; }

// the page names the files it needs: itself, its scripts and styles
self.addEventListener("message", function (ev) {
  var files = (ev.data && ev.data.keep) || [];
  var port = ev.ports && ev.ports[0];
  ev.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(files.map(function (f) {
      return fetch(f, {credentials: "same-origin", cache: "no-store"}).then(function (r) {
        if (keepable(r)) return cache.put(f, r);
      });
    }));
  }).then(function () { if (port) port.postMessage("ready"); },
          function () { if (port) port.postMessage("failed"); }));
});

function kept(request) {
  var u = new URL(request.url);
  return /^\/scan\/[^/]+$/.test(u.pathname) && u.pathname !== "/scan/sw.js" ||
    u.pathname.indexOf("/static/web/") === 0;
}

self.addEventListener("fetch", function (ev) {
  var request = ev.request;
  if (request.method !== "GET") return;
  var u = new URL(request.url);
  if (u.origin !== self.location.origin || !kept(request)) return;
  var key = u.pathname;
  ev.respondWith(fetch(request).then(function (r) {
    if (keepable(r)) {
      var copy = r.clone();
      caches.open(CACHE).then(function (cache) { cache.put(key, copy); });
    }
    return r;
  }, function (err) {
    return caches.open(CACHE).then(function (cache) { return cache.match(key); })
      .then(function (r) { if (r) return r; throw err; });
  }));
});
