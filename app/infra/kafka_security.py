"""The one place that turns the Kafka settings (VIGIL_KAFKA_*) into client
options: every aiokafka client in Vigil is built with `**aiokafka_options(settings)`
(bootstrap servers, security protocol, TLS context, SASL mechanism and
credentials), and the worker's Faust app with `faust_credentials(settings)`.
tests/infra/test_kafka_security.py walks app/ and agents/ so that no client
is built without them. The settings were checked at start
(`app.infra.settings.kafka_security_problems`).
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from aiokafka.helpers import create_ssl_context

from app.infra.settings import Settings

if TYPE_CHECKING:
    import faust


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL (hostname checked; the system's CAs
    when VIGIL_KAFKA_CA is empty), or None for the plaintext protocols."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka_ca or None,
        certfile=settings.kafka_cert or None,
        keyfile=settings.kafka_key or None,
    )
    return context


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer, AIOKafkaAdminClient and AIOKafkaClient."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"bootstrap_servers": settings.bootstrap, "security_protocol": protocol}
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if protocol.startswith("SASL_"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_password
    return options


def faust_credentials(settings: Settings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """The worker's `broker_credentials`; None for PLAINTEXT."""
    import faust  # here: the commands that only use aiokafka need not load Faust

    protocol = settings.kafka_security_protocol
    context = ssl_context(settings)
    if protocol.startswith("SASL_"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_password,
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
