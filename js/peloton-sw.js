// peloton's service worker: pages and their files from the network when it
// answers, from the last copy when it does not, so a page visited before
// opens offline (its edits then come from the offline store, IndexedDB).
// Served by peloton::axum::service_worker_route at /peloton-sw.js.
const CACHE = 'peloton-pages-v1';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          event.waitUntil(caches.open(CACHE).then((cache) => cache.put(request, copy)));
        }
        return response;
      })
      .catch(async () => {
        const cached = await caches.match(request, { ignoreVary: true });
        if (cached) return cached;
        throw new Error(`offline, and ${url.pathname} was never stored`);
      }),
  );
});
