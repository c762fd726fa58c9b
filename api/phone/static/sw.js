// Service worker of the phone pages: the pages, their script and style and the places answer are
// kept, so a field page opens and works without a signal. Network first (a fresh page whenever
// there is one), the kept copy otherwise. Submissions are never cached: the pages queue them.
"use strict";
const CACHE = "linkage-m-v1";
const KEEP = [
  "/m/", "/m/field", "/m/report", "/m/track", "/m/topic", "/m/poll",
  "/m/static/phone.css", "/m/static/phone.js", "/m/static/field.js", "/api/v1/public/places",
];

self.addEventListener("install", (ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(KEEP)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (ev) => {
  ev.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});
self.addEventListener("fetch", (ev) => {
  const url = new URL(ev.request.url);
  const kept = url.pathname.startsWith("/m/") || url.pathname === "/api/v1/public/places";
  if (ev.request.method !== "GET" || url.origin !== location.origin || !kept) return;
  ev.respondWith(
    fetch(ev.request)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put(ev.request, copy));
        }
        return res;
      })
      .catch(() => caches.match(ev.request, { ignoreSearch: true })),
  );
});
