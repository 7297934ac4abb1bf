// Searchable multi-select of the user's clients (Tom Select, loading from the server).
document.querySelectorAll("select[data-client-search]").forEach(function (select) {
  var url = select.getAttribute("data-client-search");
  new TomSelect(select, {
    valueField: "id",
    labelField: "text",
    searchField: ["text"],
    plugins: ["remove_button"],
    maxOptions: 100,
    preload: "focus",
    load: function (query, callback) {
      fetch(url + "?q=" + encodeURIComponent(query), { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) { callback(data.results); })
        .catch(function () { callback(); });
    }
  });
});
