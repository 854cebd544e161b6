"""torchimage.distributed with real processes: 2 and 3 ranks of a Gloo group
(torch.distributed.init_process_group over a FileStore in tmp_path), each
a separate Python process started by the test with a bounded wait.

What is checked, against independent truth:
  - the sheet root writes is byte-identical to one process's
    torchimage.save_image of the concatenation of every rank's samples, and
    its pixels equal torchvision.utils.save_image's of the concatenation;
  - gather_batch gives root the concatenation in rank order, None elsewhere;
  - save_images writes every global index exactly once, each file with the
    pixels of torchvision's save_image of that sample;
  - a shape mismatch, or options one rank refuses, raises on every rank
    naming the offending rank (no rank is left waiting).

Needs torch >= 2.2 (c10d's registry of groups by name, through which the
operators find Python's group). On Debian's torch 1.13 the multi-process
path is covered by the C++ test tests/test_distributed.cpp instead; here it
only checks that the operators say why they refuse.

Run as a script, this file is one rank (the worker the tests start).
"""
import json
import os
import subprocess
import sys

import time
from typing import Optional

import torch
import torch.distributed

TORCH_VERSION = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
HAS_DIST = torch.distributed.is_available()
HAS_REGISTRY = TORCH_VERSION >= (2, 2)

# Each rank's wait: the group's timeout for a collective, and the test's for
# a whole process (interpreter start, imports, the work) before it is killed.
GROUP_TIMEOUT_S = 60
PROCESS_TIMEOUT_S = 180

C, H, W = 3, 10, 12


def samples(total, seed=0):
    """The global batch, in [-1, 1]: every rank and the test make it alike."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(total, C, H, W, generator=g, dtype=torch.float64).float() * 2 - 1


def local_part(counts, rank, seed=0):
    start = sum(counts[:rank])
    return samples(sum(counts), seed)[start:start + counts[rank]]


# The keywords every sheet is written with (save_image's, torchvision's names).
SHEET_KWARGS = dict(nrow=4, padding=1, normalize=True, value_range=(-1.0, 1.0), pad_value=0.5)


# ---------------------------------------------------------------------------
# The worker: one rank


def worker(spec_path, rank):
    from datetime import timedelta

    import torch.distributed as dist

    import torchimage.distributed as tid

    with open(spec_path) as f:
        spec = json.load(f)
    world = len(spec["counts"])
    dist.init_process_group("gloo", init_method="file://" + spec["store"], rank=rank,
                            world_size=world, timeout=timedelta(seconds=GROUP_TIMEOUT_S))
    local = local_part(spec["counts"], rank)
    out = spec["out"]
    result = {"rank": rank, "steps": {}}
    for step in spec["steps"]:
        kind = step["kind"]
        try:
            if kind == "sheet":
                tid.save_image(local, os.path.join(out, step["file"]), root=step["root"],
                               **SHEET_KWARGS)
            elif kind == "gather":
                all_samples = tid.gather_batch(local, root=step["root"])
                if all_samples is None:
                    result["steps"]["gather_none"] = True
                else:
                    torch.save(all_samples, os.path.join(out, "gathered.pt"))
            elif kind == "images":
                tid.save_images(local, os.path.join(out, "each", "{index:03}.png"),
                                start_index=step["start_index"], create_directories=True,
                                normalize=True, value_range=(-1.0, 1.0))
            elif kind == "subgroup":
                # Ranks 1 ... world-1 (every rank makes the group, as new_group
                # asks); root 0 of the group is global rank 1.
                sub = dist.new_group(list(range(1, world)))
                if rank >= 1:
                    tid.save_image(local, os.path.join(out, "sub.png"), group=sub,
                                   **SHEET_KWARGS)
            elif kind == "mismatch":
                bad = local
                if rank == step["rank"]:
                    bad = torch.zeros(local.shape[0], C, H + 1, W)
                tid.save_image(bad, os.path.join(out, "mismatch.png"))
            elif kind == "bad_format":
                fmt = "no-such-format" if rank == step["rank"] else "png"
                tid.save_images(local, os.path.join(out, "bad", "{index}.png"), format=fmt,
                                create_directories=True)
            elif kind == "old_torch":
                tid.gather_batch(local)
            else:
                raise ValueError(kind)
            result["steps"][kind] = "ok"
        except Exception as e:  # what the test checks, on every rank
            result["steps"][kind] = f"{type(e).__name__}: {e}"
    dist.destroy_process_group()
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    worker(sys.argv[1], int(sys.argv[2]))
    sys.exit(0)


# ---------------------------------------------------------------------------
# The tests

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

import torchimage as ti  # noqa: E402

try:
    import torchvision.utils as tv
except ImportError:  # the one-process torchimage result stays the reference
    tv = None

needs_dist = pytest.mark.skipif(not HAS_DIST, reason="torch.distributed is not available in "
                                "this torch build")
needs_registry = pytest.mark.skipif(
    not HAS_REGISTRY,
    reason=f"torch {torch.__version__} < 2.2 has no c10d registry of groups by name, through "
    "which torchimage's operators find a Python group; LibTorch 1.13's multi-process path is "
    "tested by tests/test_distributed.cpp")


def run_ranks(tmp_path, counts, steps, name="run"):
    """Starts one process per rank, waits for all within PROCESS_TIMEOUT_S
    (killing them all past it: a hang fails the test), and returns each
    rank's results."""
    out = tmp_path / name
    out.mkdir()
    spec = {"counts": list(counts), "steps": steps, "out": str(out),
            "store": str(tmp_path / f"{name}.store")}
    spec_path = tmp_path / f"{name}.json"
    spec_path.write_text(json.dumps(spec))
    env = dict(os.environ)
    # The package the test imports (a build tree's, or the installed one).
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(ti.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(
        [package_parent] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # 127.0.0.1, whatever the host name resolves to
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), str(spec_path), str(r)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for r in range(len(counts))]
    logs = [b""] * len(procs)
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    try:
        for r, p in enumerate(procs):
            logs[r] = p.communicate(timeout=max(1.0, deadline - time.monotonic()))[0]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        for r, p in enumerate(procs):
            logs[r] += p.communicate()[0]
        pytest.fail(f"ranks {counts} did not finish within {PROCESS_TIMEOUT_S} s:\n" +
                    "\n".join(f"rank {r}: {log.decode(errors='replace')}"
                              for r, log in enumerate(logs)))
    results = []
    for r, p in enumerate(procs):
        assert p.returncode == 0, f"rank {r} exited {p.returncode}:\n{logs[r].decode(errors='replace')}"
        with open(out / f"rank{r}.json") as f:
            results.append(json.load(f))
    return out, results


