"""Network architectures: configs, named variants and modules. Imports torch and einops only."""
