// Searchable multi-select of the user's clients (Tom Select, loading from the server).
document.querySelectorAll("select[data-client-search]").forEach(function (select) {
  var url = select.getAttribute("data-client-search");
  var unsubscribed = select.getAttribute("data-unsubscribed-label");
  function label(data, escape) {
    var text = escape(data.text);
    if (data.unsubscribed) {
      text += ' <span class="badge text-bg-secondary">' + escape(unsubscribed) + "</span>";
    }
    return "<div>" + text + "</div>";
  }
  new TomSelect(select, {
    valueField: "id",
    labelField: "text",
    searchField: ["text"],
    plugins: ["remove_button"],
    maxOptions: 100,
    preload: "focus",
    render: { option: label, item: label },
    load: function (query, callback) {
      fetch(url + "?q=" + encodeURIComponent(query), { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) { callback(data.results); })
        .catch(function () { callback(); });
    }
  });
});
