"""Benchmarks: speed measured side by side against plain PyTorch loops."""
