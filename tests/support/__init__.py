"""Test fixtures shared by several test packages: generated documents and hostile inputs."""
