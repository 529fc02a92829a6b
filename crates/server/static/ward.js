// Progressive enhancement only: every page works without this script.
// Elements with data-refresh="N" (and an id) are refreshed from the same page every N seconds
// while the tab is visible, so a central analyst sees members acknowledge without reloading.
"use strict";
(function () {
  function refresh(el, seconds) {
    window.setTimeout(function tick() {
      if (document.visibilityState !== "visible") {
        window.setTimeout(tick, seconds * 1000);
        return;
      }
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html) {
            var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(el.id);
            if (fresh) { el.replaceChildren.apply(el, Array.from(fresh.childNodes)); }
          }
        })
        .catch(function () {})
        .finally(function () { window.setTimeout(tick, seconds * 1000); });
    }, seconds * 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh][id]").forEach(function (el) {
      var s = parseInt(el.getAttribute("data-refresh"), 10);
      if (s > 0) { refresh(el, s); }
    });
  });
})();
