"""The health endpoint: a plain "ok" for anyone, with no page around it."""


def test_healthz_answers_ok_as_plain_text_to_a_visitor(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "ok"
