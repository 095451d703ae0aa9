"""cnnlab.models."""
