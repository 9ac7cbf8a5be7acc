"""The worker's tables are the ones whose changelog topics start-up creates (streams/pipeline/topics.py)."""

from __future__ import annotations

from pathlib import Path

from streams.pipeline.app import create_pipeline
from streams.pipeline.topics import changelog_topics
from streams.settings import Settings


def test_every_table_has_its_changelog_created_before_faust_starts(tmp_path: Path) -> None:
    settings = Settings(intercom_token="tok", data_dir=str(tmp_path), app_id="tables-check")
    app = create_pipeline(settings).app
    declared = {table.changelog_topic.get_topic_name() for table in app.tables.values()}
    assert declared == set(changelog_topics(settings))
