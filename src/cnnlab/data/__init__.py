"""cnnlab.data."""
