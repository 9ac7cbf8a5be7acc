"""Intercom API routes, one module per resource."""
