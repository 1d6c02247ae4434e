"""Flower's settings file (`celery -A claims_tasks flower` reads ./flowerconfig.py by default).

Flower can revoke tasks and shut workers down, so it never runs open: it refuses to start unless
FLOWER_BASIC_AUTH (user:password, comma-separated for several) is set; Flower itself reads that and any
other FLOWER_* variable. Queue lengths need nothing here: Flower's Redis broker module takes priority_steps
and sep from celeryconfig.broker_transport_options, the same values the workers use.
"""

import os

if not os.environ.get("FLOWER_BASIC_AUTH", "").strip():
    raise SystemExit("flower: set FLOWER_BASIC_AUTH=user:password (Flower must not run without a login)")
