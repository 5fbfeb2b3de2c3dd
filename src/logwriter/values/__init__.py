"""What log(), config and summary accept, checked and converted in the caller's thread.

* ``convert.py``: validate and convert user values (numpy/torch scalars,
  nested dicts flattened with "/", steps), raising TypeError/ValueError that
  name the key.
* ``config.py``: ``Config``, ``run.config``, a dict-like view emitting CONFIG
  deltas.
* ``summary.py``: ``Summary``, ``run.summary``, the final value per key and
  define_metric's summaries, emitting SUMMARY deltas.
* ``text.py``: strings msgpack can pack: lone surrogates escaped (``\\xe9``).
"""
