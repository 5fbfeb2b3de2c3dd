"""Destinations the replay engine can send a run to."""

from syncer.sinks.base import Rejection, ResumeFrom, RunIdentity, Sink
from syncer.sinks.mlflow.sink import MlflowSink, sink_name_for

__all__ = ["MlflowSink", "Rejection", "ResumeFrom", "RunIdentity", "Sink", "sink_name_for"]
