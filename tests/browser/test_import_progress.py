"""In a real browser: a big import shows how far it has got while its one request runs."""
from tests.browser.conftest import sign_in

WATCH_PROGRESS = """
document.addEventListener("DOMContentLoaded", () => {
  const text = document.querySelector("[data-progress-text]");
  if (text) new MutationObserver(() => window.progressShown(text.textContent))
    .observe(text, {childList: true, characterData: true, subtree: true});
});
"""


def test_a_big_import_shows_its_progress_then_its_result(page, make_user):
    make_user(email="olga@example.com", language="en")
    shown = []
    page.expose_function("progressShown", lambda text: shown.append(text))
    page.add_init_script(WATCH_PROGRESS)
    rows = "".join(f"client{n}@example.com,Клиент {n}\n" for n in range(30_000))
    sign_in(page, "olga@example.com")

    page.goto("/clients/import")
    page.set_input_files("#file", {"name": "clients.csv", "mimeType": "text/csv",
                                   "buffer": ("email,full_name\n" + rows).encode()})
    page.get_by_role("button", name="Import").click()
    page.wait_for_url("**/clients/")

    assert "Clients: 30,000" in page.content()
    stages = [text for text in shown if text.startswith(("Reading the file", "Checking", "Saving"))]
    assert stages, shown  # the page heard the server's progress before the answer came
    assert all("30,0" in text for text in stages), stages  # counted against the file's size
