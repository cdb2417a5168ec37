// Folding for the review page.  Without this script every section stays open.
(function () {
  "use strict";
  var folds = Array.prototype.slice.call(document.querySelectorAll("details.fold"));
  var printing = null;

  function setAll(open) {
    folds.forEach(function (d) { d.open = open; });
  }

  // A link to a criterion inside a folded section opens the section first.
  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1));
    var target = id ? document.getElementById(id) : null;
    for (var el = target; el; el = el.parentElement) {
      if (el.tagName === "DETAILS") { el.open = true; }
    }
    if (target) { target.scrollIntoView(); }
  }

  document.querySelectorAll("button[data-fold]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { setAll(button.getAttribute("data-fold") === "open"); });
  });
  // Folded to the lines the summary above introduces; a section opens on a click or Enter.
  setAll(false);
  if (location.hash) { reveal(); }
  window.addEventListener("hashchange", reveal);
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
