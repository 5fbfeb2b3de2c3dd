"""``wandb.integration``: the framework integrations scripts import from wandb, mapped
onto runwal's (logwriter/integrations). Only the Keras ones are here: Lightning,
transformers and accelerate import wandb themselves and work through the shim."""
