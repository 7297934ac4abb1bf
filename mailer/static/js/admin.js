// Flask-Admin asks "Delete this record?" in an inline onclick, which the site's
// Content-Security-Policy blocks; ask here instead, with the same words.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.matches || !form.matches("form.icon")) return;
  var button = form.querySelector("button[onclick]");
  if (!button) return;
  var words = /safeConfirm\('(.*)'\)/.exec(button.getAttribute("onclick") || "");
  if (!window.confirm(words ? words[1] : button.title)) event.preventDefault();
});
