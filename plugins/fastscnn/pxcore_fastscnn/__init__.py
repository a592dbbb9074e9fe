"""Fast-SCNN for pxcore."""
