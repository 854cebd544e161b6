#!/usr/bin/env python3
"""Builds and runs the examples of README.md, as written (ctest -R readme_).

    check_readme.py README.md --lang cpp --build BUILD_DIR
    check_readme.py README.md --lang python --python PYTHON
    check_readme.py README.md --lang bash --python PYTHON --cli TORCHIMAGE_CLI

Which fenced blocks run is said by their tag:

  ```cpp     a complete program. Each is built alone, as app.cpp of a project
             whose CMakeLists.txt is the README's one ```cmake block, against
             BUILD_DIR installed into a temporary prefix (tests/consumer/run.sh,
             the consumer tests' machinery), then run.
  ```python  run by PYTHON (the package found through the PYTHONPATH ctest
             sets: the build tree's).
  ```bash    run by bash -euo pipefail, with `python3` being PYTHON and
             `torchimage` the built CLI on the PATH.
  anything else (```sh, ```text, ```cmake) is not run: commands that install
  things or need a particular machine.

Every block runs in an empty working directory of its own and must exit 0.
A README with no block of the language asked for fails too (a mistyped tag
must not turn the test into a no-op).
"""

import argparse
import os
import shutil
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CONSUMER_RUN = os.path.join(HERE, "..", "consumer", "run.sh")


def fenced_blocks(path):
    """(tag, first line number, text) of every fenced block of a Markdown file."""
    blocks = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith("```"):
            indent = len(line) - len(stripped)
            fence = stripped[: len(stripped) - len(stripped.lstrip("`"))]
            info = stripped[len(fence):].strip()
            tag = info.split()[0] if info else ""
            body = []
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(fence):
                # An indented fence (inside a list) indents its content too.
                body.append(lines[j][indent:] if lines[j][:indent].isspace() else lines[j])
                j += 1
            if j == len(lines):
                sys.exit(f"{path}:{i + 1}: a fence that is never closed")
            blocks.append((tag, i + 2, "\n".join(body) + "\n"))
            i = j + 1
        else:
            i += 1
    return blocks


def run(cmd, cwd, env=None):
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    return proc.returncode, proc.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("readme")
    parser.add_argument("--lang", required=True, choices=["cpp", "python", "bash"])
    parser.add_argument("--build", help="the build folder (cpp)")
    parser.add_argument("--python", help="the interpreter (python, bash)")
    parser.add_argument("--cli", help="the built torchimage executable (bash)")
    args = parser.parse_args()

    blocks = fenced_blocks(args.readme)
    chosen = [(line, text) for tag, line, text in blocks if tag == args.lang]
    if not chosen:
        sys.exit(f"{args.readme}: no ```{args.lang} block")
    cmake_blocks = [text for tag, _, text in blocks if tag == "cmake"]
    if args.lang == "cpp" and len(cmake_blocks) != 1:
        sys.exit(f"{args.readme}: expected one ```cmake block (the project the C++ examples "
                 f"are built with), found {len(cmake_blocks)}")

    failures = 0
    work = tempfile.mkdtemp(prefix="torchimage-readme-")
    try:
        if args.lang == "bash":
            bindir = os.path.join(work, "bin")
            os.mkdir(bindir)
            # A wrapper rather than a link: a venv's python must be invoked by its own path.
            wrapper = os.path.join(bindir, "python3")
            with open(wrapper, "w") as f:
                f.write(f'#!/bin/sh\nexec "{os.path.abspath(args.python)}" "$@"\n')
            os.chmod(wrapper, stat.S_IRWXU)
            os.symlink(os.path.abspath(args.cli), os.path.join(bindir, "torchimage"))
        for n, (line, text) in enumerate(chosen):
            where = f"{args.readme}:{line}"
            block_dir = os.path.join(work, f"block{n}")
            run_dir = os.path.join(block_dir, "run")
            os.makedirs(run_dir)
            if args.lang == "cpp":
                project = os.path.join(block_dir, "project")
                os.mkdir(project)
                with open(os.path.join(project, "CMakeLists.txt"), "w") as f:
                    f.write(cmake_blocks[0])
                with open(os.path.join(project, "app.cpp"), "w") as f:
                    f.write(text)
                rc, out = run(["bash", CONSUMER_RUN, "install", os.path.abspath(args.build),
                               project], cwd=run_dir)
            elif args.lang == "python":
                script = os.path.join(block_dir, "block.py")
                with open(script, "w") as f:
                    f.write(text)
                rc, out = run([args.python, script], cwd=run_dir)
            else:
                script = os.path.join(block_dir, "block.sh")
                with open(script, "w") as f:
                    f.write(text)
                env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
                rc, out = run(["bash", "-euo", "pipefail", script], cwd=run_dir, env=env)
            status = "ok" if rc == 0 else f"FAILED (exit {rc})"
            print(f"{where}: ```{args.lang} block: {status}")
            if rc != 0:
                failures += 1
                print("---- block ----\n" + text + "---- output ----\n" + out, end="")
                print("----")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(chosen) - failures} of {len(chosen)} ```{args.lang} blocks of "
          f"{args.readme} built and ran")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
