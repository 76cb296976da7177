"""Business logic; routes call these functions (keyword-only arguments) and nothing else."""
