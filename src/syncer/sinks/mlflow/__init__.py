"""The MLflow destination; the only place the syncer speaks HTTP (map: `syncer`)."""
