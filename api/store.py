"""Durable store of API keys, jobs and results (SQLAlchemy 2: a SQLite file by default, or PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from siting.errors import SitingError

__all__ = [
    "DEFAULT_DATABASE_URL",
    "SCHEMA_VERSION",
    "ApiKey",
    "IdempotencyConflictError",
    "Job",
    "JobStatus",
    "Store",
    "StoreError",
    "default_database_url",
    "interrupted_error",
    "normalise_url",
]

#: Used when ``SITING_DATABASE_URL`` is not set: ``siting.db`` in the working folder.
DEFAULT_DATABASE_URL = "sqlite:///siting.db"
#: Version of the tables below; a database written by another version is refused at start-up.
SCHEMA_VERSION = 1
KEY_PREFIX = "sk_"
_KEY_ID_LEN = 12

metadata = sa.MetaData()
meta_table = sa.Table(
    "siting_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)
keys_table = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(_KEY_ID_LEN), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("salt", sa.String(32), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked", sa.DateTime(timezone=True), nullable=True),
)
jobs_table = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("key_id", sa.String(_KEY_ID_LEN), sa.ForeignKey("api_keys.id"), nullable=False, index=True),
    sa.Column("process_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("progress", sa.Integer, nullable=False, default=0),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("worker_pid", sa.Integer, nullable=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("key_id", "idempotency_key", name="uq_jobs_key_idempotency"),
)
results_table = sa.Table(
    "results",
    metadata,
    sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
)


class StoreError(SitingError):
    """The database cannot be used: a bad URL, an unreachable server, or tables of another version."""


class IdempotencyConflictError(SitingError):
    """An ``Idempotency-Key`` was reused with a different request body."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"the idempotency key was already used for job {job_id} with a different request")


class JobStatus(StrEnum):
    """OGC API - Processes job states."""

    ACCEPTED = "accepted"
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    DISMISSED = "dismissed"


ACTIVE = (JobStatus.ACCEPTED.value, JobStatus.RUNNING.value)


@dataclass(frozen=True)
class ApiKey:
    """An API key as stored (never the secret itself)."""

    id: str
    name: str
    created: dt.datetime
    revoked: dt.datetime | None = None

    @property
    def active(self) -> bool:
        """Whether the key may still be used."""
        return self.revoked is None


@dataclass(frozen=True)
class Job:
    """One job: what was asked, by which key, and how far it got."""

    id: str
    key_id: str
    process_id: str
    status: str
    progress: int
    message: str
    inputs: Mapping[str, Any]
    request_hash: str
    idempotency_key: str | None
    error: Mapping[str, Any] | None
    worker_pid: int | None
    created: dt.datetime
    started: dt.datetime | None
    finished: dt.datetime | None
    updated: dt.datetime

    @property
    def interrupted(self) -> bool:
        """Whether the job failed because the server or its worker stopped (it can be resubmitted)."""
        return self.status == JobStatus.FAILED and bool((self.error or {}).get("interrupted"))


def default_database_url() -> str:
    """``SITING_DATABASE_URL`` when set, else a SQLite file ``siting.db`` in the working folder."""
    return os.environ.get("SITING_DATABASE_URL") or DEFAULT_DATABASE_URL


