"""``runwal syncd``: watch a directory of runs, schedule passes, run them (map: `syncer`)."""
