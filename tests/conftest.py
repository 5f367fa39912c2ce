import os
import uuid

import pytest
from django.conf import settings

from tests.factories import *  # noqa: F401,F403  (fixtures)


def pytest_collection_modifyitems(config, items):
    reasons = {
        "needs_postgres": (settings.POSTGRES_AVAILABLE, f"PostgreSQL not reachable at {settings.TEST_POSTGRES_URL}"),
        "needs_redis": (settings.REDIS_AVAILABLE, f"Redis not reachable at {settings.TEST_REDIS_URL}"),
        "needs_mariadb": (settings.MARIADB_AVAILABLE, f"MariaDB not reachable at {settings.TEST_MARIADB_URL}"),
    }
    for item in items:
        for marker, (available, reason) in reasons.items():
            if item.get_closest_marker(marker) and not available:
                item.add_marker(pytest.mark.skip(reason=reason))


def pytest_report_header(config):
    return (
        f"sentinel: PostgreSQL {'yes' if settings.POSTGRES_AVAILABLE else 'NO (tests needing it skip)'}, "
        f"Redis {'yes' if settings.REDIS_AVAILABLE else 'NO (tests needing it skip)'}"
    )


@pytest.fixture
def pg_datasource_url():
    """A SQLAlchemy URL to a scratch schema on the machine's PostgreSQL (database `test`)."""
    return os.environ.get("TEST_DATASOURCE_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_table(pg_datasource_url):
    """Create a uniquely named table in the datasource database; drop it afterwards.

    Yields (name, execute) where execute(sql) runs in autocommit."""
    import sqlalchemy as sa

    engine = sa.create_engine(pg_datasource_url, isolation_level="AUTOCOMMIT")
    name = f"t_{uuid.uuid4().hex[:10]}"

    def execute(sql: str):
        with engine.connect() as conn:
            result = conn.exec_driver_sql(sql.replace("{table}", name))
            return result.fetchall() if result.returns_rows else None

    yield name, execute
    execute("DROP TABLE IF EXISTS {table}")
    engine.dispose()