def pixels(path):
    return np.asarray(Image.open(path))


def reference_sheet(batch, tmp_path, name):
    """One process's torchimage file of `batch`, and torchvision's pixels of it."""
    ref = tmp_path / f"{name}-torchimage.png"
    ti.save_image(batch, ref, **SHEET_KWARGS)
    tv_pixels = None
    if tv is not None:
        tv_path = tmp_path / f"{name}-torchvision.png"
        tv.save_image(batch, str(tv_path), **SHEET_KWARGS)
        tv_pixels = pixels(tv_path)
    return ref.read_bytes(), tv_pixels


CASES = [
    pytest.param((5, 7), 0, 0, id="2-ranks-5-7"),
    pytest.param((0, 3), 1, 10, id="2-ranks-0-3-root-1"),
    pytest.param((6, 0, 9), 0, 0, id="3-ranks-6-0-9"),
    pytest.param((1, 4, 2), 2, 100, id="3-ranks-1-4-2-root-2"),
]


@needs_dist
@needs_registry
@pytest.mark.parametrize("counts, root, start_index", CASES)
def test_sheet_gather_and_images(tmp_path, counts, root, start_index):
    steps = [{"kind": "sheet", "file": "sheet.png", "root": root},
             {"kind": "sheet", "file": "sheet.bmp", "root": root},  # Pillow's: gathered
             {"kind": "gather", "root": root},
             {"kind": "images", "start_index": start_index},
             {"kind": "subgroup"}]
    out, results = run_ranks(tmp_path, counts, steps)
    for r, res in enumerate(results):
        for step, verdict in res["steps"].items():
            assert verdict in ("ok", True), f"rank {r}, {step}: {verdict}"
        assert res["steps"].get("gather_none", False) == (r != root), f"rank {r}"
    full = samples(sum(counts))

    # The sheet: written once, by root; the one-process bytes; torchvision's pixels.
    ref_bytes, tv_pixels = reference_sheet(full, tmp_path, "ref")
    sheet = out / "sheet.png"
    assert sheet.read_bytes() == ref_bytes
    if tv_pixels is not None:
        np.testing.assert_array_equal(pixels(sheet), tv_pixels)
    ref_bmp = tmp_path / "ref.bmp"
    ti.save_image(full, ref_bmp, **SHEET_KWARGS)
    assert (out / "sheet.bmp").read_bytes() == ref_bmp.read_bytes()

    # group=: a group of ranks 1 ... world-1, its rank 0 (global 1) writes.
    sub_ref, _ = reference_sheet(full[counts[0]:], tmp_path, "sub")
    assert (out / "sub.png").read_bytes() == sub_ref

    # gather_batch: the concatenation in rank order, on root.
    assert torch.equal(torch.load(out / "gathered.pt"), full)

    # save_images: every global index once, each with its sample's pixels.
    names = sorted(os.listdir(out / "each"))
    assert names == [f"{i:03}.png" for i in range(start_index, start_index + sum(counts))]
    for i, name in enumerate(names):
        got = pixels(out / "each" / name)
        if tv is not None:
            expected = tmp_path / "tv-sample.png"
            tv.save_image(full[i], str(expected), normalize=True, value_range=(-1.0, 1.0))
            np.testing.assert_array_equal(got, pixels(expected), err_msg=name)
        np.testing.assert_array_equal(
            got, ti.to_pixels(full[i], normalize=True, value_range=(-1.0, 1.0)).numpy().squeeze(),
            err_msg=name)


