"""cnnlab.web."""
