"""Our Faust transport (scheme ``intercom-kafka://``, registered in pyproject.toml).

Faust's aiokafka transport, with the guarded consumer (faust_guards.py), and a consumer and producer
that wait for the broker (streams/kafka_bootstrap.py) before their aiokafka clients start: a worker
started while the broker restarts waits up to ``PipelineApp.kafka_connect_timeout_s`` instead of exiting.
"""

from __future__ import annotations

from typing import Any, ClassVar

from faust.transport.drivers import aiokafka as aiokafka_driver

from streams.kafka_bootstrap import wait_for_broker
from streams.pipeline.faust_app import PipelineApp
from streams.pipeline.faust_guards import GuardedConsumer


async def _wait_for_broker_of(app: Any, transport: Any) -> None:
    timeout_s = app.kafka_connect_timeout_s if isinstance(app, PipelineApp) else 0.0
    if timeout_s <= 0:
        return  # aiokafka's own single try
    conf = app.conf
    await wait_for_broker(
        aiokafka_driver.server_list(transport.url, transport.default_port),
        timeout_s,
        **aiokafka_driver.credentials_to_aiokafka_auth(conf.broker_credentials, conf.ssl_context),
    )


class ConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    async def on_start(self) -> None:
        await _wait_for_broker_of(self.app, self.transport)
        await super().on_start()


class Consumer(GuardedConsumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Producer(aiokafka_driver.Producer):
    async def on_start(self) -> None:
        await _wait_for_broker_of(self.app, self.transport)
        await super().on_start()


class Transport(aiokafka_driver.Transport):
    Consumer: ClassVar[type[Consumer]] = Consumer
    Producer: ClassVar[type[Producer]] = Producer
