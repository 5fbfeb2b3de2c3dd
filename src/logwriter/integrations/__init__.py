"""Framework integrations: one small module per framework, imported only by name.

* ``logwriter.integrations.lightning``: ``RunwalLogger``, a Lightning
  ``Logger`` (hyper-parameters, metrics at the trainer's step, checkpoints
  as run files with ``log_model``; rank 0 logs).
* ``logwriter.integrations.accelerate``: ``RunwalTracker``, an accelerate
  ``GeneralTracker`` for ``Accelerator(log_with=RunwalTracker(...))``.
* ``logwriter.integrations.transformers``: ``RunwalCallback``, a
  transformers ``TrainerCallback``.
* ``logwriter.integrations.keras``: ``RunwalCallback``, a Keras 3 ``Callback``.
* ``logwriter.integrations.torchwatch``: ``run.watch(model)``'s torch hooks:
  histograms and norms of gradients and parameters.

This package imports nothing: ``import logwriter`` must never pull in torch
or a training framework. Each module imports its framework at its own import,
so a missing framework is an ImportError naming the extra to install
(``pip install runwal[lightning]`` and so on).
"""
