"""Diffusion for the WTSA model: schedule, DDIM sampling, training loss. Imports torch only."""

from deblur_cli.diffusion.ddim import SPACINGS, ddim_timesteps, sample_ddim
from deblur_cli.diffusion.loss import diffusion_loss
from deblur_cli.diffusion.sample import sample
from deblur_cli.diffusion.schedule import DiffusionConfig, Schedule

__all__ = ["SPACINGS", "DiffusionConfig", "Schedule", "ddim_timesteps", "diffusion_loss", "sample", "sample_ddim"]
