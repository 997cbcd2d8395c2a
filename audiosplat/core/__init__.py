"""The vocabulary every layer shares: the model's sizes (ModelConfig), user-facing errors, process settings."""
