"""Workspace-wide state shared by every worker: the workspace topic, its state, and its users."""
