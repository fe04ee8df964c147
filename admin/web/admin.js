// Live refresh of the dashboard: the server says "refresh" over
// Server-Sent Events and the page fetches its live part again. Without
// JavaScript the page is complete as it is and a reload updates it.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource || !window.fetch) return;
  var busy = false;
  var es = new EventSource(live.getAttribute("data-live"));
  es.addEventListener("refresh", function () {
    if (busy) return;
    busy = true;
    fetch(location.pathname + location.search, { headers: { "X-Partial": "1" }, credentials: "same-origin", redirect: "manual" })
      .then(function (r) {
        if (!r.ok) { es.close(); location.reload(); return null; }
        return r.text();
      })
      .then(function (html) { if (html !== null) { live.innerHTML = html; } })
      .catch(function () {})
      .then(function () { busy = false; });
  });
})();
