"""Destinations the replay engine can send a run to.

`syncer.sinks.base` holds the protocols the engine programs against (`Sink`,
`Destination`, `Rejection`) and the name a sink's ``sync/`` files get
(`sink_file_name`). Each server product is a subpackage
(`syncer.sinks.mlflow`), imported only by the `runwal` commands that talk to
that product (`syncer.cli`: ``sync``, ``syncd``, ``follow``, ``ui``, ...),
never by the engine, the daemon, the follower or `syncer.inspect`: they get
a `Destination` and never load an HTTP client. A sink in turn imports no
engine module: only `syncer.sinks.base`, `syncer.errors`, `syncer.runfiles`,
`syncer.histogram` and `schema`.
"""
