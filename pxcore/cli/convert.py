"""``px convert --from labelme --to voc|coco|seg SRC DST``: what LabelMe users drew, in a
format pxcore trains on; ``px split-dataset`` then writes the train/val lists."""

from __future__ import annotations


def add_parser(sub, name):
    p = sub.add_parser(name, help="convert annotations (LabelMe) to VOC, COCO or segmentation masks")
    p.add_argument("src", help="a folder of LabelMe *.json files with their images")
    p.add_argument("dst", help="the output folder (created)")
    p.add_argument("--from", dest="source", choices=["labelme"], required=True)
    p.add_argument("--to", dest="target", choices=["voc", "coco", "seg"], required=True)
    return p


def run(args) -> int:
    from ..datasets.convert import convert_labelme

    dst = convert_labelme(args.src, args.dst, args.target)
    print(f"wrote {args.target} data to {dst}; next: px split-dataset --format {args.target} {dst}")
    return 0
