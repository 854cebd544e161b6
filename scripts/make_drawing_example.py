#!/usr/bin/python3
"""Writes docs/drawing_example.png, the README's picture of issue 24's
functions, with torchimage alone: boxes with labels and masks on a photo
(tests/data/photos/chelsea.png), keypoints joined by lines, a flow field
(flow_to_image), four depth-like maps given as (B, H, W, C) through
dataformats="NHWC" and colormap="viridis", and a label map of class ids in the
Pascal VOC palette (palette="voc"); each tile captioned (captions=).

    PYTHONPATH=build/python /usr/bin/python3 scripts/make_drawing_example.py
"""
import os

import torch
import torch.nn.functional as F

import torchimage

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
H, W = 200, 300


def main():
    photo = torchimage.read_image(os.path.join(ROOT, "tests", "data", "photos", "chelsea.png"))
    photo = F.interpolate(photo[None].float(), size=(H, W), mode="bilinear",
                          align_corners=False)[0].round().clamp(0, 255).to(torch.uint8)
    boxes = torch.tensor([[95.0, 20.0, 250.0, 190.0], [10.0, 120.0, 90.0, 195.0]])
    boxed = torchimage.draw_bounding_boxes(photo, boxes, labels=["cat", "sofa"],
                                           colors=["#ff3030", "yellow"], width=3)
    yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    masks = torch.stack([((xx - 170) ** 2 / 60 ** 2 + (yy - 95) ** 2 / 70 ** 2) < 1,
                         (yy > 150) & (xx < 80)])
    drawn = torchimage.draw_segmentation_masks(boxed, masks, alpha=0.35,
                                               colors=["#3070ff", "orange"])

    keypoints = torch.tensor([[[130.0, 60.0], [210.0, 60.0], [170.0, 110.0], [150.0, 150.0],
                               [190.0, 150.0]]])
    skeleton = [(0, 2), (1, 2), (2, 3), (2, 4)]
    points = torchimage.draw_keypoints(photo, keypoints, connectivity=skeleton, colors="red",
                                       radius=5, width=3)

    u = (xx - W / 2) / W
    v = (yy - H / 2) / H
    flow = torchimage.flow_to_image(torch.stack([-v, u]).float())  # a vortex

    maps = torch.stack([torch.sin(xx / (12.0 + 6 * k)) * torch.cos(yy / (9.0 + 5 * k))
                        for k in range(4)])[..., None]  # (B, H, W, 1)
    colored = torchimage.make_grid(maps, nrow=2, padding=0, normalize=True, scale_each=True,
                                   dataformats="NHWC", colormap="viridis")
    colored = (F.interpolate(colored[None], size=(H, W), mode="nearest")[0] * 255).round()

    classes = (((xx // 50) + (yy // 50) * 3) % 20 + 1) * ((xx + yy) % 100 > 15)
    labels = torchimage.make_grid(classes, palette="voc").float()  # the VOC colours, uint8

    tiles = [drawn.float(), points.float(), flow.float(), colored, labels,
             torch.full((3, H, W), 255.0)]
    torchimage.save_image(torch.stack(tiles) / 255, os.path.join(ROOT, "docs", "drawing_example.png"),
                          nrow=3, padding=4, pad_value=1.0, caption_size=14,
                          captions=["bounding boxes, labels, masks",
                                    "draw_keypoints", "flow_to_image", "NHWC maps, viridis",
                                    "label map, VOC palette", ""])


if __name__ == "__main__":
    main()
