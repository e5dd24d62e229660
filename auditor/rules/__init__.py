"""Every rule, one module per step. Importing this package registers them all."""

from auditor.rules import data_model, infrastructure, logs, staging, validation  # noqa: F401
