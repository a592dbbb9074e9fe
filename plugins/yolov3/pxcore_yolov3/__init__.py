"""YOLOv3 and PP-YOLO for pxcore: see README.md."""
