"""Serving the app: process control, nginx in front of replicas (make serve), container files."""
