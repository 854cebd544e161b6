"""One rank of check_python_cuda.py's NCCL check: RANK WORLD FOLDER.

Joins an NCCL group (a FileStore in FOLDER), takes its share (counts 6, or
2 and 4) of the same 6 CUDA samples check_python_cuda.py's batch(float32,
seed=11) makes, and writes FOLDER/sheet.png (rank 0) and FOLDER/each/NN.png
through torchimage.distributed. Exit 0 on success; the error on stdout
otherwise."""
import os
import sys

import torch
import torch.distributed as dist

import torchimage.distributed as tid

rank, world, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
torch.cuda.set_device(rank % torch.cuda.device_count())
dist.init_process_group("nccl", init_method="file://" + os.path.join(folder, "store"), rank=rank,
                        world_size=world)
g = torch.Generator().manual_seed(11)
full = (torch.rand(6, 3, 19, 23, generator=g, dtype=torch.float64) * 2.4 - 1.2).float().cuda()
counts = [6] if world == 1 else [2, 4]
start = sum(counts[:rank])
local = full[start:start + counts[rank]]
tid.save_image(local, os.path.join(folder, "sheet.png"), normalize=True, nrow=3)
tid.save_images(local, os.path.join(folder, "each", "{index:02}.png"), normalize=True,
                create_directories=True)
dist.barrier()
dist.destroy_process_group()
