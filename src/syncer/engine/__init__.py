"""Reading a run directory and replaying it into a `Sink`, exactly once (map: `syncer`)."""
