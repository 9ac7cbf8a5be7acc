"""Start a production worker: check settings, create or check topics, run the Faust worker."""

from __future__ import annotations

import asyncio
import logging

import faust

from streams.kafka_security import describe as describe_security
from streams.observability import worker_logging
from streams.pipeline.app import create_pipeline
from streams.pipeline.faust_app import check_faust
from streams.pipeline.topics import ensure_topics
from streams.settings import Settings

log = logging.getLogger(__name__)


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    settings.require_token()  # fail before touching Kafka
    check_faust()  # the faust-streaming the guards were written against, our transport and store registered
    worker_logs = worker_logging(settings, loglevel)  # JSON (or console) lines, secrets redacted
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # Start-up checks before consuming anything: connection and credentials, topics, co-partitioning,
    # where the consumer group starts. Each failure is a ConfigurationError naming the setting to fix.
    log.info("connecting to Kafka at %s (%s)", settings.bootstrap_servers, describe_security(settings))
    loop.run_until_complete(ensure_topics(settings, check_offsets=True))
    pipeline = create_pipeline(settings)
    worker = faust.Worker(pipeline.app, loglevel=loglevel, loop=loop, redirect_stdouts=False, **worker_logs)
    worker.execute_from_commandline()
