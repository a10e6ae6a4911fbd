"""Whether a Docker engine answers: asked by the backend choice (`auto`), the image builder's
command line and `doctor`, below all of them."""

from __future__ import annotations


def docker_answers() -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        import docker
    except ImportError:
        return "the docker SDK is not installed (pip install docker)"
    try:
        client = docker.from_env(timeout=5)
        client.ping()
        client.close()
    except Exception as exc:  # the SDK raises many kinds; all mean "not usable"
        return f"no Docker engine answers ({type(exc).__name__}: {str(exc)[:120]})"
    return None
