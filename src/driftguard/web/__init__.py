"""The server-rendered web UI: an entry point beside ``api/`` and ``cli/``.

Pages call the same services as the API (never SQL), declare a permission like API routes, and
render Jinja2 templates with autoescaping on. Charts are inline SVG drawn on the server from
``charts.py``; the stylesheet is our own and there is no JavaScript, so the Content-Security-Policy
forbids scripts altogether.
"""
