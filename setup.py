"""Build step pyproject.toml cannot say: the wheel carries the compiled catalogs (.mo are not
in git) and the Alembic migrations (beside the package in a checkout, inside it once installed)."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogsAndMigrations(build_py):
    def run(self):
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        package = Path(self.build_lib) / "mailer"
        for po in Path("mailer/translations").glob("*/LC_MESSAGES/messages.po"):
            mo = package / po.relative_to("mailer").with_suffix(".mo")
            mo.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source, mo.open("wb") as target:
                write_mo(target, read_po(source), use_fuzzy=False)
        shutil.copytree("migrations", package / "migrations", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithCatalogsAndMigrations})
