from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.engine import READ_ONLY_OPTION
from driftguard.errors import DriftGuardError


def build_session_factory(engine: Engine) -> sessionmaker[Session]:
    # Objects stay readable after commit: responses are built from them after the unit of work.
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, read_only: bool = False) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises.

    ``read_only`` lets SQLite readers run beside a writer instead of queueing for the write lock.
    """
    with factory() as session:
        if read_only:
            session.connection(execution_options={READ_ONLY_OPTION: True})
        try:
            yield session
            session.commit()
        except DriftGuardError as exc:
            if exc.keep_changes:
                session.commit()
            else:
                session.rollback()
            raise
        except BaseException:
            session.rollback()
            raise
