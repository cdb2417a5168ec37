// Folding for the review page.  Without this script every section stays open.
(function () {
  "use strict";
  var folds = Array.prototype.slice.call(document.querySelectorAll("details.fold"));
  var printing = null;

  function setAll(open) {
    folds.forEach(function (d) { d.open = open; });
  }

  // A link to a criterion inside a folded section opens the section first.
  function reveal(id, scroll) {
    var target = id ? document.getElementById(id) : null;
    for (var el = target; el; el = el.parentElement) {
      if (el.tagName === "DETAILS") { el.open = true; }
    }
    if (target && scroll) { target.scrollIntoView(); }
  }

  function fromHash() {
    reveal(decodeURIComponent(location.hash.slice(1)), true);
  }

  document.querySelectorAll("button[data-fold]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { setAll(button.getAttribute("data-fold") === "open"); });
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href^='#']") : null;
    if (link) { reveal(decodeURIComponent(link.getAttribute("href").slice(1)), false); }
  });
  // Folded to the lines the summary above introduces; a section opens on a click, Enter or Space.
  setAll(false);
  if (location.hash) { fromHash(); }
  window.addEventListener("hashchange", fromHash);
  // Printing shows everything, then puts the folds back as they were.
  window.addEventListener("beforeprint", function () {
    printing = folds.map(function (d) { return d.open; });
    setAll(true);
  });
  window.addEventListener("afterprint", function () {
    if (printing) { folds.forEach(function (d, i) { d.open = printing[i]; }); }
    printing = null;
  });
})();
