// The reports' mailing filter: a search among the viewer's mailings as one types (Tom Select,
// loading from the server), so the page never lists all of them. "All mailings" stays first.
document.querySelectorAll("select[data-mailing-search]").forEach(function (select) {
  var url = select.getAttribute("data-mailing-search");
  new TomSelect(select, {
    valueField: "id",
    labelField: "text",
    searchField: ["text"],
    allowEmptyOption: true,
    maxOptions: 50,
    preload: "focus",
    load: function (query, callback) {
      fetch(url + "?q=" + encodeURIComponent(query), { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) { callback(data.results); })
        .catch(function () { callback(); });
    }
  });
});
