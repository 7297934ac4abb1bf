// While an import's upload is being answered (one request, all or nothing), shows how far
// the server has got: <form data-progress-url="..." data-progress-box="id"> and, in the box,
// a <progress> and a text per stage in data-<stage> with {done} and {total} to fill in.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var url = form.getAttribute("data-progress-url");
  var file = form.querySelector("input[type=file]");
  if (!url || !file || !file.files.length || event.defaultPrevented) return;
  var box = document.getElementById(form.getAttribute("data-progress-box"));
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");
  var number = new Intl.NumberFormat(document.documentElement.lang);
  box.hidden = false;
  form.setAttribute("aria-busy", "true");

  function show(progress) {
    var words = box.getAttribute("data-" + progress.stage);
    if (!words) return;
    if (progress.total) bar.value = progress.percent;
    text.textContent = words.replace("{done}", number.format(progress.done))
                            .replace("{total}", number.format(progress.total));
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (progress) { if (progress) show(progress); })
      .catch(function () {})
      .then(function () { window.setTimeout(poll, 500); });
  }
  window.setTimeout(poll, 250);
});
