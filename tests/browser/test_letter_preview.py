"""In a real browser: a Markdown message's HTML letter beside its text, in a sandboxed frame."""
from tests.browser.conftest import sign_in
from tests.factories import ClientFactory

BODY = """# Spring news

Dear **{{ client.full_name }}**, our offers:

| Item | Price |
|---|---:|
| Apple pie | 350 |

<script>document.title = "pwned"; parent.document.body.dataset.pwned = "yes"</script>
<a href="javascript:parent.document.body.dataset.pwned='yes'" onclick="parent.document.body.dataset.pwned='yes'">Win a prize</a>
"""


def test_the_html_letter_shows_beside_its_text_and_nothing_in_it_runs(page, db, make_user):
    owner = make_user(email="olga@example.com", language="en")
    ClientFactory(owner=owner, email="anna@example.com", full_name="Anna <Petrova>")
    db.session.commit()
    problems = []

    def record(message):  # our page's own errors (the frame's computed styles are read by script)
        url = message.location.get("url", "")
        if message.type == "error" and not url.endswith(("/favicon.ico", "/preview.html")):
            problems.append(message.text)

    page.on("console", record)
    sign_in(page, "olga@example.com")

    page.goto("/messages/new")
    page.get_by_label("Subject").fill("Spring news for {{ client.full_name }}")
    page.get_by_label("Body").fill(BODY)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/messages/*/preview")

    removed = page.locator("#removed")
    for what in ("<script>", "javascript:", "onclick="):
        assert removed.get_by_text(what, exact=True).is_visible()
    assert page.get_by_text("Dear **Anna <Petrova>**, our offers:").is_visible(), "the text version"
    letter = page.frame_locator("iframe.letter-frame")
    heading = letter.get_by_role("heading", name="Spring news")
    assert heading.is_visible()
    assert letter.locator("strong").first.inner_text() == "Anna <Petrova>"
    cell = letter.get_by_role("cell", name="350")
    assert cell.evaluate("cell => getComputedStyle(cell).textAlign") == "right"
    assert cell.evaluate("cell => getComputedStyle(cell).borderTopStyle") == "solid", \
        "the inlined styles apply: the frame's policy lets them"
    frame_box = page.locator("iframe.letter-frame").bounding_box()
    assert frame_box["width"] > 500 and frame_box["height"] > 380

    letter.get_by_text("Win a prize").click()

    assert page.title() != "pwned"
    assert page.evaluate("document.body.dataset.pwned") is None
    assert problems == [], "\n".join(problems)