def normalise_url(url: str) -> str:
    """Use psycopg (v3) for PostgreSQL URLs given as ``postgresql://`` or ``postgres://``."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes: they were written in UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _utc_required(value: dt.datetime) -> dt.datetime:
    out = _utc(value)
    assert out is not None
    return out


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _make_engine(url: str) -> Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"invalid database URL {url!r}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
    except ModuleNotFoundError as exc:
        raise StoreError(f"no driver for {parsed.drivername}: {exc}; install psycopg[binary]") from None


class Store:
    """API keys, jobs and results in one database.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; :func:`default_database_url` when omitted. ``postgresql://`` URLs use psycopg.

    Notes
    -----
    Safe to use from several threads and several processes (SQLite runs in WAL mode with a
    30 s busy timeout). Every state change of a job is a conditional update, so a worker that
    outlived its server can never overwrite what the restarted server decided.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = normalise_url(url or default_database_url())
        self.engine = _make_engine(self.url)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise StoreError(f"database {self.engine.url.render_as_string()} failed: {exc.orig}") from None

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def create_schema(self) -> None:
        """Create missing tables, then check that existing ones are of :data:`SCHEMA_VERSION`.

        Raises
        ------
        StoreError
            When the database cannot be reached or its tables come from another version.
        """
        if (
            self.backend == "sqlite"
        ):  # WAL lets workers write while the server reads; it stays set in the file
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        with self._tx() as conn:
            metadata.create_all(conn)
            row = conn.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version"))
            version = row.scalar_one_or_none()
            if version is None:
                conn.execute(meta_table.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            elif version != str(SCHEMA_VERSION):
                raise StoreError(
                    f"the database has siting schema version {version}, this siting expects {SCHEMA_VERSION}; "
                    "use a new database (SITING_DATABASE_URL) or migrate it"
                )
            missing = self._missing_columns(conn)
        if missing:
            raise StoreError(f"the database tables lack column(s) {', '.join(missing)}; use a new database")

    @staticmethod
    def _missing_columns(conn: sa.Connection) -> list[str]:
        inspector = sa.inspect(conn)
        missing = []
        for table in (keys_table, jobs_table, results_table):
            have = {c["name"] for c in inspector.get_columns(table.name)}
            missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in have]
        return missing

    def create_key(self, name: str) -> tuple[ApiKey, str]:
        """Create an API key; returns the stored record and the secret (shown once, stored hashed).

        The name of a revoked key can be used again (the revoked key is renamed
        ``NAME~revoked-ID``).

        Raises
        ------
        StoreError
            When the name is empty, too long, or used by an active key.
        """
        name = name.strip()
        if not name or len(name) > 80:
            raise StoreError("an API key needs a name of 1 to 80 characters")
        key_id = secrets.token_hex(_KEY_ID_LEN // 2)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        record = ApiKey(id=key_id, name=name, created=_now())
        try:
            with self._tx() as conn:
                old = conn.execute(sa.select(keys_table).where(keys_table.c.name == name)).mappings().first()
                if old is not None and old["revoked"] is not None:
                    conn.execute(
                        keys_table.update()
                        .where(keys_table.c.id == old["id"])
                        .values(name=f"{name}~revoked-{old['id']}")
                    )
                conn.execute(
                    keys_table.insert().values(
                        id=key_id, name=name, salt=salt, key_hash=_hash(salt, secret), created=record.created
                    )
                )
        except IntegrityError:
            raise StoreError(
                f"an active API key is named {name!r}; revoke it first or pick another name"
            ) from None
        return record, f"{KEY_PREFIX}{key_id}_{secret}"

    def list_keys(self) -> list[ApiKey]:
        """Return every API key, oldest first (revoked ones included)."""
        with self._tx() as conn:
            rows = conn.execute(sa.select(keys_table).order_by(keys_table.c.created)).mappings().all()
        return [self._key(r) for r in rows]

    def revoke_key(self, name_or_id: str) -> ApiKey:
        """Revoke a key by name or id (its jobs stay, but it can no longer authenticate).

        Raises
        ------
        StoreError
            When no key has that name or id.
        """
        with self._tx() as conn:
            cond = sa.or_(keys_table.c.name == name_or_id, keys_table.c.id == name_or_id)
            row = conn.execute(sa.select(keys_table).where(cond)).mappings().first()
            if row is None:
                raise StoreError(f"no API key named {name_or_id!r} (see: siting api-key list)")
            if row["revoked"] is None:
                conn.execute(keys_table.update().where(keys_table.c.id == row["id"]).values(revoked=_now()))
            row = conn.execute(sa.select(keys_table).where(keys_table.c.id == row["id"])).mappings().one()
        return self._key(row)

    def authenticate(self, presented: str) -> ApiKey | None:
        """Return the active key whose secret is ``presented``, else None (constant-time comparison)."""
        if not presented.startswith(KEY_PREFIX) or len(presented) < len(KEY_PREFIX) + _KEY_ID_LEN + 2:
            return None
        key_id = presented[len(KEY_PREFIX) : len(KEY_PREFIX) + _KEY_ID_LEN]
        secret = presented[len(KEY_PREFIX) + _KEY_ID_LEN + 1 :]
        with self._tx() as conn:
            row = conn.execute(sa.select(keys_table).where(keys_table.c.id == key_id)).mappings().first()
        if row is None or row["revoked"] is not None:
            return None
        if not hmac.compare_digest(_hash(row["salt"], secret), row["key_hash"]):
            return None
        return self._key(row)

    @staticmethod
    def _key(row: Any) -> ApiKey:
        return ApiKey(
            id=row["id"],
            name=row["name"],
            created=_utc_required(row["created"]),
            revoked=_utc(row["revoked"]),
        )

    def create_job(
        self,
        *,
        key_id: str,
        process_id: str,
        inputs: Mapping[str, Any],
        request_hash: str,
        idempotency_key: str | None = None,
    ) -> tuple[Job, bool]:
        """Create an accepted job, or return the job an idempotency key already names.

        Returns
        -------
        tuple
            ``(job, created)``: ``created`` is False when the same key and body were seen before
            (a job interrupted by a restart is replaced by a new one instead).

        Raises
        ------
        IdempotencyConflictError
            When the idempotency key was used with a different request.
        """
        fields: dict[str, Any] = {"key_id": key_id, "process_id": process_id, "inputs": dict(inputs)}
        fields.update(request_hash=request_hash, idempotency_key=idempotency_key)
        for _attempt in range(3):
            if idempotency_key is not None:
                found = self.find_idempotent(key_id, idempotency_key, request_hash)
                if found is not None:
                    return found, False
            job_id = uuid.uuid4().hex
            try:
                with self._tx() as conn:
                    conn.execute(jobs_table.insert().values(**_accepted(job_id, fields)))
            except IntegrityError:
                continue  # a concurrent request with the same idempotency key won: replay it
            job = self.get_job(job_id)
            assert job is not None
            return job, True
        raise StoreError("could not create the job: idempotency key contention")

    def find_idempotent(self, key_id: str, idempotency_key: str, request_hash: str) -> Job | None:
        """Return the job an idempotency key names (None when new, or when that job was interrupted).

        Raises
        ------
        IdempotencyConflictError
            When the key was used with a different request.
        """
        with self._tx() as conn:
            row = (
                conn.execute(
                    sa.select(jobs_table).where(
                        jobs_table.c.key_id == key_id, jobs_table.c.idempotency_key == idempotency_key
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            job = self._job(row)
            if job.request_hash != request_hash:
                raise IdempotencyConflictError(job.id)
            if not job.interrupted:
                return job
            conn.execute(jobs_table.update().where(jobs_table.c.id == job.id).values(idempotency_key=None))
        return None

    def get_job(self, job_id: str, *, key_id: str | None = None) -> Job | None:
        """Return the job with this id (only when it belongs to ``key_id``, if given)."""
        query = sa.select(jobs_table).where(jobs_table.c.id == job_id)
        if key_id is not None:
            query = query.where(jobs_table.c.key_id == key_id)
        with self._tx() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else self._job(row)

    def list_jobs(
        self,
        *,
        key_id: str | None = None,
        status: Sequence[str] | None = None,
        process_id: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Job], int]:
        """Jobs newest first, and how many match in all (dismissed jobs only when ``status`` names them)."""
        cond: list[Any] = []
        if key_id is not None:
            cond.append(jobs_table.c.key_id == key_id)
        if status:
            cond.append(jobs_table.c.status.in_(list(status)))
        else:
            cond.append(jobs_table.c.status != JobStatus.DISMISSED.value)
        if process_id:
            cond.append(jobs_table.c.process_id.in_(list(process_id)))
        query = sa.select(jobs_table).where(*cond).order_by(jobs_table.c.created.desc(), jobs_table.c.id)
        with self._tx() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(jobs_table).where(*cond)).scalar_one()
            rows = conn.execute(query.limit(limit).offset(offset)).mappings().all()
        return [self._job(r) for r in rows], int(total)

    def _update(self, job_id: str, when: Sequence[str], **values: Any) -> bool:
        values["updated"] = _now()
        with self._tx() as conn:
            res = conn.execute(
                jobs_table.update()
                .where(jobs_table.c.id == job_id, jobs_table.c.status.in_(list(when)))
                .values(**values)
            )
        return bool(res.rowcount)

    def mark_running(self, job_id: str, worker_pid: int) -> bool:
        """Move an accepted job to running, recording the worker's process id; False if no longer accepted."""
        return self._update(
            job_id,
            [JobStatus.ACCEPTED.value],
            status=JobStatus.RUNNING.value,
            worker_pid=worker_pid,
            started=_now(),
            progress=1,
            message="started",
        )

    def set_progress(self, job_id: str, progress: int, message: str) -> bool:
        """Record progress (0-100) and a short message of a running job."""
        pct = max(0, min(99, int(progress)))
        return self._update(job_id, [JobStatus.RUNNING.value], progress=pct, message=message[:500])

    def finish_job(self, job_id: str, body: str, message: str = "done") -> bool:
        """Move a running job to successful with its result document (JSON text); False if it was taken away."""
        now = _now()
        with self._tx() as conn:
            res = conn.execute(
                jobs_table.update()
                .where(jobs_table.c.id == job_id, jobs_table.c.status == JobStatus.RUNNING.value)
                .values(
                    status=JobStatus.SUCCESSFUL.value,
                    progress=100,
                    message=message,
                    finished=now,
                    updated=now,
                )
            )
            if not res.rowcount:
                return False
            conn.execute(results_table.insert().values(job_id=job_id, body=body, created=now))
        return True

    def fail_job(self, job_id: str, error: Mapping[str, Any], message: str) -> bool:
        """Move an accepted or running job to failed, with the error document and a one-line reason."""
        now = _now()
        return self._update(
            job_id,
            ACTIVE,
            status=JobStatus.FAILED.value,
            error=dict(error),
            message=message[:500],
            finished=now,
        )

    def dismiss_job(self, job_id: str, *, key_id: str | None = None) -> Job | None:
        """Mark a job dismissed and delete its results; None when there is no such job (for this key)."""
        job = self.get_job(job_id, key_id=key_id)
        if job is None:
            return None
        now = _now()
        with self._tx() as conn:
            conn.execute(results_table.delete().where(results_table.c.job_id == job_id))
            values: dict[str, Any] = {
                "status": JobStatus.DISMISSED.value,
                "message": "dismissed",
                "updated": now,
            }
            if job.status in ACTIVE:
                values["finished"] = now
            conn.execute(jobs_table.update().where(jobs_table.c.id == job_id).values(**values))
        return self.get_job(job_id)

    def get_result(self, job_id: str) -> str | None:
        """Return the result document (JSON text) of a successful job, or None."""
        with self._tx() as conn:
            row = conn.execute(sa.select(results_table.c.body).where(results_table.c.job_id == job_id))
            return row.scalar_one_or_none()

    def fail_interrupted(self, reason: str) -> list[str]:
        """Mark every accepted or running job failed (call at start-up: their worker is gone).

        Returns the ids of the jobs marked; each keeps ``reason`` as its message and can be resubmitted.
        """
        with self._tx() as conn:
            ids = list(
                conn.execute(sa.select(jobs_table.c.id).where(jobs_table.c.status.in_(ACTIVE))).scalars()
            )
        error = interrupted_error(reason)
        return [job_id for job_id in ids if self.fail_job(job_id, error, reason)]

    @staticmethod
    def _job(row: Any) -> Job:
        data = dict(row)
        for name in ("inputs", "error"):  # JSON columns come back as text from some drivers
            if isinstance(data[name], str):
                data[name] = json.loads(data[name])
        for name in ("created", "started", "finished", "updated"):
            data[name] = _utc(data[name])
        data["progress"] = int(data["progress"])
        return Job(**data)


def _accepted(job_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Row of a new accepted job."""
    now = _now()
    return {
        **fields,
        "id": job_id,
        "status": JobStatus.ACCEPTED.value,
        "progress": 0,
        "message": "queued",
        "created": now,
        "updated": now,
    }


def interrupted_error(reason: str) -> dict[str, Any]:
    """Build the error of a job whose worker or server stopped (``interrupted`` marks it resubmittable)."""
    return {
        "type": "interrupted",
        "title": "job interrupted",
        "status": 500,
        "detail": reason,
        "interrupted": True,
        "fix": "submit the same request again",
    }
