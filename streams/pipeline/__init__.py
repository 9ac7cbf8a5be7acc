"""Faust wiring: the app, its topics and tables, the transform and sink agents. Nothing else imports Faust."""
