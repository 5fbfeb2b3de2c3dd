"""Reading a run for people: what ``ls``, ``show``, ``verify``, ``dump`` and ``export`` compute.

No click and no server here (the text layout is `syncer.cli.text`); the seqs
a piece of damage lost are counted once, by `schema.events`.
"""
