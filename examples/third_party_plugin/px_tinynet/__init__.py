"""px-tinynet: an example third-party pxcore plugin."""

__version__ = "0.1.0"
