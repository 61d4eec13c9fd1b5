// The status page's only script (allowed by its hash in the page's Content-Security-Policy).
// Team selection without a round-trip: every team is in the page, one section shows; the choice
// lives in the URL hash (#team=NAME) so a reload keeps it. Refresh: every data-refresh seconds
// the page fetches itself and swaps #app, so the choice and the scroll position survive; if the
// monitor does not answer, a banner says so and the last numbers stay, marked as such.
(function () {
  "use strict";
  var every = Math.max(Number(document.documentElement.getAttribute("data-refresh")) || 30, 2) * 1000;

  function app() { return document.getElementById("app"); }

  function wanted() {
    var match = /^#team=(.*)$/.exec(location.hash);
    if (match) {
      try { return decodeURIComponent(match[1]); } catch (malformed) { /* fall through */ }
    }
    return app().getAttribute("data-selected");
  }

  function show(name, remember) {
    var sections = app().querySelectorAll("section.team");
    var known = Array.prototype.some.call(sections, function (s) { return s.getAttribute("data-team") === name; });
    if (!sections.length) { return; }
    if (!known) { name = app().getAttribute("data-selected"); }
    sections.forEach(function (s) { s.hidden = s.getAttribute("data-team") !== name; });
    app().querySelectorAll("tr[data-team-row]").forEach(function (row) {
      row.classList.toggle("current", row.getAttribute("data-team-row") === name);
    });
    var select = document.getElementById("team-select");
    if (select) { select.value = name; }
    if (remember) {
      history.replaceState(null, "", location.pathname + location.search + "#team=" + encodeURIComponent(name));
    }
  }

  document.addEventListener("change", function (event) {
    if (event.target.id === "team-select") { show(event.target.value, true); }
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-team-link]") : null;
    if (!link) { return; }
    event.preventDefault();  // the ?team= link is for browsers without this script
    show(link.getAttribute("data-team-link"), true);
  });
  window.addEventListener("hashchange", function () { show(wanted(), false); });

  function refresh() {
    var banner = document.getElementById("stale");
    fetch(location.pathname + location.search, { cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("app");
        if (!fresh) { throw new Error("the answer is not this page"); }
        app().replaceWith(document.adoptNode(fresh));
        show(wanted(), false);
        banner.hidden = true;
      })
      .catch(function (error) {
        banner.textContent = "The monitor did not answer at " + new Date().toLocaleTimeString() + " (" +
          error.message + "): the numbers below are from the last successful load.";
        banner.hidden = false;
      })
      .then(function () { setTimeout(refresh, every); });
  }

  show(wanted(), false);
  setTimeout(refresh, every);
})();
