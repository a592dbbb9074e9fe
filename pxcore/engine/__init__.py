"""Training machinery every task reuses: optimizer and schedule, the training loop,
checkpoints, progress and curves."""
