"""How a random crop's padding is filled (torch-free, so that the settings can name the choices)."""

from __future__ import annotations

# "zeros": black pixels, as torchvision's RandomCrop; "reflect": the image mirrored at its border
# without repeating the edge row, as airbench pads its translations (so no black frame is learnt).
PAD_MODES = ("zeros", "reflect")