@needs_dist
@needs_registry
@pytest.mark.parametrize("counts", [(2, 3), (2, 0, 1)], ids=["2-ranks", "3-ranks"])
def test_errors_raise_on_every_rank(tmp_path, counts):
    bad_rank = len(counts) - 1
    steps = [{"kind": "mismatch", "rank": bad_rank}, {"kind": "bad_format", "rank": 0},
             {"kind": "sheet", "file": "after.png", "root": 0}]
    out, results = run_ranks(tmp_path, counts, steps)
    for r, res in enumerate(results):
        mismatch = res["steps"]["mismatch"]
        assert mismatch.startswith("RuntimeError"), f"rank {r}: {mismatch}"
        assert f"rank {bad_rank}: ({counts[bad_rank]}, {C}, {H + 1}, {W})" in mismatch, mismatch
        bad = res["steps"]["bad_format"]
        assert bad != "ok", f"rank {r}"
        if r == 0:
            assert "no-such-format" in bad, bad
        else:
            assert "rank 0 refused" in bad, bad
        # The group is still usable after the errors: nobody was left behind.
        assert res["steps"]["sheet"] == "ok", f"rank {r}: {res['steps']['sheet']}"
    assert not (out / "mismatch.png").exists()
    assert not (out / "bad").exists() or not os.listdir(out / "bad")
    ref_bytes, _ = reference_sheet(samples(sum(counts)), tmp_path, "after")
    assert (out / "after.png").read_bytes() == ref_bytes


@needs_dist
@needs_registry
def test_unknown_group_name_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no process group is registered under the name "
                       "'no-such-group'"):
        torch.ops.torchimage.distributed_gather_batch("no-such-group", samples(1), 0)


@needs_dist
@pytest.mark.skipif(HAS_REGISTRY, reason=f"torch {torch.__version__} has c10d's registry of "
                    "groups: test_sheet_gather_and_images covers it")
def test_old_torch_says_it_needs_2_2(tmp_path):
    _, results = run_ranks(tmp_path, (1,), [{"kind": "old_torch"}])
    verdict = results[0]["steps"]["old_torch"]
    assert verdict.startswith("RuntimeError") and "needs torch >= 2.2" in verdict, verdict


def test_the_operators_exist_and_script():
    # On every torch, distributed or not: TorchScript code may name them.
    for name in ("distributed_gather_batch", "distributed_save_image", "distributed_save_images"):
        assert hasattr(torch.ops.torchimage, name)

    def log(group_name: str, x: torch.Tensor, step: int) -> Optional[torch.Tensor]:
        torch.ops.torchimage.distributed_save_image(group_name, x, f"sheet_{step}.png",
                                                    normalize=True, root=0)
        torch.ops.torchimage.distributed_save_images(group_name, x, "fid/{index:05}.png",
                                                     start_index=step)
        return torch.ops.torchimage.distributed_gather_batch(group_name, x, 0)

    graph = str(torch.jit.script(log).graph)
    for name in ("distributed_save_image", "distributed_save_images", "distributed_gather_batch"):
        assert f"torchimage::{name}" in graph
