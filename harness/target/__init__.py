"""Targets: where the service under test runs (cgroup, docker, process, remote)."""
