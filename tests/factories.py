"""factory_boy factories for the models, on the app's session."""
from datetime import datetime, timezone

import factory
from factory.alchemy import SQLAlchemyModelFactory

from mailer.extensions import db
from mailer.models import Role, User


class UserFactory(SQLAlchemyModelFactory):
    class Meta:
        model = User
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    timezone = "UTC"
    language = "en"
    role = Role.USER
    active = True
    email_verified_at = factory.LazyFunction(lambda: datetime.now(timezone.utc))
    password = "password123"

    @classmethod
    def _create(cls, model_class, *args, password="password123", **kwargs):
        user = model_class(*args, **kwargs)
        user.set_password(password)
        db.session.add(user)
        db.session.flush()
        return user
