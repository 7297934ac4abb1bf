"""Links built for every row of a list are exactly the ones url_for builds."""
import pytest

from mailer.navigation import url_for_each


@pytest.mark.parametrize("endpoint, key, values", [
    ("clients.edit_client", "client_id", {}),
    ("mailings.show_attempt", "attempt_id", {"mailing_id": 7}),
    ("manager.block_user", "user_id", {"q": "анна & co", "page": "2"}),
    ("messages.preview_message", "message_id", {"client": "5"}),
    ("clients.list_clients", "page", {"q": "ольга"}),  # an id in the query string
])
def test_each_rows_url_is_the_one_url_for_builds(app, endpoint, key, values):
    from flask import url_for

    with app.test_request_context("/", base_url="http://mail.example.com/prefix"):
        row_url = url_for_each(endpoint, key, **values)
        for row_id in (1, 9, 10, 12345, 2**31 - 1):
            assert row_url(row_id) == url_for(endpoint, **values, **{key: row_id})
        assert row_url(42).startswith("/prefix/")
