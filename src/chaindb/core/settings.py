"""Application settings (seed 003): key -> text value, optionally visible to the front end."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.core.schema import settings
from chaindb.database import Database, dialect_insert, reading, writing
from chaindb.text import SETTING_VALUE_CHARS_MAX, Description, free_text, spelled
from chaindb.types import utc_now
from chaindb.validation import Input, Row, validated

SettingKey = spelled(
    r"^[A-Za-z][A-Za-z0-9_.:-]{0,127}$",
    "must be a letter, then letters, digits, _ . : or - (at most 128 characters)",
)
SettingValue = free_text(SETTING_VALUE_CHARS_MAX)


class NewSetting(Input):
    key: SettingKey
    value: SettingValue
    description: Description | None = None
    is_public: bool | None = None


class _Key(Input):
    key: SettingKey


class Setting(Row):
    id: int
    key: str
    value: str
    description: str | None
    is_public: bool
    last_updated: datetime


def set_setting(
    target: Database | Connection,
    key: str,
    value: str,
    *,
    description: str | None = None,
    is_public: bool | None = None,
) -> Setting:
    """Create or replace a setting; description and is_public keep their values when not given."""
    new = validated(NewSetting, key=key, value=value, description=description, is_public=is_public)
    changes = {"value": new.value, "last_updated": utc_now()}
    if new.description is not None:
        changes["description"] = new.description
    if new.is_public is not None:
        changes["is_public"] = new.is_public
    with writing(target) as conn:
        conn.execute(
            dialect_insert(conn, settings)
            .values(
                key=new.key,
                is_public=bool(new.is_public),
                **{k: v for k, v in changes.items() if k != "is_public"},
            )
            .on_conflict_do_update(index_elements=["key"], set_=changes)
        )
        row = conn.execute(sa.select(settings).where(settings.c.key == new.key)).one()
    return Setting.model_validate(row)


def get_setting(target: Database | Connection, key: str, default: str | None = None) -> str | None:
    key = validated(_Key, key=key).key
    with reading(target) as conn:
        value = conn.execute(sa.select(settings.c.value).where(settings.c.key == key)).scalar()
    return default if value is None else value


def list_settings(target: Database | Connection, *, public_only: bool = False) -> list[Setting]:
    query = sa.select(settings).order_by(settings.c.key)
    if public_only:
        query = query.where(settings.c.is_public)
    with reading(target) as conn:
        return [Setting.model_validate(row) for row in conn.execute(query)]
