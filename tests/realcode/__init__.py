"""Real training code styles under ``runwal run``: each test runs one script from
scripts/ (unchanged ``import wandb`` code, as its style is written in the wild) in
a child process and asserts what landed in the run directory, and for two of
them on the MLflow server after ``runwal sync``."""
