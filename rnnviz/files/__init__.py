"""Untrusted input and output: files users upload, and files the app writes for them."""
