"""The distribution lists its packages explicitly (pyproject.toml): a package left out would still import in the
editable install `make run` uses, and only break a real install. This keeps the list complete."""

from __future__ import annotations

import tomllib

from tests.conftest import PROJECT_ROOT


def test_every_package_of_the_project_is_listed_in_pyproject() -> None:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(PROJECT_ROOT).parts)
        for top in ("bot", "cogs", "db")
        for init in (PROJECT_ROOT / top).rglob("__init__.py")
    }
    assert listed == found


def test_every_migration_folder_ships_its_sql_files() -> None:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = config["tool"]["setuptools"]["package-data"]
    for package in ("db.sqlite.migrations", "db.postgres.migrations"):
        assert data[package] == ["*.sql"]
        assert list((PROJECT_ROOT / package.replace(".", "/")).glob("*.sql"))
