"""The REST API: Django REST framework, token authentication, an OpenAPI 3 schema (drf-spectacular).

Alerts take the same keys as a config file's alerts: and pass the same checks
(alerts/config/schema.py), answered as 400s with field errors.
"""
