"""What the API and the web UI share, so neither imports the other: the request's session and
other dependencies (``deps.py``), the one permission guard (``guards.py``), path and query
parameters (``params.py``), the error kind → status table (``status.py``) and the rate limiter
(``ratelimit.py``)."""
