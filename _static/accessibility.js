// Accessibility fixes of the theme's and extensions' markup, applied when a page loads
// (checked with axe-core's WCAG 2.1 A/AA rules by tests/test_site_browser.py).
(function () {
  "use strict";
  // Visible text as a reader sees it, without icon-font glyphs (private-use characters).
  function visibleText(el) {
    return (el.innerText || "").replace(/[\uE000-\uF8FF]/g, "").replace(/\s+/g, " ").trim();
  }
  function fix() {
    // Icons inside a labelled button are decoration: the label names the control. Font
    // Awesome turns them into <svg role="img"> with a <title> ("Light", "Dark"), which
    // would otherwise count as the button's visible text.
    document.querySelectorAll("button[aria-label] svg, button[aria-label] i").forEach(function (el) {
      el.setAttribute("aria-hidden", "true");
      el.removeAttribute("aria-labelledby");
      el.querySelectorAll("title").forEach(function (t) { t.remove(); });
    });
    // A control's accessible name must contain its visible text (WCAG 2.5.3, Label in
    // Name): the search button reads "Search Ctrl+K", a folded code cell "Show code cell
    // source"; their aria-labels ("Search", "Toggle hidden content") say less.
    document.querySelectorAll("button[aria-label], summary[aria-label], a[aria-label]").forEach(function (el) {
      var text = visibleText(el);
      var label = el.getAttribute("aria-label") || "";
      if (text && label.toLowerCase().indexOf(text.toLowerCase()) < 0) {
        el.setAttribute("aria-label", text);
      }
    });
    // The bibliography: role "doc-biblioentry" is deprecated (ARIA DPUB 1.1), and a list
    // may hold only list items; each entry becomes a list item of the citation list.
    document.querySelectorAll('[role="doc-biblioentry"]').forEach(function (el) {
      el.setAttribute("role", "listitem");
    });
    document.querySelectorAll('.citation-list[role="list"]').forEach(function (list) {
      Array.prototype.forEach.call(list.children, function (child) {
        if (child.getAttribute("role") !== "listitem") { child.setAttribute("role", "listitem"); }
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", fix);
  } else {
    fix();
  }
  // Font Awesome replaces icons after the page has loaded: fix what it adds.
  var pending = false;
  new MutationObserver(function () {
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(function () { pending = false; fix(); });
    }
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
