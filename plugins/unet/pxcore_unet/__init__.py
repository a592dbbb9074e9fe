"""UNet for pxcore."""
