"""The model registry: registered models (owned by a team) and their versions."""
