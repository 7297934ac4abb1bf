// Fills hidden time-zone fields with the browser's IANA zone (registration).
document.querySelectorAll("input[data-browser-timezone]").forEach(function (input) {
  try {
    if (!input.value) input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) { /* the server falls back to its default */ }
});
