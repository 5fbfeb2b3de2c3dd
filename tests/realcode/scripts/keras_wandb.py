"""A Keras 3 script written for wandb's examples (torch backend here: no TensorFlow):
WandbMetricsLogger, WandbModelCheckpoint and the legacy wandb.keras.WandbCallback."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import wandb
from wandb.integration.keras import WandbMetricsLogger, WandbModelCheckpoint
from wandb.keras import WandbCallback

wandb.init(project="keras-wandb", config={"epochs": 2})
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
rng = np.random.default_rng(0)
x = rng.standard_normal((16, 4)).astype("float32")
y = rng.standard_normal((16, 1)).astype("float32")
model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0,
          callbacks=[WandbMetricsLogger(log_freq="epoch"),
                     WandbModelCheckpoint("ckpt-{epoch:02d}.keras"),
                     WandbCallback(save_model=True)])
wandb.finish()
