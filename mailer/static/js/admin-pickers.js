// Select2 3 (Flask-Admin's pickers) draws a "remove" cross for each chosen item without a
// name, and gives its text box role="button", which a text input may not have. Mend both
// whenever it draws; the words come from the page (<body data-remove-label>), in its language.
(function () {
  var removeLabel = document.body.getAttribute("data-remove-label") || "Remove";
  function mend() {
    document.querySelectorAll(".select2-search-choice-close:not([aria-label])").forEach(function (cross) {
      var item = cross.parentElement.querySelector("div");
      cross.setAttribute("aria-label", removeLabel + " " + (item ? item.textContent.trim() : ""));
    });
    document.querySelectorAll("input.select2-focusser[role=button]").forEach(function (box) {
      box.removeAttribute("role");
    });
  }
  new MutationObserver(mend).observe(document.body, { childList: true, subtree: true });
  mend();
})();
