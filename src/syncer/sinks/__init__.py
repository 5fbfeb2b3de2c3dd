"""Destinations the replay engine can send a run to.

`syncer.sinks.base` holds the protocols the engine programs against (`Sink`,
`Destination`, `Rejection`); each server product is a subpackage
(`syncer.sinks.mlflow`), imported only by the code that picks it, so the
engine never loads an HTTP client.
"""
