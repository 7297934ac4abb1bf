"""flask users create / set-role, flask seed."""
import sqlalchemy as sa

from mailer.models import Client, Mailing, Message, Post, Role, User


def users(db):
    return {u.email: u for u in db.session.scalars(sa.select(User))}


def test_users_create_with_password_from_stdin(runner, db, client, auth):
    result = runner.invoke(args=["users", "create", "Boss@Example.com", "--role", "manager",
                                 "--full-name", "The Boss", "--password-stdin"],
                           input="a-long-password\n")

    assert result.exit_code == 0, result.output
    assert "Created boss@example.com (role manager)" in result.output
    user = users(db)["boss@example.com"]
    assert user.role is Role.MANAGER and not user.is_superuser and user.is_verified
    assert auth.login("boss@example.com", "a-long-password").location == "/"


def test_users_create_prompts_for_the_password_twice(runner, db):
    result = runner.invoke(args=["users", "create", "admin@example.com", "--superuser"],
                           input="a-long-password\na-long-password\n")

    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert users(db)["admin@example.com"].is_superuser


def test_users_create_content_manager(runner, db):
    runner.invoke(args=["users", "create", "editor@example.com", "--role", "content_manager",
                        "--password-stdin"], input="a-long-password\n")

    assert users(db)["editor@example.com"].role is Role.CONTENT_MANAGER


def test_users_create_refuses_bad_input_and_writes_nothing(runner, db, make_user):
    make_user(email="taken@example.com")
    cases = [
        (["users", "create", "not-an-email", "--password-stdin"], "a-long-password\n", "Enter a valid e-mail address."),
        (["users", "create", "TAKEN@example.com", "--password-stdin"], "a-long-password\n", "already exists"),
        (["users", "create", "x@example.com", "--password-stdin"], "short\n", "8 to 128 characters"),
        (["users", "create", "x@example.com", "--role", "boss", "--password-stdin"], "a-long-password\n",
         "Invalid value for '--role'"),
        (["users", "create", "x@example.com", "--timezone", "Mars/Base", "--password-stdin"],
         "a-long-password\n", "Unknown time zone"),
    ]
    for args, stdin, message in cases:
        result = runner.invoke(args=args, input=stdin)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)

    assert list(users(db)) == ["taken@example.com"]


def test_users_set_role(runner, db, make_user):
    make_user(email="someone@example.com")

    result = runner.invoke(args=["users", "set-role", "SOMEONE@example.com", "content_manager",
                                 "--superuser"])

    assert result.exit_code == 0, result.output
    user = users(db)["someone@example.com"]
    assert user.role is Role.CONTENT_MANAGER and user.is_superuser


def test_users_set_role_for_unknown_user_fails(runner):
    result = runner.invoke(args=["users", "set-role", "ghost@example.com", "manager"])

    assert result.exit_code != 0
    assert "No user with the e-mail ghost@example.com" in result.output


def _counts(db) -> dict:
    return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (User, Client, Message, Mailing, Post)}


def test_seed_creates_demo_data_owned_by_the_demo_account_once(runner, db, client, auth):
    first = runner.invoke(args=["seed"])
    counts = _counts(db)
    second = runner.invoke(args=["seed"])

    assert first.exit_code == 0 and second.exit_code == 0
    assert "demo@example.com" in first.output and "demo-password" in first.output
    assert "already there" in second.output
    assert _counts(db) == counts
    assert counts["Client"] >= 5 and counts["Message"] >= 2 and counts["Mailing"] >= 1
    demo = users(db)["demo@example.com"]
    owners = {c.owner_id for c in db.session.scalars(sa.select(Client))}
    assert owners == {demo.id}
    assert db.session.scalar(sa.select(Mailing)).owner_id == demo.id
    assert auth.login("demo@example.com", "demo-password").location == "/"
    page = client.get(f"/mailings/{db.session.scalar(sa.select(Mailing.id))}").get_data(as_text=True)
    assert page.split('class="next-send-times"', 1)[1].split("</ol>")[0].count("<li>") == 5
    assert f">{counts['Client']}</dd>" in page  # the demo mailing goes to every demo client


def test_seed_refuses_production(make_app):
    app = make_app(APP_ENV="production")

    result = app.test_cli_runner().invoke(args=["seed"])

    assert result.exit_code != 0
    assert "Refusing to create demo accounts" in result.output
