"""The docker backend's image: built from the target's Dockerfile, tagged by a hash of what
the build reads (the context files .dockerignore lets through, the Dockerfile, the base
image's id), so an unchanged service is never rebuilt and a changed one always is.

`python -m harness.target.docker_image` builds the default target's image (scripts/
docker_setup.sh runs it so the first `--backend docker` run starts at once)."""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.target.base import TargetError
from harness.target.docker_engine import docker_answers
from harness.target.spec import TargetSpec

LOCAL_BASE_IMAGE = "leak-harness/bookworm-python:3.11"  # made by scripts/docker_setup.sh
BASE_IMAGE_ENV = "LEAK_HARNESS_DOCKER_BASE_IMAGE"
HASH_LABEL = "leak-harness.content-hash"
SETUP_HINT = "scripts/docker_setup.sh builds the wheels and the local base image it needs"
#: a build arg naming a Python package the image must have for a profiled run (memray)
PROFILER_ARG = "PROFILER"


def _dockerignore(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def base_image_arg(client: Any, dockerfile: Path, environ: dict[str, str]) -> dict[str, str]:
    """BASE_IMAGE for a Dockerfile that declares it: $LEAK_HARNESS_DOCKER_BASE_IMAGE, else the
    locally built Debian base when it exists (nothing can be pulled on such machines), else the
    Dockerfile's own default."""
    if not re.search(r"^\s*ARG\s+BASE_IMAGE\b", dockerfile.read_text(encoding="utf-8"), re.M):
        return {}
    chosen = environ.get(BASE_IMAGE_ENV)
    if not chosen and _image_id(client, LOCAL_BASE_IMAGE):
        chosen = LOCAL_BASE_IMAGE
    return {"BASE_IMAGE": chosen} if chosen else {}


def _image_id(client: Any, name: str) -> str | None:
    from docker.errors import DockerException

    try:
        image_id: str = client.images.get(name).id
    except DockerException:
        return None
    return image_id


def content_hash(context: Path, dockerfile: Path, build_args: dict[str, str], base: str) -> str:
    """sha256 over every file the build context sends, the Dockerfile and the build args."""
    from docker.utils.build import exclude_paths

    digest = hashlib.sha256()
    relative = str(dockerfile.relative_to(context)) if dockerfile.is_relative_to(context) else None
    for name in sorted(exclude_paths(str(context), _dockerignore(context), relative)):
        path = context / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    digest.update(dockerfile.read_bytes())
    digest.update(repr(sorted(build_args.items())).encode() + base.encode())
    return digest.hexdigest()[:16]


def ensure_image(client: Any, spec: TargetSpec, log: Callable[[str], None]) -> str:
    """The image to run: `spec.image` as given, or the Dockerfile's, built unless a build of the
    same content exists; with a profiler asked for, one that has it. Build output goes to
    `log`; a failure says what to do."""
    tag = _given_or_built(client, spec, log)
    profiler = spec.build_args.get(PROFILER_ARG)
    if profiler:
        _require_module(client, tag, profiler, spec)
    return tag


def _require_module(client: Any, image: str, module: str, spec: TargetSpec) -> None:
    """The image's python can import `module`, else a TargetError that says how to get it."""
    from docker.errors import ContainerError, DockerException

    try:
        client.containers.run(
            image,
            entrypoint=["python", "-c", f"import {module}"],
            command=[],
            network_mode="none",
            remove=True,
            stdout=False,
            stderr=True,
        )
    except ContainerError:
        how = (
            f"the Dockerfile installs it when it declares `ARG {PROFILER_ARG}` "
            "(see resume_api/Dockerfile)"
            if not spec.image
            else f"install {module} into the image"
        )
        raise TargetError(f"image {image} has no {module} for the profiled run: {how}") from None
    except DockerException as exc:
        raise TargetError(f"could not check for {module} in {image}: {exc}") from exc


def _given_or_built(client: Any, spec: TargetSpec, log: Callable[[str], None]) -> str:
    from docker.errors import APIError, DockerException

    if spec.image:
        if _image_id(client, spec.image) is None:
            raise TargetError(f"image {spec.image!r} is not on this engine: pull or build it first")
        return spec.image
    dockerfile, context = spec.dockerfile.resolve(), spec.docker_context.resolve()
    if not dockerfile.is_file():
        raise TargetError(f"no Dockerfile at {dockerfile} (set [target] dockerfile or image)")
    build_args = {**base_image_arg(client, dockerfile, dict(os.environ)), **spec.build_args}
    base = _image_id(client, build_args.get("BASE_IMAGE", "")) or ""
    name = re.sub(r"[^a-z0-9._-]+", "-", spec.name.lower()).strip("-.") or "target"
    tag = f"leak-harness/{name}:{content_hash(context, dockerfile, build_args, base)}"
    if _image_id(client, tag):
        log(f"image {tag} (unchanged: reused)")
        return tag
    log(f"building {tag} from {dockerfile} (context {context}, args {build_args})")
    relative = str(dockerfile.relative_to(context)) if dockerfile.is_relative_to(context) else None
    hint = SETUP_HINT if dockerfile == TargetSpec().dockerfile else "its output is in target.log"
    try:
        stream = client.api.build(
            path=str(context),
            dockerfile=relative or str(dockerfile),
            tag=tag,
            buildargs=build_args,
            labels={HASH_LABEL: tag.rsplit(":", 1)[1]},
            rm=True,
            forcerm=True,
            pull=False,
            network_mode="none",  # the build must not need the network: wheels come with it
            decode=True,
        )
        for chunk in stream:
            if "error" in chunk:
                error = str(chunk["error"]).strip()
                raise TargetError(f"docker build of {dockerfile} failed: {error}\n({hint})")
            text = str(chunk.get("stream") or chunk.get("status") or "").rstrip()
            if text:
                log(text)
    except (APIError, DockerException) as exc:
        raise TargetError(f"docker build of {dockerfile} failed: {exc}\n({hint})") from exc
    return tag


def main() -> int:
    """Build (or find) the default target's image and print its tag."""
    why_not = docker_answers()
    if why_not is not None:
        print(f"docker_image: {why_not}", file=sys.stderr)
        return 3
    import docker

    client = docker.from_env(timeout=900)
    try:
        tag = ensure_image(client, TargetSpec(), lambda line: print(line, file=sys.stderr))
    except TargetError as exc:
        print(f"docker_image: {exc}", file=sys.stderr)
        return 3
    finally:
        client.close()
    print(tag)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
