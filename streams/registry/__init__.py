"""Confluent Schema Registry wire format: records written by Confluent's serializers (and every client
that speaks their format) decoded into the same event dict the JSON path produces."""
