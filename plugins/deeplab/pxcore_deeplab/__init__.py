"""DeepLabv3+ (ASPP encoder and decoder) on MobileNetV2, Xception and MobileNetV3 for pxcore."""
