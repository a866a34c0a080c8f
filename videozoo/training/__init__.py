"""Pieces for fine-tuning in your own loop: parameter groups, schedules, losses."""
from .losses import classification_loss, multilabel_loss
from .param_groups import param_groups
from .schedules import lr_lambda, lr_scheduler

__all__ = ["classification_loss", "lr_lambda", "lr_scheduler", "multilabel_loss", "param_groups"]
